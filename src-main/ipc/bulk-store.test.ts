import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { CacheAdminEvent } from '../../src-shared/contract';
import { NO_KEYRING } from '../profiles/secret-box';
import { ProfileStore } from '../profiles/profiles';
import { createDispatcher } from './dispatch';
import { PathGrants } from './path-grants';
import { AppSession } from './session';
import { BUILT_STORE_WORKER } from '../test-support/pool-workers';

/** A desktop session on a local folder store (made; in `format`'s layout), whose drops go to `storeWorker` if given: the operator dropped `dropped` (a folder of 120 files in two sub-folders). */
async function setup(storeWorker?: URL, format?: 'mgraph') {
  const dir = mkdtempSync(path.join(tmpdir(), 'bulk-store-'));
  mkdirSync(path.join(dir, 'store'));
  const dropped = path.join(dir, 'photos');
  for (const sub of ['2024', '2025']) mkdirSync(path.join(dropped, sub), { recursive: true });
  const files = Array.from({ length: 120 }, (_, i) => {
    const name = `photos/${i % 2 ? '2025' : '2024'}/p${i}.txt`;
    writeFileSync(path.join(dir, name), `picture ${i}\n`);
    return { path: path.join(dir, name), name };
  });
  writeFileSync(path.join(dir, 'not-dropped.txt'), 'never chosen');
  const grants = new PathGrants([path.join(dir, 'config')]);
  grants.grant(dropped);
  const profiles = new ProfileStore(path.join(dir, 'config', 'profiles.json'), NO_KEYRING, path.join(dir, 'default'));
  const session = new AppSession({ profiles, commandLine: { kind: 'local', dir: path.join(dir, 'store') }, commandLineFormat: format, pathGrants: grants, storeWorker });
  await session.start();
  const events: CacheAdminEvent[] = [];
  session.onEvent((e) => events.push(e));
  const dispatch = createDispatcher(session);
  const entries = async () => {
    const r = await dispatch('namespaces', {});
    return r.ok ? ((r.value as { namespaces: { entries: number }[] }).namespaces[0]?.entries ?? 0) : -1;
  };
  return { dir, files, dispatch, entries, events, session };
}

describe.each([
  { where: "main's thread", storeWorker: undefined },
  { where: 'the store workers', storeWorker: BUILT_STORE_WORKER },
])('storePaths: a desktop drop stored by main in batches, in $where', ({ storeWorker }) => {
  it('stores every file under its path in the drop (as the CLI records a folder), with one progress stream for the drop', async () => {
    const { files, dispatch, entries, events, session } = await setup(storeWorker);
    const result = await dispatch('storePaths', { namespace: 'default', dropId: 'drop-a', files });
    expect(result.ok).toBe(true);
    const outcomes = (result as { value: { outcomes: { name: string; stored?: { source: string; cache_id: string } }[] } }).value.outcomes;
    expect(outcomes.map((o) => o.stored?.source)).toEqual(files.map((f) => f.name));
    expect(await entries()).toBe(120);
    const entry = await dispatch('entry', { namespace: 'default', ref: outcomes[3]!.stored!.cache_id });
    expect(entry.ok && (entry.value as { record: { source: string } }).record.source).toBe('photos/2025/p3.txt');
    const last = events.filter((e) => e.type === 'progress' && e.transferId === 'drop-a').at(-1);
    expect(last).toMatchObject({ phase: 'store', filesDone: 120 });
    await session.close();
  });

  it('refuses the whole batch when one path was never chosen, storing none of it', async () => {
    const { dir, files, dispatch, entries, session } = await setup(storeWorker);
    const result = await dispatch('storePaths', { namespace: 'default', dropId: 'drop-b', files: [...files.slice(0, 10), { path: path.join(dir, 'not-dropped.txt'), name: 'not-dropped.txt' }] });
    expect(result).toMatchObject({ ok: false, error: { code: 'access_denied' } });
    expect(await entries()).toBe(0);
    await session.close();
  });

  it('refuses a source name that leaves the drop (..) or holds NUL before anything is read', async () => {
    const { files, dispatch, entries, session } = await setup(storeWorker);
    for (const name of ['photos/../../x', 'a\u0000b', '/etc/passwd', 'photos//a']) {
      const result = await dispatch('storePaths', { namespace: 'default', dropId: 'drop-c', files: [files[0]!, { path: files[1]!.path, name }] });
      expect(result).toMatchObject({ ok: false, error: { code: 'invalid_input' } });
    }
    expect(await entries()).toBe(0);
    await session.close();
  });

  it('fails a file gone since the drop alone; the others are stored', async () => {
    const { dir, files, dispatch, entries, session } = await setup(storeWorker);
    const result = await dispatch('storePaths', { namespace: 'default', dropId: 'drop-d', files: [files[0]!, { path: path.join(dir, 'photos', 'gone.txt'), name: 'photos/gone.txt' }] });
    expect(result.ok && (result.value as { outcomes: { error?: { code: string } }[] }).outcomes.map((o) => o.error?.code ?? 'stored')).toEqual(['stored', 'not_found']);
    expect(await entries()).toBe(1);
    await session.close();
  });

  it.each([
    { strategy: 'key_based', cache_key: 'k', file_id: 'samefid' },
    { strategy: 'temporal', file_id: 'samefid' },
  ])('in a service store, refuses a batch of several files sharing file_id %o (it names one file), storing none; one file takes it once per drop', async (options) => {
    const { files, dispatch, entries, session } = await setup(storeWorker, 'mgraph');
    const several = await dispatch('storePaths', { namespace: 'default', dropId: 'drop-f', files: files.slice(0, 3), options });
    expect(several).toMatchObject({ ok: false, error: { code: 'invalid_input', message: expect.stringContaining('file_id names one file: 3 files cannot share it') } });
    expect(await entries()).toBe(0);
    const one = await dispatch('storePaths', { namespace: 'default', dropId: 'drop-f', files: files.slice(0, 1), options });
    expect(one).toMatchObject({ ok: true, value: { outcomes: [{ name: files[0]!.name, stored: expect.anything() }] } });
    // A later batch of the same drop would go to the same path and overwrite it.
    const again = await dispatch('storePaths', { namespace: 'default', dropId: 'drop-f', files: files.slice(1, 2), options });
    expect(again).toMatchObject({ ok: false, error: { code: 'invalid_input', message: expect.stringContaining(`${files[1]!.name} was not stored`) } });
    expect(await entries()).toBe(1);
    expect(await dispatch('verify', { namespace: 'default', transferId: 'verify-f' })).toMatchObject({ ok: true, value: { problems: [] } });
    await session.close();
  });

  it('a drop cancelled before its first batch never stores one, and cancelDrop says so', async () => {
    const { files, dispatch, entries, session } = await setup(storeWorker);
    expect(await dispatch('cancelDrop', { dropId: 'drop-e' })).toEqual({ ok: true, value: { stored: 0, failed: 0 } });
    expect(await dispatch('storePaths', { namespace: 'default', dropId: 'drop-e', files })).toMatchObject({ ok: false, error: { code: 'cancelled' } });
    expect(await entries()).toBe(0);
    await session.close();
  });
});
