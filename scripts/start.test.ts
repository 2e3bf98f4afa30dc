import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { electronRuntime } from './start.mjs';

// node_modules/electron as npm and electron's install script leave it in each case (no binary runs).
let root: string;
const electronDir = () => path.join(root, 'node_modules/electron');
const installPackage = () => {
  mkdirSync(electronDir(), { recursive: true });
  writeFileSync(path.join(electronDir(), 'package.json'), '{"name":"electron","version":"39.5.0"}');
};
const unpackBinary = () => {
  writeFileSync(path.join(electronDir(), 'path.txt'), 'electron');
  mkdirSync(path.join(electronDir(), 'dist'));
  writeFileSync(path.join(electronDir(), 'dist/electron'), '');
};

beforeEach(() => (root = mkdtempSync(path.join(tmpdir(), 'start-'))));
afterEach(() => rmSync(root, { recursive: true, force: true }));

it('runs the binary electron unpacked', () => {
  installPackage();
  unpackBinary();
  expect(electronRuntime(root, {})).toEqual({ binary: path.join(electronDir(), 'dist/electron') });
});

it('says npm removed electron after its download failed, with the install that shows the failure', () => {
  expect(electronRuntime(root, {})).toEqual({
    missing: expect.stringMatching(/^Electron is not installed: .*optional dependency.*install script fails.*download/),
    fix: 'npm install --include=optional --foreground-scripts',
  });
});

it("says optional dependencies are omitted when npm's configuration omits them", () => {
  expect(electronRuntime(root, { npm_config_omit: 'dev optional' }).missing).toMatch(/your npm configuration omits those \(omit=optional\)/);
});

it("says electron's install script never ran, with the command that runs it", () => {
  installPackage();
  expect(electronRuntime(root, {})).toEqual({
    missing: expect.stringMatching(/install script did not run .*--ignore-scripts.*allowScripts/),
    fix: 'node node_modules/electron/install.js',
  });
});

it('says the binary is missing when the install script named one that is not there', () => {
  installPackage();
  unpackBinary();
  rmSync(path.join(electronDir(), 'dist/electron'));
  expect(electronRuntime(root, {})).toEqual({
    missing: expect.stringMatching(/binary .*dist\/electron is missing: its download was interrupted or the file was deleted/),
    fix: 'node node_modules/electron/install.js',
  });
});

it("declares electron's install script in allowScripts, so npm runs it without asking", async () => {
  const { default: pkg } = await import('../package.json', { with: { type: 'json' } });
  expect(pkg.allowScripts).toMatchObject({ electron: true });
});
