import { mkdirSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { frameHeader } from '../../src-shared/batch-frame';
import type { BatchStoreResult, CacheAdminEvent } from '../../src-shared/contract';
import { parseHeldBatch } from '../bridge/batch-body';
import { openStore } from '../core/open-store';
import { BUILT_STORE_WORKER, CRASHING_STORE_WORKER } from '../test-support/pool-workers';
import { type BatchItem, Drops, type DropsOptions } from './bulk-store';

const opened: Drops[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((drops) => drops.close()));
});

/** Drops into a fresh local folder store (made, as after the first drop), whose batches go to `worker`. */
async function setup(worker: URL, onEvent: (e: CacheAdminEvent) => void = () => undefined, options: DropsOptions = {}) {
  const dir = path.join(mkdtempSync(path.join(tmpdir(), 'drops-workers-')), 'store');
  mkdirSync(dir);
  const { format } = await openStore({ kind: 'local', dir });
  const drops = new Drops(onEvent, { storeWorker: worker, ...options });
  opened.push(drops);
  const store = (dropId: string, items: BatchItem[]) => drops.store(dropId, format, 'default', { as: 'bytes' }, items);
  const entries = async () => (await format.stats('default')).entries;
  return { drops, format, store, entries };
}

/** A batch as the bridge reads it: framed files in one body, each file's bytes a view into it. */
function batchBody(count: number, prefix: string): Buffer {
  const files = Array.from({ length: count }, (_, i) => ({ name: `${prefix}/f${String(i).padStart(4, '0')}.txt`, bytes: Buffer.from(`${prefix} file ${i}\n`) }));
  const framed = Buffer.concat(files.flatMap((f) => [frameHeader(f.name, f.bytes.byteLength), f.bytes]));
  // As readBatch holds it: its own memory, not a slice of Node's buffer pool.
  const body = Buffer.allocUnsafeSlow(framed.byteLength);
  framed.copy(body);
  return body;
}

const storedCount = (results: BatchStoreResult[]) => results.flatMap((r) => r.outcomes).filter((o) => 'stored' in o).length;

describe('drops into a local folder, stored by the store workers', () => {
  it('moves a batch body to a worker (no copy left here) and stores every file under its name, in order', async () => {
    const { store, format, entries } = await setup(BUILT_STORE_WORKER);
    const body = batchBody(300, 'photos');
    const { outcomes } = await store('d1', parseHeldBatch(body));
    expect(body.byteLength).toBe(0); // moved to the worker thread, not copied
    expect(outcomes.map((o) => ('stored' in o ? o.stored.source : o.error.code))).toEqual(Array.from({ length: 300 }, (_, i) => `photos/f${String(i).padStart(4, '0')}.txt`));
    expect(await entries()).toBe(300);
    const stored = outcomes[42]!;
    const { content } = await format.retrieve('default', { cacheId: 'stored' in stored ? stored.stored.cache_id : '' });
    const chunks: Uint8Array[] = [];
    for await (const chunk of content) chunks.push(chunk);
    expect(Buffer.concat(chunks).toString()).toBe('photos file 42\n');
  });

  it.runIf(process.platform === 'linux')('stops its worker threads once drops have been idle a while, and starts them again for the next drop', async () => {
    const threads = () => readdirSync('/proc/self/task').length;
    const { store, entries } = await setup(BUILT_STORE_WORKER, undefined, { workersIdleMs: 200 });
    await store('d1', parseHeldBatch(batchBody(20, 'first')));
    const busy = threads();
    await expect.poll(threads, { timeout: 5000 }).toBeLessThan(busy);
    const { outcomes } = await store('d2', parseHeldBatch(batchBody(20, 'second')));
    expect(outcomes.every((o) => 'stored' in o)).toBe(true);
    expect(threads()).toBeGreaterThan(busy - 1); // workers again
    expect(await entries()).toBe(40);
  });

  it('cancel mid-drop stops the batches under way and queued in the workers, and reports exactly the files stored', async () => {
    let firstStored: () => void = () => undefined;
    const underWay = new Promise<void>((resolve) => (firstStored = resolve));
    // Cancelled as soon as the first files are reported stored (in the same turn): the drop is under way.
    const { drops, store, entries } = await setup(BUILT_STORE_WORKER, (e) => {
      if (e.type === 'progress' && (e.filesDone ?? 0) > 0) firstStored();
    });
    // Four batches at once: the workers (one per core, here at most 4) take some, the rest wait.
    const bodies = Array.from({ length: 4 }, (_, b) => batchBody(1000, `batch${b}`));
    const running = bodies.map((body) => store('big', parseHeldBatch(body)));
    const cancelling = underWay.then(() => drops.cancel('big'));
    const results = await Promise.all(running);
    const answer = await cancelling;
    const stored = storedCount(results);
    expect(answer).toEqual({ stored, failed: 0 });
    expect(stored).toBeGreaterThan(0);
    expect(stored).toBeLessThan(4000);
    expect(await entries()).toBe(stored);
    // Every file not stored says it was cancelled, nothing else.
    expect(new Set(results.flatMap((r) => r.outcomes).flatMap((o) => ('error' in o ? [o.error.code] : [])))).toEqual(new Set(['cancelled']));
    expect(await store('big', parseHeldBatch(batchBody(2, 'later'))).catch((e: { code: string }) => e.code)).toBe('cancelled');
  });

  it("a worker that dies fails only its batch's unreported files (internal); the other drop keeps every outcome, and main goes on", async () => {
    const { drops, store } = await setup(CRASHING_STORE_WORKER);
    const items = (names: string[]): BatchItem[] => names.map((name) => ({ name, size: 1, source: { kind: 'bytes', bytes: new TextEncoder().encode(name) } }));
    const [crashed, other] = await Promise.all([store('a', items(['first', 'crash', 'third'])), store('b', items(['b1', 'b2', 'b3']))]);
    expect(crashed.outcomes.map((o) => ('stored' in o ? 'stored' : o.error.code))).toEqual(['stored', 'internal', 'internal']);
    expect('error' in crashed.outcomes[1]! && crashed.outcomes[1].error.message).toBe('crash: a store worker stopped unexpectedly (exit code 3), before it reported this file');
    expect(other.outcomes.map((o) => ('stored' in o ? o.stored.source : o.error.code))).toEqual(['b1', 'b2', 'b3']);
    expect(await drops.cancel('a')).toEqual({ stored: 1, failed: 2 });
    // A new worker took the dead one's place.
    expect((await store('c', items(['c1', 'c2']))).outcomes.every((o) => 'stored' in o)).toBe(true);
  });
});
