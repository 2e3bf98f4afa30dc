import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { frameHeader } from '../../src-shared/batch-frame';
import { createDispatcher } from '../ipc/dispatch';
import { AppSession } from '../ipc/session';
import { ProfileStore } from '../profiles/profiles';
import { NO_KEYRING } from '../profiles/secret-box';
import { MAX_HELD_BODY } from './batch-body';
import { startBridge, type Bridge } from './server';
import { BUILT_STORE_WORKER } from '../test-support/pool-workers';

const running: { bridge: Bridge; session: AppSession }[] = [];

/** A bridge on a fresh local folder store (the bulk path groups flushes there; in `format`'s layout), as `npm run web -- --store DIR` runs, its drops stored by `storeWorker` if given. */
async function setup(storeWorker: URL | undefined, maxEntryBytes?: number, format?: 'mgraph') {
  const dir = mkdtempSync(path.join(tmpdir(), 'bridge-batch-'));
  mkdirSync(path.join(dir, 'store'));
  const staticDir = path.join(dir, 'renderer');
  mkdirSync(staticDir);
  writeFileSync(path.join(staticDir, 'index.html'), '<!doctype html>');
  const profiles = new ProfileStore(path.join(dir, 'profiles.json'), NO_KEYRING, path.join(dir, 'default-store'));
  const session = new AppSession({ profiles, commandLine: { kind: 'local', dir: path.join(dir, 'store') }, commandLineFormat: format, cacheOptions: { maxEntryBytes }, storeWorker });
  await session.start();
  const dispatch = createDispatcher(session);
  const bridge = await startBridge({ session, dispatch, staticDir });
  running.push({ bridge, session });
  const base = `http://127.0.0.1:${bridge.port}`;
  const headers = { 'x-cache-admin-token': bridge.token };
  const post = async (query: Record<string, string>, body: Uint8Array) => {
    const res = await fetch(`${base}/api/batch?${new URLSearchParams(query)}`, { method: 'POST', headers, body: Uint8Array.from(body) });
    return { status: res.status, body: (await res.json()) as { ok: boolean; value?: { outcomes: { name: string; stored?: { source: string; size: number }; error?: { code: string } }[] }; error?: { code: string; message: string } } };
  };
  const call = async (method: string, payload: unknown) => {
    const result = await dispatch(method, payload);
    if (!result.ok) throw new Error(`${method}: ${result.error.message}`);
    return result.value as never;
  };
  const entryCount = async (namespace = 'default') => ((await call('namespaces', {})) as { namespaces: { name: string; entries: number }[] }).namespaces.find((n) => n.name === namespace)?.entries ?? 0;
  return { bridge, base, headers, post, call, entryCount };
}

/** The body the renderer sends: each file framed as name + size + bytes. */
function framed(files: { name: string; bytes: Uint8Array }[]): Buffer {
  return Buffer.concat(files.flatMap((f) => [frameHeader(f.name, f.bytes.byteLength), f.bytes]));
}

function smallFiles(count: number, folder = 'photos/2024'): { name: string; bytes: Buffer }[] {
  return Array.from({ length: count }, (_, i) => ({ name: `${folder}/file-${String(i).padStart(4, '0')}.txt`, bytes: Buffer.from(`small file number ${i}\n`) }));
}

afterEach(async () => {
  for (const { bridge, session } of running.splice(0)) {
    await bridge.close();
    await session.close();
  }
});

