/**
 * Kills prune at random points, then checks the store: nothing outside the selection lost, no
 * reference to anything missing but the latest view a killed delete may leave for a moment, and the
 * next prune finishes the job (its journal) with no dangling reference at all.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../test-support/cli-harness';
import { collect, type StoreFormat } from '../formats/format';
import { openFormat } from './prune-worker';
import { Retention } from './retention';

const WORKER = path.join(REPO_ROOT, 'src-main/core/retention/prune-worker.ts');
const KILLS = 6;
const DAY = 86_400_000;

/** Starts a prune of namespace "race" and SIGKILLs it a random moment after its first deletion. */
function pruneAndKill(dir: string, cutoff: number): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', WORKER, 'prune', JSON.stringify({ dir }), 'native', String(cutoff)], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    let lines = 0;
    child.stdout.on('data', (chunk: Buffer) => {
      if (lines === 0) setTimeout(() => child.kill('SIGKILL'), Math.random() * 150);
      lines += chunk.toString().split('\n').length - 1;
    });
    child.on('exit', () => resolve(lines));
  });
}

/** Files everywhere in the store, as if written ten minutes ago; a deleter's marker and a prune's lease, as if their holders died long ago. */
async function age(dir: string): Promise<void> {
  const then = new Date(Date.now() - 10 * 60_000);
  for (const name of (await fs.readdir(dir, { recursive: true })) as string[]) {
    const file = path.join(dir, name);
    if (name.endsWith('.deleting.json')) await fs.writeFile(file, `${JSON.stringify({ token: 'killed', since: then.toISOString() })}\n`);
    // Else the next prune waits out the killed one's lease (30 s), which the lease tests cover.
    if (name.startsWith(path.join('_cache-admin.d', 'leases')) && name.endsWith('.json')) await fs.writeFile(file, `${JSON.stringify({ token: 'killed', refreshed: then.toISOString() })}\n`);
    await fs.utimes(file, then, then);
  }
}

async function readsBack(format: StoreFormat, ns: string, cacheId: string, sha256: string): Promise<boolean> {
  const [hash, version] = cacheId.split('-v') as [string, string];
  const { content } = await format.retrieve(ns, { hash, version: Number(version) });
  return createHash('sha256').update(await collect(content)).digest('hex') === sha256;
}

describe('prune crash safety', () => {
  it(`after ${KILLS} SIGKILLs mid-prune nothing unselected is lost, and the next prune finishes the job leaving no dangling reference`, async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'prune-crash-'));
    const cutoff = Date.now();
    const old = await openFormat({ dir }, 'native', () => new Date(cutoff - 2 * DAY));
    const fresh = await openFormat({ dir }, 'native', () => new Date(cutoff + 1000));
    const keep: { ns: string; cacheId: string; sha256: string }[] = [];
    for (let i = 0; i < 240; i++) {
      const text = `crash content ${i} `.repeat(1 + (i % 40));
      const source = () => ({ kind: 'bytes' as const, bytes: Buffer.from(text) });
      const sha256 = createHash('sha256').update(text).digest('hex');
      await old.store('race', { source: source() });
      if (i % 3 === 0) await old.store('race', { source: source() });
      if (i % 5 === 0) keep.push({ ns: 'race', cacheId: (await fresh.store('race', { source: source() })).cache_id, sha256 });
      if (i % 4 === 0) keep.push({ ns: 'other', cacheId: (await old.store('other', { source: source() })).cache_id, sha256 });
    }
    const check = async (after: string) => {
      const format = await openFormat({ dir }, 'native');
      const problems = (await format.verify({ orphanGraceMs: 0 })).problems;
      // What a kill may leave is only what verify --repair clears safely; never a reference to something missing.
      expect(problems.filter((p) => !['orphan', 'stale_latest', 'temp_leftover', 'dangling_ref'].includes(p.kind) || (p.kind === 'dangling_ref' && !p.key.endsWith('.latest.json'))), after).toEqual([]);
      for (const k of keep) expect(await readsBack(format, k.ns, k.cacheId, k.sha256), `${after}: ${k.cacheId}`).toBe(true);
    };
    for (let kill = 1; kill <= KILLS; kill++) {
      await age(dir);
      await pruneAndKill(dir, cutoff);
      await check(`after kill ${kill}`);
    }
    await age(dir);
    const format = await openFormat({ dir }, 'native');
    const retention = new Retention(format, { now: () => new Date(cutoff + 1000) });
    await retention.prune(await retention.planPrune({ namespace: 'race', olderThanSeconds: 1 }));
    expect((await retention.planPrune({ namespace: 'race', olderThanSeconds: 1 })).versions).toEqual([]);
    const problems = (await format.verify({ orphanGraceMs: 0 })).problems;
    // Only a killed write of latest may leave its temp file (verify --repair removes it).
    expect(problems.filter((p) => p.kind !== 'temp_leftover')).toEqual([]);
    await check('after the last prune');
    expect(await fs.readdir(path.join(dir, '_cache-admin.d/prune/race')).catch(() => [])).toEqual([]);
  }, 300_000);
});
