import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { FuseV1Options, getCurrentFuseWire } from '@electron/fuses';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../test-support/cli-harness';
import { APP_FUSES, appAsarOf, flipAppFuses } from './fuses';

/** Electron's fuse sentinel: the wire (version, length, one byte per fuse) follows it in the binary. */
const SENTINEL = 'dL7pKGdnNz796PbbjQWNKmHXBZaB9tsX';
const [OFF, ON] = [0x30, 0x31];

/** A stand-in Electron binary holding a fuse wire of `length` fuses, all on, between other bytes. */
function fakeBinary(options: { length: number; asar: boolean }): { binary: string; before: Buffer } {
  const dir = mkdtempSync(path.join(tmpdir(), 'fuses-'));
  const binary = path.join(dir, 'cache-admin');
  const before = Buffer.concat([Buffer.from('\x7fELF…code…'), Buffer.from(SENTINEL), Buffer.from([1, options.length]), Buffer.alloc(options.length, ON), Buffer.from('…more code')]);
  writeFileSync(binary, before);
  if (options.asar) {
    mkdirSync(path.join(dir, 'resources'));
    writeFileSync(path.join(dir, 'resources', 'app.asar'), 'asar');
  }
  return { binary, before };
}

/** The fuses this package knows, by name. */
const named = (config: Record<number, unknown>) =>
  Object.fromEntries(Object.entries(config).flatMap(([k, v]) => (FuseV1Options[Number(k)] ? [[FuseV1Options[Number(k)], v]] : [])));

describe('Electron fuses', () => {
  it('turn off running as Node, NODE_OPTIONS, --inspect and file:// privileges; turn on cookie encryption and asar-only with integrity', () => {
    expect(named(APP_FUSES)).toEqual({
      RunAsNode: false,
      EnableCookieEncryption: true,
      EnableNodeOptionsEnvironmentVariable: false,
      EnableNodeCliInspectArguments: false,
      EnableEmbeddedAsarIntegrityValidation: true,
      OnlyLoadAppFromAsar: true,
      LoadBrowserProcessSpecificV8Snapshot: false,
      GrantFileProtocolExtraPrivileges: false,
    });
  });

  it('are flipped in a packaged binary, touching only the fuse wire; fuses newer than this config keep their built value', async () => {
    const { binary, before } = fakeBinary({ length: 9, asar: true });
    await flipAppFuses(binary);
    const wire = await getCurrentFuseWire(binary);
    expect(named(wire)).toEqual({
      RunAsNode: OFF,
      EnableCookieEncryption: ON,
      EnableNodeOptionsEnvironmentVariable: OFF,
      EnableNodeCliInspectArguments: OFF,
      EnableEmbeddedAsarIntegrityValidation: ON,
      OnlyLoadAppFromAsar: ON,
      LoadBrowserProcessSpecificV8Snapshot: OFF,
      GrantFileProtocolExtraPrivileges: OFF,
    });
    expect((wire as Record<number, number>)[8]).toBe(ON);
    const after = readFileSync(binary);
    const wireStart = before.indexOf(SENTINEL) + SENTINEL.length + 2;
    expect(after.length).toBe(before.length);
    expect(after.subarray(0, wireStart)).toEqual(before.subarray(0, wireStart));
    expect(after.subarray(wireStart + 9)).toEqual(before.subarray(wireStart + 9));
  });

  it('refuse a binary without app.asar beside it (node_modules/electron, which npm start runs from a folder), changing nothing', async () => {
    const { binary, before } = fakeBinary({ length: 8, asar: false });
    await expect(flipAppFuses(binary)).rejects.toThrow(/app\.asar/);
    expect(readFileSync(binary)).toEqual(before);
  });

  it('refuse a file that is not an Electron binary', async () => {
    const { binary } = fakeBinary({ length: 8, asar: true });
    writeFileSync(binary, 'not electron');
    await expect(flipAppFuses(binary)).rejects.toThrow(/sentinel/);
  });

  it('look for app.asar where Electron does', () => {
    expect(appAsarOf('/opt/Cache Admin/cache-admin')).toBe(path.join('/opt/Cache Admin', 'resources', 'app.asar'));
    expect(appAsarOf('/Applications/Cache Admin.app')).toBe(path.join('/Applications/Cache Admin.app', 'Contents', 'Resources', 'app.asar'));
    expect(appAsarOf('/Applications/Cache Admin.app/Contents/MacOS/Cache Admin')).toBe(path.join('/Applications/Cache Admin.app', 'Contents', 'Resources', 'app.asar'));
  });

  it('npm run fuses flips a packaged binary and says so; without one it prints its usage', () => {
    const { binary } = fakeBinary({ length: 8, asar: true });
    const tsx = path.join(REPO_ROOT, 'node_modules/tsx/dist/cli.mjs');
    const entry = path.join(REPO_ROOT, 'src-main/electron/fuses.ts');
    expect(execFileSync(process.execPath, [tsx, entry, binary], { encoding: 'utf8' })).toContain(`fuses set on ${binary}`);
    expect(() => execFileSync(process.execPath, [tsx, entry], { encoding: 'utf8', stdio: 'pipe' })).toThrow(/usage: npm run fuses/);
  });
});