describe.each([
  { where: "main's thread", storeWorker: undefined },
  { where: 'the store workers', storeWorker: BUILT_STORE_WORKER },
])('bridge batches of a drop (POST /api/batch), stored in $where', ({ storeWorker }) => {
  it('stores 300 framed files of one request under their paths in the drop, in the order sent', async () => {
    const { post, call, entryCount } = await setup(storeWorker);
    const files = smallFiles(300);
    const { status, body } = await post({ namespace: 'default', dropId: 'drop1' }, framed(files));
    expect(status).toBe(200);
    expect(body.ok).toBe(true);
    expect(body.value!.outcomes.map((o) => o.name)).toEqual(files.map((f) => f.name));
    expect(body.value!.outcomes.every((o) => o.stored?.source === o.name)).toBe(true);
    expect(await entryCount()).toBe(300);
    // Read back as an operator would: the entry's source is the path inside the dropped folder.
    const { record } = (await call('entry', { namespace: 'default', ref: (body.value!.outcomes[7]!.stored as unknown as { cache_id: string }).cache_id })) as { record: { source: string } };
    expect(record.source).toBe('photos/2024/file-0007.txt');
  });

  it('streams a big file sent alone and stores it whole', async () => {
    const { post } = await setup(storeWorker);
    const big = Buffer.alloc(MAX_HELD_BODY + 3 * 1024 * 1024, 7);
    const { body } = await post({ namespace: 'default', dropId: 'drop2' }, framed([{ name: 'videos/big.bin', bytes: big }]));
    expect(body.value!.outcomes).toEqual([expect.objectContaining({ name: 'videos/big.bin', stored: expect.objectContaining({ size: big.byteLength, source: 'videos/big.bin' }) })]);
  });

  it.each([
    ['a name with ..', () => framed([...smallFiles(3), { name: 'photos/../../etc/passwd', bytes: Buffer.from('x') }])],
    ['a name with NUL', () => framed([...smallFiles(3), { name: 'a\u0000b.txt', bytes: Buffer.from('x') }])],
    ['an absolute name', () => framed([...smallFiles(3), { name: '/etc/passwd', bytes: Buffer.from('x') }])],
    ['a name that is not UTF-8', () => Buffer.concat([framed(smallFiles(3)), Buffer.from([0, 0, 0, 2, 0xff, 0xfe, 0, 0, 0, 0, 0, 0, 0, 1, 120])])],
    ['a frame cut short', () => framed(smallFiles(3)).subarray(0, -5)],
    ['a header cut short', () => Buffer.concat([framed(smallFiles(3)), Buffer.from([0, 0])])],
    ['a size past the body', () => Buffer.concat([framed(smallFiles(3)), frameHeader('x.txt', 2 ** 40)])],
    ['more files than a batch holds', () => framed(smallFiles(1001))],
  ])('refuses %s with invalid_input and stores nothing of the batch', async (_, body) => {
    const { post, entryCount } = await setup(storeWorker);
    const answer = await post({ namespace: 'default', dropId: 'bad' }, body());
    expect(answer.body.ok).toBe(false);
    expect(answer.body.error!.code).toBe('invalid_input');
    expect(answer.body.error!.message).toMatch(/^batch: /);
    expect(await entryCount()).toBe(0);
  });

  it.each([
    ['small files (held whole, checked before any is stored)', () => framed(smallFiles(50))],
    ['one big file (streamed)', () => framed([{ name: 'videos/big.bin', bytes: Buffer.alloc(MAX_HELD_BODY + 3 * 1024 * 1024, 7) }])],
  ])('a batch of %s whose sender stops part-way (a file the browser could no longer read) stores nothing: the page may send it again', async (_, body) => {
    const { base, headers, entryCount } = await setup(storeWorker);
    const bytes = body();
    await new Promise<void>((resolve) => {
      const req = request(`${base}/api/batch?${new URLSearchParams({ namespace: 'default', dropId: 'cut' })}`, { method: 'POST', headers: { ...headers, 'content-length': bytes.byteLength } });
      req.on('error', () => resolve());
      req.on('close', () => resolve());
      req.write(bytes.subarray(0, Math.floor(bytes.byteLength * 0.8)), () => setTimeout(() => req.destroy(), 200));
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await entryCount()).toBe(0);
  });

  it('refuses a bad query (no drop id, a namespace the layout refuses) before reading the body', async () => {
    const { post, entryCount } = await setup(storeWorker);
    expect((await post({ namespace: 'default' }, framed(smallFiles(2)))).status).toBe(400);
    const badNs = await post({ namespace: 'Not_Native', dropId: 'd' }, framed(smallFiles(2)));
    expect(badNs.body.error!.code).toBe('invalid_namespace');
    expect(await entryCount()).toBe(0);
  });

  it('fails a file over the size limit alone (too_large), with no partial entry; the rest are stored', async () => {
    const { post, entryCount } = await setup(storeWorker, 64);
    const files = [...smallFiles(2), { name: 'photos/too-big.txt', bytes: Buffer.alloc(200, 1) }];
    const { body } = await post({ namespace: 'default', dropId: 'limit' }, framed(files));
    expect(body.value!.outcomes.map((o) => o.error?.code ?? 'stored')).toEqual(['stored', 'stored', 'too_large']);
    expect(await entryCount()).toBe(2);
  });

  it('a big file sent alone over the size limit is too_large, answered as soon as its size is read, and the answer arrives', async () => {
    const { post, entryCount } = await setup(storeWorker, 1024 * 1024);
    const { body } = await post({ namespace: 'default', dropId: 'big-limit' }, framed([{ name: 'videos/too-big.bin', bytes: Buffer.alloc(MAX_HELD_BODY + 3 * 1024 * 1024, 7) }]));
    expect(body.value!.outcomes).toEqual([expect.objectContaining({ name: 'videos/too-big.bin', error: expect.objectContaining({ code: 'too_large' }) })]);
    expect(await entryCount()).toBe(0);
  });

  it('in a service store, refuses a batch of several files sharing file_id (it names one file), storing none; a later batch of one in the same drop is refused too', async () => {
    const { post, call, entryCount } = await setup(storeWorker, undefined, 'mgraph');
    const options = JSON.stringify({ strategy: 'key_based', cache_key: 'k', file_id: 'samefid' });
    const several = await post({ namespace: 'default', dropId: 'fid', options }, framed(smallFiles(3)));
    expect(several.body).toMatchObject({ ok: false, error: { code: 'invalid_input', message: expect.stringContaining('file_id names one file: 3 files cannot share it') } });
    expect(await entryCount()).toBe(0);
    // A big file travels alone (streamed): its batch of one takes the file_id; the next file of the drop would overwrite it.
    const big = Buffer.alloc(MAX_HELD_BODY + 1024, 7);
    const first = await post({ namespace: 'default', dropId: 'fid', options }, framed([{ name: 'videos/big.bin', bytes: big }]));
    expect(first.body.value!.outcomes).toEqual([expect.objectContaining({ name: 'videos/big.bin', stored: expect.objectContaining({ size: big.byteLength }) })]);
    const second = await post({ namespace: 'default', dropId: 'fid', options }, framed(smallFiles(1)));
    expect(second.body).toMatchObject({ ok: false, error: { code: 'invalid_input', message: expect.stringContaining('photos/2024/file-0000.txt was not stored') } });
    expect(await entryCount()).toBe(1);
    expect(await call('verify', { namespace: 'default', transferId: 'verify-fid' })).toMatchObject({ problems: [] });
  });

  it('cancelDrop stops the batch under way and says how many files were stored; later batches are refused', async () => {
    const { bridge, post, call, entryCount } = await setup(storeWorker);
    expect((await post({ namespace: 'default', dropId: 'cx' }, framed(smallFiles(5)))).body.ok).toBe(true);
    // A big file whose bytes stop coming half-way: it is under way when the cancel arrives.
    const size = MAX_HELD_BODY + 1024 * 1024;
    const header = frameHeader('videos/slow.bin', size);
    const slow = request({ host: '127.0.0.1', port: bridge.port, method: 'POST', path: '/api/batch?namespace=default&dropId=cx', headers: { 'x-cache-admin-token': bridge.token, 'content-length': String(header.byteLength + size) } });
    const answer = new Promise<string>((resolve, reject) => {
      slow.on('response', (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve(text));
      });
      slow.on('error', reject); // the bridge drops the rest of a cancelled body: only a reset before the answer is a failure
    });
    slow.write(header);
    slow.write(Buffer.alloc(1024 * 1024));
    await new Promise((r) => setTimeout(r, 200));
    expect(await call('cancelDrop', { dropId: 'cx' })).toEqual({ stored: 5, failed: 0 });
    expect(JSON.parse(await answer)).toMatchObject({ ok: true, value: { outcomes: [{ name: 'videos/slow.bin', error: { code: 'cancelled' } }] } });
    slow.destroy();
    expect(await entryCount()).toBe(5);
    const later = await post({ namespace: 'default', dropId: 'cx' }, framed(smallFiles(2, 'later')));
    expect(later.body.error!.code).toBe('cancelled');
    expect(await entryCount()).toBe(5);
  });
});

