// Ctrl+C during a store, on the bundled CLI as an operator runs it.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI_BUNDLE } from '../../scripts/build-cli.mjs';

describe('cache-admin store, interrupted', () => {
  it('Ctrl+C while a pipe is still being stored cancels it: exit 130, nothing stored, no partial file left', async () => {
    const store = mkdtempSync(path.join(tmpdir(), 'interrupt-'));
    const child = spawn(process.execPath, [CLI_BUNDLE, '--store', store, 'store', '-'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    // Two ring buffers' worth: the first is held, the second opens the spool file in .staging/. The pipe stays open.
    child.stdin.on('error', () => undefined); // EPIPE: the cancelled CLI closes its stdin before reading all of this
    child.stdin.write(Buffer.alloc(9 << 20, 7));
    const staged = () => readdirSync(path.join(store, '.staging'), { withFileTypes: true }).filter((e) => e.isFile()).length;
    await expect.poll(() => (readdirSync(store).includes('.staging') ? staged() : 0), { timeout: 15_000 }).toBe(1);
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(stderr).toContain('cancelled');
    expect(staged()).toBe(0);
    expect(readdirSync(store).filter((name) => name !== '.staging' && !name.startsWith('_'))).toEqual([]);
  });
});
