import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseCacheId } from '../../src-shared/domain';
import { REPO_ROOT } from '../test-support/cli-harness';
import { CacheService } from './cache-service';
import { LocalFolderStorage } from './storage/local';
import { verifyStore } from './verify';

const WORKER = path.join(REPO_ROOT, 'src-main/test-support/crash-worker.ts');
const KILLS = 21;

/** Runs the worker until it has reported some stores, then SIGKILLs it at a random moment. */
function runAndKill(dir: string, seed: number): Promise<string[]> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', WORKER, dir, String(seed)], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    let armed = false;
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (!armed) {
        armed = true;
        setTimeout(() => child.kill('SIGKILL'), 20 + Math.random() * 400);
      }
    });
    child.on('exit', () => resolve(out.split('\n').filter((line) => line.startsWith('ok ') && line.split(' ').length === 3)));
  });
}

describe('crash safety', () => {
  it(`after ${KILLS} SIGKILLs mid-store, verify finds no damage and every reported store reads back byte-exact`, async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'crash-'));
    const reported: string[] = [];
    for (let kill = 0; kill < KILLS; kill++) {
      reported.push(...(await runAndKill(dir, kill)));
      const cache = new CacheService(await LocalFolderStorage.open(dir));
      const report = await verifyStore(cache, { orphanGraceMs: 0 });
      const damage = report.problems.filter((p) => p.kind === 'corrupt' || p.kind === 'missing_content' || p.kind === 'dangling_ref' || p.kind === 'misplaced');
      expect(damage, `after kill ${kill + 1}`).toEqual([]);
    }
    expect(reported.length).toBeGreaterThan(KILLS * 5);
    const cache = new CacheService(await LocalFolderStorage.open(dir));
    for (const line of reported) {
      const [, cacheId, sha256] = line.split(' ') as [string, string, string];
      const { hash, version } = parseCacheId(cacheId);
      const { content } = await cache.retrieve('crash', { hash, version });
      const digest = createHash('sha256');
      for await (const chunk of content) digest.update(chunk);
      expect(digest.digest('hex'), cacheId).toBe(sha256);
    }
    // What a crash may leave is only what --repair clears safely.
    const repaired = await verifyStore(cache, { orphanGraceMs: 0, repair: true });
    expect(repaired.problems.every((p) => ['orphan', 'stale_latest', 'temp_leftover'].includes(p.kind))).toBe(true);
    expect((await verifyStore(cache, { orphanGraceMs: 0 })).problems).toEqual([]);
  }, 300_000);
});