describe('a drop made on one store, sent after another window switched store', () => {
  it('is refused, batch and upload alike, and nothing lands in the store switched to (it went there, filed under the store it was dropped on)', async () => {
    const { base, headers, post, call, entryCount } = await setup(undefined);
    const other = mkdtempSync(path.join(tmpdir(), 'bridge-other-'));
    // The page dropped on the command-line store; before its first batch arrived, another tab switched store.
    const { opened } = (await call('capabilities', {})) as { opened: string };
    await call('saveProfile', { profile: { kind: 'local', name: 'other', dir: other } });
    const refused = { ok: false, error: { code: 'conflict', message: expect.stringContaining('this was dropped on another store than the one open now (other is open now)') } };
    expect((await post({ namespace: 'default', dropId: 'late', opened }, framed(smallFiles(3)))).body).toMatchObject(refused);
    const upload = await fetch(`${base}/api/upload?${new URLSearchParams({ op: 'store', namespace: 'default', name: 'a.txt', transferId: 'late1', opened })}`, { method: 'POST', headers, body: 'dropped on the command-line store' });
    expect(await upload.json()).toMatchObject(refused);
    expect(await entryCount()).toBe(0);
    // Back on the store it was dropped on, the same drop is stored there.
    const back = (await call('connect', { id: 'command-line' })) as { opened: string };
    expect((await post({ namespace: 'default', dropId: 'again', opened: back.opened }, framed(smallFiles(3)))).body).toMatchObject({ ok: true });
    expect(await entryCount()).toBe(3);
  });
});
