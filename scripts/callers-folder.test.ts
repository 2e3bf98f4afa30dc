import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

const REPO = path.resolve(import.meta.dirname, '..');

it('`npm run cli` takes the paths it is given from the folder it was typed in, not the project folder', async () => {
  const here = mkdtempSync(path.join(tmpdir(), 'callers-folder-'));
  try {
    writeFileSync(path.join(here, 'photo.txt'), 'typed elsewhere\n');
    const npm = (...args: string[]) => promisify(execFile)('npm', ['run', '--silent', '--prefix', REPO, 'cli', '--', '--store', './store', ...args], { cwd: here });
    const stored = await npm('store', 'photo.txt');
    expect(stored.stdout).toMatch(/^[0-9a-f]{16}-v1 {2}16 bytes {2}photo\.txt {2}\(new content\)\n$/);
    await npm('get', stored.stdout.slice(0, 16), '--out', 'saved.txt');
    expect(readFileSync(path.join(here, 'saved.txt'), 'utf8')).toBe('typed elsewhere\n');
  } finally {
    rmSync(here, { recursive: true, force: true });
  }
});
