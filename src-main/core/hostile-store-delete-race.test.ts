// Hostile input: stores and deletes of the same content racing each other, in one process and
// across processes, must never leave an acknowledged store without its bytes (issue 15, item 1).
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StoreResult } from '../../src-shared/domain';
import { parseCacheId } from '../../src-shared/domain';
import { REPO_ROOT } from '../test-support/cli-harness';
import { FaultProxy } from '../test-support/fault-proxy';
import { startS3, type S3Endpoint } from '../test-support/s3-emulator';
import { seeded } from '../../bench/fixtures';
import { RACE_CONTENTS, RACE_NAMESPACE, type RaceLine, type RaceStorage } from '../test-support/store-worker';
import { CacheService, type DeleteResult } from './cache-service';
import { cacheHashOf } from './hashing';
import { LocalFolderStorage } from './storage/local';
import { MemoryStorage } from './storage/memory';
import { S3Storage } from './storage/s3';
import type { StorageBackend } from './storage/types';
import { verifyStore } from './verify';

const WORKER = path.join(REPO_ROOT, 'src-main/test-support/store-worker.ts');
const DAMAGE = ['corrupt', 'missing_content', 'dangling_ref', 'misplaced'];

async function readAll(content: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const chunk of content) parts.push(chunk);
  return Buffer.concat(parts);
}

/** The acknowledged stores that no delete took away and that do not read back byte-exact. */
async function unreadable(cache: CacheService, stored: { cacheId: string; bytes: Buffer }[], deleted: Set<string>): Promise<string[]> {
  const lost: string[] = [];
  for (const { cacheId, bytes } of stored) {
    if (deleted.has(cacheId)) continue;
    try {
      const { content } = await cache.retrieve(RACE_NAMESPACE, parseCacheId(cacheId));
      if (!(await readAll(content)).equals(bytes)) lost.push(`${cacheId} (other bytes)`);
    } catch (err) {
      lost.push(`${cacheId} (${(err as Error).message})`);
    }
  }
  return lost;
}

/**
 * Rounds of (store, store, delete all[, delete one version]) of one of three contents, started in
 * a random order with random delays; after each round every store that no delete of that round
 * took away must read back byte-exact (a later round's store would put the bytes back and hide it).
 */
async function raceInOneService(storage: StorageBackend, rounds: number, seed: number) {
  const cache = new CacheService(storage);
  const random = seeded(seed);
  const jitter = async () => {
    for (let n = Math.floor(random() * 12); n > 0; n--) await (random() < 0.5 ? Promise.resolve() : new Promise((r) => setImmediate(r)));
  };
  let acknowledged = 0;
  let highest = 1;
  const lost: string[] = [];
  const failures: string[] = [];
  for (let round = 0; round < rounds; round++) {
    const bytes = Buffer.from(RACE_CONTENTS[Math.floor(random() * RACE_CONTENTS.length)]!);
    const hash = cacheHashOf(bytes);
    const ops: (() => Promise<StoreResult | DeleteResult>)[] = [
      () => cache.store(RACE_NAMESPACE, { source: { kind: 'bytes', bytes }, name: `r${round}a` }),
      () => cache.store(RACE_NAMESPACE, { source: { kind: 'bytes', bytes }, name: `r${round}b` }),
      () => cache.delete(RACE_NAMESPACE, { hash }),
    ];
    if (random() < 0.5) {
      const version = 1 + Math.floor(random() * (highest + 1));
      ops.push(() => cache.delete(RACE_NAMESPACE, { hash, version }));
    }
    const outcomes = await Promise.allSettled(ops.map(async (op) => (await jitter(), op())));
    const stored: { cacheId: string; bytes: Buffer }[] = [];
    const deleted = new Set<string>();
    for (const outcome of outcomes) {
      if (outcome.status === 'rejected') {
        // A delete finds the hash gone, or only a store still writing it (it then deletes nothing).
        if (!['not_found', 'conflict'].includes((outcome.reason as { code?: string }).code ?? '')) failures.push(`round ${round}: ${String(outcome.reason)}`);
      } else if ('cache_id' in outcome.value) {
        stored.push({ cacheId: outcome.value.cache_id, bytes });
        highest = Math.max(highest, outcome.value.version);
      } else {
        for (const id of outcome.value.deleted) deleted.add(id);
      }
    }
    acknowledged += stored.length;
    lost.push(...(await unreadable(cache, stored, deleted)).map((l) => `round ${round}: ${l}`));
    // Latest names a version whenever one survived the round.
    if (stored.some((s) => !deleted.has(s.cacheId))) await cache.record(RACE_NAMESPACE, { hash }).catch((err: Error) => lost.push(`round ${round}: latest: ${err.message}`));
  }
  const damage = (await verifyStore(cache, { orphanGraceMs: 0 })).problems.filter((p) => DAMAGE.includes(p.kind));
  return { acknowledged, lost, failures, damage };
}

