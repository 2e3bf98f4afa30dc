import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, renameSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CacheService } from '../core/cache-service';
import { LocalFolderStorage } from '../core/storage/local';
import { populateNamespace } from '../test-support/fixture-store';
import { BUILT_STORE_WORKER } from '../test-support/pool-workers';
import { NO_KEYRING } from '../profiles/secret-box';
import { ProfileStore } from '../profiles/profiles';
import type { CacheAdminEvent } from '../../src-shared/contract';
import { createDispatcher } from './dispatch';
import { AppSession } from './session';

const sessions: AppSession[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  for (const session of sessions.splice(0)) await session.close();
});

/** (verify counts each key once: 5 per fixture entry.) The app on a local folder store with `entries` fixture entries in `checked`, verifying in main's thread or in a store worker. */
async function app(storeWorker: URL | undefined, entries: number) {
  const dir = mkdtempSync(path.join(tmpdir(), 'verify-app-'));
  const store = path.join(dir, 'store');
  await populateNamespace(await LocalFolderStorage.open(store), 'checked', entries);
  const session = new AppSession({ profiles: new ProfileStore(path.join(dir, 'profiles.json'), NO_KEYRING, path.join(dir, 'default')), commandLine: { kind: 'local', dir: store }, storeWorker });
  await session.start();
  sessions.push(session);
  return { store, session, dispatch: createDispatcher(session) };
}

describe.each([
  { where: "main's thread", storeWorker: undefined },
  { where: 'a store worker', storeWorker: BUILT_STORE_WORKER },
])('verify in the app, in $where', ({ storeWorker }) => {
  it('finds damage, repairs only what is safe, and the next verify sees the repair', async () => {
    const { store, session, dispatch } = await app(storeWorker, 20);
    const cache = new CacheService(await LocalFolderStorage.open(store));
    const { hash } = await cache.store('checked', { source: { kind: 'bytes', bytes: Buffer.from('to be damaged') } });
    const damaged = cache.layout.content('checked' as never, hash);
    const file = (key: string) => path.join(store, ...key.split('/'));
    const bytes = readFileSync(file(damaged));
    bytes[0]! ^= 1;
    writeFileSync(file(damaged), bytes);
    const orphan = cache.layout.content('checked' as never, createHash('sha256').update('nobody').digest('hex').slice(0, 16) as never);
    mkdirSync(path.dirname(file(orphan)), { recursive: true });
    writeFileSync(file(orphan), 'nobody');
    utimesSync(file(orphan), new Date(Date.now() - 3_600_000), new Date(Date.now() - 3_600_000));

    const ended: unknown[] = [];
    session.onEvent((event) => event.type === 'operations' && event.ended && ended.push(event.ended));
    const first = await dispatch('verify', { repair: true, transferId: 'v1' });
    expect(first).toMatchObject({ ok: true, value: { checked: 20 * 5 + 5 + 1, repaired: [{ kind: 'orphan', key: orphan }] } });
    const kinds = (first as { value: { problems: { kind: string; key: string }[] } }).value.problems.map((p) => `${p.kind} ${p.key}`).sort();
    expect(kinds).toEqual([`corrupt ${damaged}`, `orphan ${orphan}`]);
    expect(await dispatch('verify', { transferId: 'v2' })).toMatchObject({ ok: true, value: { problems: [{ kind: 'corrupt', key: damaged }] } });
    // Every window is told what it came to (one reloaded, another watching): problems found are never a bare "finished".
    expect(ended).toEqual([
      { id: 'v1', outcome: 'finished', message: '2 problems (corrupt, orphan) in 106 keys checked, 1 repair made' },
      { id: 'v2', outcome: 'finished', message: '1 problem (corrupt) in 105 keys checked' },
    ]);
  });

  it('a cancel stops it part-way and answers cancelled', async () => {
    const { dispatch } = await app(storeWorker, 3000);
    const verifying = dispatch('verify', { transferId: 'v3' });
    await new Promise((r) => setTimeout(r, 100));
    expect(await dispatch('cancel', { transferId: 'v3' })).toMatchObject({ ok: true, value: { cancelled: true } });
    expect(await verifying).toMatchObject({ ok: false, error: { code: 'cancelled' } });
  });

  it('a cancel while big content streams answers cancelled', async () => {
    const { store, session, dispatch } = await app(storeWorker, 1);
    const cache = new CacheService(await LocalFolderStorage.open(store));
    for (let i = 0; i < 4; i++) await cache.store('checked', { source: { kind: 'bytes', bytes: Buffer.alloc(128 << 20, i) } });
    session.onEvent((e) => {
      if (e.type === 'progress' && e.transferId === 'v5') void dispatch('cancel', { transferId: 'v5' });
    });
    expect(await dispatch('verify', { transferId: 'v5' })).toMatchObject({ ok: false, error: { code: 'cancelled' } });
  });

  it('while big content is re-hashed, the progress names it and how many of its bytes are done', async () => {
    const { store, session, dispatch } = await app(storeWorker, 1);
    const cache = new CacheService(await LocalFolderStorage.open(store));
    const size = 384 << 20;
    const { hash } = await cache.store('checked', { source: { kind: 'bytes', bytes: Buffer.alloc(size, 1) } });
    const told: CacheAdminEvent[] = [];
    session.onEvent((e) => e.type === 'progress' && e.transferId === 'v8' && told.push(e));
    expect(await dispatch('verify', { transferId: 'v8' })).toMatchObject({ ok: true, value: { problems: [] } });
    const rehashing = told.flatMap((e) => (e.type === 'progress' && e.rehashing ? [e.rehashing] : []));
    expect(rehashing.length).toBeGreaterThan(0);
    for (const r of rehashing) expect(r).toEqual({ key: cache.layout.content('checked' as never, hash), size, done: expect.any(Number) });
    expect(rehashing.every((r) => r.done > 0 && r.done <= size)).toBe(true);
  });

  it('a store folder that vanished, or another folder in its place, is unreachable: never a clean report', async () => {
    const { store, dispatch } = await app(storeWorker, 5);
    renameSync(store, `${store}-moved`);
    expect(await dispatch('verify', { transferId: 'v6' })).toMatchObject({ ok: false, error: { code: 'storage_unreachable' } });
    mkdirSync(store);
    expect(await dispatch('verify', { transferId: 'v7' })).toMatchObject({ ok: false, error: { code: 'storage_unreachable' } });
  });
});

it("a local folder's verify in the app reads nothing in main's thread when a store worker is there (its thread pool costs more than the reads)", async () => {
  const { dispatch } = await app(BUILT_STORE_WORKER, 50);
  const reads = vi.spyOn(LocalFolderStorage.prototype, 'get');
  expect(await dispatch('verify', { transferId: 'v4' })).toMatchObject({ ok: true, value: { checked: 50 * 5, problems: [] } });
  expect(reads).not.toHaveBeenCalled();
});