describe('hostile input: store and delete of the same content at once', () => {
  it.each([
    ['memory', 3000, () => Promise.resolve(new MemoryStorage())],
    ['local folder', 500, () => LocalFolderStorage.open(mkdtempSync(path.join(tmpdir(), 'race-')))],
  ])('in one CacheService on %s: %i rounds, no acknowledged store left unreadable', async (_name, rounds, open) => {
    const result = await raceInOneService(await open(), rounds, 15);
    console.log(`race in one service (${_name}): ${rounds} rounds, ${result.acknowledged} acknowledged stores, ${result.lost.length} unreadable`);
    expect(result.failures).toEqual([]);
    expect(result.lost.slice(0, 5)).toEqual([]);
    expect(result.damage).toEqual([]);
    expect(result.acknowledged).toBeGreaterThan(rounds);
  }, 300_000);
});

/** Runs store-worker.ts race lanes in `processes` child processes at once; returns their lines. */
async function raceInProcesses(spec: RaceStorage, processes: number, rounds: number): Promise<RaceLine[]> {
  const runs = Array.from({ length: processes }, (_, seed) => {
    const child = spawn(process.execPath, ['--import', 'tsx', WORKER, 'race', JSON.stringify(spec), String(rounds), String(seed + 1)], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const lines: RaceLine[] = [];
    createInterface({ input: child.stdout }).on('line', (line) => lines.push(JSON.parse(line) as RaceLine));
    return new Promise<RaceLine[]>((resolve, reject) =>
      child.on('close', (code) => (code === 0 ? resolve(lines) : reject(new Error(`race worker ${seed + 1} exited with ${code}`)))),
    );
  });
  return (await Promise.all(runs)).flat();
}

async function checkProcessRace(storage: StorageBackend, lines: RaceLine[], processes: number, rounds: number) {
  const cache = new CacheService(storage);
  const stored = lines.flatMap((l) => ('stored' in l ? [{ cacheId: l.stored, bytes: Buffer.from(RACE_CONTENTS.find((t) => createHash('sha256').update(t).digest('hex') === l.sha256)!) }] : []));
  const deleted = new Set(lines.flatMap((l) => ('deleted' in l ? l.deleted : [])));
  // Across processes a version number can be taken again after a delete: such ids are left to verify.
  const lostRightAway = lines.flatMap((l) => ('lost' in l ? [l.lost] : []));
  const failed = lines.flatMap((l) => ('failed' in l ? [l.failed] : []));
  const lostAtEnd = await unreadable(cache, stored, deleted);
  const damage = (await verifyStore(cache, { namespace: RACE_NAMESPACE, orphanGraceMs: 0 })).problems.filter((p) => DAMAGE.includes(p.kind));
  console.log(
    `race across ${processes} processes x 2 lanes x ${rounds} operations on ${storage.description}: ${stored.length} acknowledged stores, ${deleted.size} versions deleted, ${lostRightAway.length} found without bytes right after the store, ${lostAtEnd.length} unreadable at the end`,
  );
  expect(lines.filter((l) => 'done' in l)).toHaveLength(processes);
  expect(failed.slice(0, 5)).toEqual([]);
  expect(lostRightAway.slice(0, 5)).toEqual([]);
  expect(lostAtEnd.slice(0, 5)).toEqual([]);
  expect(damage).toEqual([]);
  expect(stored.length).toBeGreaterThan(processes * rounds);
}

describe('hostile input: store and delete of the same content from several processes at once', () => {
  it('on a local folder: 4 processes, no acknowledged store left without its bytes', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'race-procs-'));
    const lines = await raceInProcesses({ dir }, 4, 200);
    await checkProcessRace(await LocalFolderStorage.open(dir), lines, 4, 200);
  }, 300_000);

  describe('on S3', () => {
    let s3: S3Endpoint;
    let proxy: FaultProxy;
    beforeAll(async () => {
      s3 = await startS3();
      // Conditional PUTs as AWS, MinIO and R2 answer them (s3rver ignores them; see FaultProxy).
      proxy = await new FaultProxy(s3.endpoint, { conditionalWrites: true }).start();
    });
    afterAll(async () => {
      await proxy?.stop();
      await s3?.stop();
    });

    it('3 processes, no acknowledged store left without its bytes', async () => {
      const config = {
        bucket: s3.bucket,
        prefix: `race-${process.pid}-${Date.now()}/`,
        region: s3.region,
        endpoint: s3.real ? s3.endpoint || undefined : proxy.endpoint,
        forcePathStyle: !s3.real,
        credentials: s3.credentials,
      };
      const lines = await raceInProcesses({ s3: config }, 3, 40);
      await checkProcessRace(await S3Storage.open(config), lines, 3, 40);
    }, 300_000);
  });
});
