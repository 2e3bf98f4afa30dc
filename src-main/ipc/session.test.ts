import { existsSync, mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CacheAdminEvent, uploadQuerySchema } from '../../src-shared/contract';
import { CacheError } from '../../src-shared/errors';
import { NO_KEYRING } from '../profiles/secret-box';
import { ProfileStore } from '../profiles/profiles';
import { createDispatcher } from './dispatch';
import { PathGrants } from './path-grants';
import { AppSession } from './session';

const dir = mkdtempSync(path.join(tmpdir(), 'session-'));

/** A session on an in-memory command-line store, with real backends for profiles. */
async function setup(options: { connectTimeoutMs?: number } = {}) {
  const profilesDir = mkdtempSync(path.join(dir, 'profiles-'));
  const profiles = new ProfileStore(path.join(profilesDir, 'profiles.json'), NO_KEYRING, path.join(profilesDir, 'store'));
  const pathGrants = new PathGrants([profilesDir]);
  pathGrants.grant(dir);
  const session = new AppSession({ profiles, commandLine: { kind: 'memory' }, pathGrants, connectTimeoutMs: options.connectTimeoutMs });
  await session.start();
  const profilesText = () => readFile(profiles.file, 'utf8').catch(() => '');
  return { session, dispatch: createDispatcher(session), profiles, profilesText };
}

const bytes = (text: string) => ({ kind: 'bytes' as const, bytes: Buffer.from(text) });

describe('switching store while files go into the open one', () => {
  it('is refused from any window until they end, so none goes on into a store no window shows', async () => {
    const { session, dispatch } = await setup();
    const folder = mkdtempSync(path.join(dir, 'other-'));
    const saved = (await dispatch('saveProfile', { profile: { kind: 'local', name: 'other', dir: folder } })) as { ok: true; value: { profile: { id: string } } };
    expect(await dispatch('connect', { id: 'command-line' })).toMatchObject({ ok: true });
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    async function* heldSource() {
      yield Buffer.from('going into the command-line store');
      await held;
    }
    // Another window's upload, under way.
    const storing = session.transfer('other-window', { phase: 'store', namespace: 'default', total: null }, (options) => session.format.store('default', { source: { kind: 'stream', stream: heldSource() }, name: 'c.txt' }, options));
    expect(await dispatch('connect', { id: saved.value.profile.id })).toMatchObject({
      ok: false,
      error: { code: 'conflict', message: expect.stringMatching(/^1 transfer is still going into .* \(from this or another window\): let it finish or cancel it before switching store$/) },
    });
    expect(await dispatch('saveProfile', { profile: { kind: 'local', name: 'third', dir: folder } })).toMatchObject({ ok: false, error: { code: 'conflict' } });
    expect(await dispatch('capabilities', {})).toMatchObject({ ok: true, value: { profile: 'command-line' } });
    release();
    await storing;
    expect(await dispatch('connect', { id: saved.value.profile.id })).toMatchObject({ ok: true, value: { profile: saved.value.profile.id } });
    expect(await dispatch('connect', { id: 'command-line' })).toMatchObject({ ok: true });
    expect(await dispatch('namespaces', {})).toMatchObject({ ok: true, value: { namespaces: [{ name: 'default', versions: 1 }] } });
  });
});

describe('a drop made on one store, arriving after another window switched store', () => {
  const refused = { ok: false, error: { code: 'conflict', message: expect.stringContaining('a window switched store since, so nothing of it was stored here') } };
  const openedNow = async (dispatch: ReturnType<typeof createDispatcher>) => ((await dispatch('capabilities', {})) as { value: { opened: string } }).value.opened;

  it("is refused by each way a drop reaches main (a file, a batch, a hash, bytes), before the layout switched to judges its choices, and goes into no store; on the store it was dropped on it is stored", async () => {
    const { dispatch } = await setup();
    const folder = mkdtempSync(path.join(dir, 'switched-to-'));
    const file = path.join(mkdtempSync(path.join(dir, 'dropped-')), 'a.txt');
    writeFileSync(file, 'dropped on the command-line store');
    const opened = await openedNow(dispatch);
    await dispatch('saveProfile', { profile: { kind: 'local', name: 'other', dir: folder } });
    // The service layout's choices, which the native store switched to would refuse as bad input.
    const onCommandLine = { namespace: 'default', opened, options: { strategy: 'direct' } };
    expect(await dispatch('storeFile', { ...onCommandLine, path: file, transferId: 's1' })).toMatchObject(refused);
    expect(await dispatch('storePaths', { ...onCommandLine, dropId: 'd1', files: [{ path: file, name: 'a.txt' }] })).toMatchObject(refused);
    expect(await dispatch('hashFile', { ...onCommandLine, path: file, transferId: 'h1' })).toMatchObject(refused);
    expect(await dispatch('storeBytes', { ...onCommandLine, name: 'pasted.txt', base64: Buffer.from('pasted').toString('base64') })).toMatchObject(refused);
    expect(await dispatch('namespaces', {})).toMatchObject({ ok: true, value: { namespaces: [] } });
    const back = ((await dispatch('connect', { id: 'command-line' })) as { value: { opened: string } }).value.opened;
    expect(await dispatch('storeFile', { namespace: 'default', opened: back, path: file, transferId: 's2' })).toMatchObject({ ok: true, value: { version: 1 } });
  });

  it('is refused when another window edited the open profile to another folder (its id stays, its store does not)', async () => {
    const { dispatch } = await setup();
    const [first, second] = [mkdtempSync(path.join(dir, 'edited-from-')), mkdtempSync(path.join(dir, 'edited-to-'))];
    const saved = (await dispatch('saveProfile', { profile: { kind: 'local', name: 'mine', dir: first } })) as { value: { profile: { id: string } } };
    const opened = await openedNow(dispatch);
    await dispatch('saveProfile', { id: saved.value.profile.id, profile: { kind: 'local', name: 'mine', dir: second } });
    expect(await dispatch('storeBytes', { namespace: 'default', opened, name: 'a.txt', base64: Buffer.from('a').toString('base64') })).toMatchObject(refused);
    expect(existsSync(path.join(second, 'default'))).toBe(false);
  });
});

describe('an S3 profile whose endpoint holds a secret', () => {
  it('is refused, and neither the answer nor profiles.json repeats it', async () => {
    const { dispatch, profilesText } = await setup();
    const secret = 'Zq8-never-echo-this-secret';
    const refused = await dispatch('saveProfile', { profile: { kind: 's3', name: 'leaky', bucket: 'cache-admin', endpoint: `http://u:${secret}@127.0.0.1:9` } });
    expect(refused).toMatchObject({ ok: false, error: { code: 'invalid_input', message: expect.stringContaining('must not hold a user name or password') } });
    expect(JSON.stringify(refused)).not.toContain(secret);
    expect(await profilesText()).not.toContain(secret);
  });
});

describe('cancel tells what really happened', () => {
  it('a cancel that arrives after the version was committed reports it as stored, with its version', async () => {
    const { session, dispatch } = await setup();
    let answer!: () => void;
    const answering = new Promise<void>((resolve) => (answer = resolve));
    let committed!: () => void;
    const commit = new Promise<void>((resolve) => (committed = resolve));
    // The store commits, then its answer is still on its way when the operator clicks Cancel.
    const storing = session.transfer('late', { phase: 'store', namespace: 'default', total: null }, async ({ signal }) => {
      const stored = await session.format.store('default', { source: bytes('committed first'), name: 'a.txt' }, { signal });
      committed();
      await answering;
      return stored;
    });
    await commit;
    const cancelling = dispatch('cancel', { transferId: 'late' });
    answer();
    const stored = await storing;
    expect(await cancelling).toEqual({ ok: true, value: { cancelled: false, stored } });
    expect(stored).toMatchObject({ version: 1 });
    // Asked again later, the answer is the same.
    expect(await dispatch('cancel', { transferId: 'late' })).toEqual({ ok: true, value: { cancelled: false, stored } });
    expect(await dispatch('namespaces', {})).toMatchObject({ ok: true, value: { namespaces: [{ name: 'default', versions: 1 }] } });
  });

  it('a cancel that arrives before the store starts stops it before it reads a byte: nothing is stored', async () => {
    const { dispatch } = await setup();
    const file = path.join(dir, 'early.txt');
    writeFileSync(file, 'never stored');
    expect(await dispatch('cancel', { transferId: 'early' })).toEqual({ ok: true, value: { cancelled: true } });
    expect(await dispatch('storeFile', { namespace: 'default', path: file, transferId: 'early' })).toMatchObject({ ok: false, error: { code: 'cancelled', message: expect.stringContaining('nothing was stored') } });
    expect(await dispatch('namespaces', {})).toEqual({ ok: true, value: { namespaces: [] } });
    // The id is free again once that store was refused.
    expect(await dispatch('storeFile', { namespace: 'default', path: file, transferId: 'early' })).toMatchObject({ ok: true, value: { version: 1 } });
  });

  it('a cancel during the store waits for it to stop and says nothing was stored, which is true', async () => {
    const { session, dispatch } = await setup();
    let reading!: () => void;
    const started = new Promise<void>((resolve) => (reading = resolve));
    async function* slowSource() {
      yield Buffer.from('first part ');
      reading();
      await new Promise((resolve) => setTimeout(resolve, 200));
      yield Buffer.from('second part');
    }
    const storing = session.transfer('mid', { phase: 'store', namespace: 'default', total: null }, (options) => session.format.store('default', { source: { kind: 'stream', stream: slowSource() }, name: 'b.txt' }, options));
    storing.catch(() => undefined);
    await started;
    expect(await dispatch('cancel', { transferId: 'mid' })).toEqual({ ok: true, value: { cancelled: true } });
    await expect(storing).rejects.toMatchObject({ code: 'cancelled' });
    expect(await dispatch('namespaces', {})).toEqual({ ok: true, value: { namespaces: [] } });
  });
  it('a store that fails after the last point a cancel is honoured reports its failure, not a cancel', async () => {
    const { session, dispatch } = await setup();
    let failing!: () => void;
    const asked = new Promise<void>((resolve) => (failing = resolve));
    // A service-layout store past its last cancel check: a disk fills while its copies are written.
    const storing = session.transfer('full', { phase: 'store', namespace: 'default', total: null }, async () => {
      await asked;
      throw new CacheError('no_space', 'no space left on the device for the second copy');
    });
    storing.catch(() => undefined);
    const cancelling = dispatch('cancel', { transferId: 'full' });
    failing();
    await expect(storing).rejects.toMatchObject({ code: 'no_space' });
    expect(await cancelling).toEqual({ ok: true, value: { cancelled: false } });
  });
});

describe('transfer progress', () => {
  it('goes out at most every 100 ms, but the event that says all was read goes at once, while the store still writes', async () => {
    const { session } = await setup();
    const seen: number[] = [];
    session.onEvent((event) => {
      if (event.type === 'progress' && event.transferId === 'p') seen.push(event.bytesDone);
    });
    let finish!: () => void;
    const writing = new Promise<void>((resolve) => (finish = resolve));
    let allSeen!: number[];
    const storing = session.transfer('p', { phase: 'store', namespace: 'default', total: 30 }, async ({ onProgress }) => {
      onProgress(10);
      onProgress(20); // within 100 ms: dropped
      onProgress(30);
      onProgress(31); // a file that grew while read: past its size, throttled again
      onProgress(32);
      allSeen = [...seen];
      await writing; // the copies, the final flush
      return 'stored';
    });
    finish();
    expect(await storing).toBe('stored');
    expect(allSeen).toEqual([10, 30]);
  });
});

describe('operations running in main', () => {
  /** A run that goes on until its signal aborts, then fails as a cancelled run does. */
  const untilStopped = (message: string) => ({ signal }: { signal: AbortSignal }) =>
    new Promise<never>((_, reject) => signal.addEventListener('abort', () => reject(new CacheError('cancelled', message)), { once: true }));

  it('are listed to every window with how far they have got, and each end is told with how it ended', async () => {
    const { session, dispatch } = await setup();
    const events: CacheAdminEvent[] = [];
    session.onEvent((event) => event.type === 'operations' && events.push(event));
    // Numbered from the clock: a bridge started later numbers its lists above this one's.
    const base = session.operations().seq;
    expect(base).toBeGreaterThanOrEqual((Date.now() - 60_000) * 1000);
    const prune = session.transfer('prune-1', { phase: 'prune', namespace: 'logs', total: null }, async (control) => {
      control.onProgress(12);
      return untilStopped('the prune was cancelled after pruning 12 versions')(control);
    });
    let fail!: (err: Error) => void;
    const store = session.transfer('up-1', { phase: 'store', namespace: 'default', subject: 'big.bin', total: 100 }, () => new Promise((_, reject) => (fail = reject)));
    const listed = await dispatch('operations', {});
    expect(listed).toEqual({
      ok: true,
      value: {
        seq: base + 2,
        operations: [
          { id: 'prune-1', kind: 'prune', namespace: 'logs', subject: '', startedAt: expect.any(Number), done: 12, total: null },
          { id: 'up-1', kind: 'store', namespace: 'default', subject: 'big.bin', startedAt: expect.any(Number), done: 0, total: 100 },
        ],
      },
    });
    expect(events.map((e) => e.type === 'operations' && e.operations.map((o) => o.id))).toEqual([['prune-1'], ['prune-1', 'up-1']]);
    expect(await dispatch('cancel', { transferId: 'prune-1' })).toEqual({ ok: true, value: { cancelled: true } });
    await expect(prune).rejects.toThrow('after pruning 12 versions');
    fail(new CacheError('no_space', 'the disk is full'));
    await expect(store).rejects.toThrow('the disk is full');
    expect(events.slice(2)).toEqual([
      { type: 'operations', seq: base + 3, operations: [expect.objectContaining({ id: 'up-1' })], ended: { id: 'prune-1', outcome: 'stopped', message: 'the prune was cancelled after pruning 12 versions' } },
      { type: 'operations', seq: base + 4, operations: [], ended: { id: 'up-1', outcome: 'failed', message: 'the disk is full' } },
    ]);
    const done = await session.transfer('v-1', { phase: 'verify', namespace: null, subject: 'repair', total: null }, async () => 'checked');
    expect(done).toBe('checked');
    expect(events.at(-1)).toEqual({ type: 'operations', seq: base + 6, operations: [], ended: { id: 'v-1', outcome: 'finished' } });
    // A connect is the connecting window's own: never listed.
    await dispatch('connect', { id: 'command-line', attemptId: 'a1' });
    expect(events).toHaveLength(6);
  });

  it("a store switch stops the previous store's verify, prune and delete, from any window, before that store closes", async () => {
    const { session, dispatch } = await setup();
    const folder = mkdtempSync(path.join(dir, 'switch-'));
    const order: string[] = [];
    session.onEvent((event) => {
      if (event.type === 'operations' && event.ended) order.push(`${event.ended.id} ${event.ended.outcome}`);
      if (event.type === 'connected') order.push(`connected ${event.capabilities.profile}`);
    });
    // This one takes a while to stop (a read under way): meanwhile the previous store is still the open one, and nothing new starts.
    let duringStop: unknown[] = [];
    const verify = session.transfer('verify-1', { phase: 'verify', namespace: null, total: null }, ({ signal }) =>
      new Promise<never>((_, reject) =>
        signal.addEventListener('abort', async () => {
          duringStop = [session.capabilities().profile, await session.transfer('late', { phase: 'prune', namespace: 'default', total: null }, async () => 'ran').catch((err: CacheError) => err.code)];
          setTimeout(() => reject(new CacheError('cancelled', 'verify was cancelled')), 100);
        }),
      ),
    );
    const deleting = session.transfer('delete-1', { phase: 'delete', namespace: 'default', total: null }, untilStopped('stopped as asked')).catch((err: Error) => err.message);
    const saved = await dispatch('saveProfile', { profile: { kind: 'local', name: 'other', dir: folder } });
    expect(saved).toMatchObject({ ok: true });
    expect(duringStop).toEqual(['command-line', 'conflict']);
    await expect(verify).rejects.toThrow('verify was cancelled');
    expect(await deleting).toBe('stopped as asked');
    expect(order).toEqual(['delete-1 stopped', 'verify-1 stopped', expect.stringMatching(/^connected /)]);
    expect(session.operations().operations).toEqual([]);
  });
});

describe('connecting', () => {
  let silent: Server;
  let endpoint: string;
  const sockets = new Set<Socket>();
  beforeAll(async () => {
    // Accepts connections and never answers: a firewall that drops replies, a hung proxy.
    silent = createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(silent.address() as { port: number }).port}`;
  });
  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => silent.close(resolve));
  });
  const silentProfile = () => ({ kind: 's3' as const, name: 'silent', bucket: 'quiet-bucket', endpoint, pathStyle: true, region: 'us-east-1', accessKeyId: 'AKIAEXAMPLE12345', secretAccessKey: 'not-a-real-secret' });

  it('a silent endpoint times out with a clear error, the open store stays active, and the profile is not saved', async () => {
    const { dispatch, profilesText } = await setup({ connectTimeoutMs: 300 });
    await dispatch('storeBytes', { namespace: 'kept', name: 'a', base64: Buffer.from('kept').toString('base64') });
    const started = Date.now();
    const result = await dispatch('saveProfile', { profile: silentProfile() });
    expect(Date.now() - started).toBeLessThan(5000);
    expect(result).toMatchObject({ ok: false, error: { code: 'storage_unreachable', message: expect.stringMatching(/silent .*did not answer within 0\.3 s; the store that was open stays open/) } });
    expect(await dispatch('capabilities', {})).toMatchObject({ ok: true, value: { profile: 'command-line' } });
    expect(await dispatch('namespaces', {})).toMatchObject({ ok: true, value: { namespaces: [{ name: 'kept' }] } });
    expect(await dispatch('profiles', {})).toMatchObject({ ok: true, value: { profiles: [{ id: 'command-line' }, { id: 'local-default' }] } });
    expect(await profilesText()).not.toContain('silent');
  });

  it('a connect can be cancelled while it waits: nothing changes', async () => {
    const { dispatch } = await setup({ connectTimeoutMs: 60_000 });
    const connecting = dispatch('saveProfile', { profile: silentProfile(), attemptId: 'c1' });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await dispatch('cancel', { transferId: 'c1' })).toEqual({ ok: true, value: { cancelled: true } });
    expect(await connecting).toMatchObject({ ok: false, error: { code: 'cancelled', message: expect.stringContaining('the store that was open stays open') } });
    expect(await dispatch('capabilities', {})).toMatchObject({ ok: true, value: { profile: 'command-line' } });
  });
});

describe('profiles', () => {
  it('refuses a folder that does not exist, and a file, saving nothing', async () => {
    const { dispatch, profilesText } = await setup();
    const missing = path.join(dir, 'no-such-folder');
    expect(await dispatch('saveProfile', { profile: { kind: 'local', name: 'typo', dir: missing } })).toMatchObject({
      ok: false,
      error: { code: 'invalid_input', message: `the folder ${missing} does not exist: create it first, or choose another` },
    });
    const file = path.join(dir, 'a-file');
    writeFileSync(file, '');
    expect(await dispatch('saveProfile', { profile: { kind: 'local', name: 'file', dir: file } })).toMatchObject({ ok: false, error: { code: 'invalid_input', message: `${file} is not a folder` } });
    expect(await profilesText()).toBe('');
    expect(await dispatch('capabilities', {})).toMatchObject({ ok: true, value: { profile: 'command-line' } });
  });

  it('a saved folder that was moved away does not connect (no empty store is started in its place) until it is back', async () => {
    const { dispatch } = await setup();
    const folder = mkdtempSync(path.join(dir, 'moved-'));
    const saved = (await dispatch('saveProfile', { profile: { kind: 'local', name: 'moved', dir: folder } })) as { ok: true; value: { profile: { id: string } } };
    await dispatch('connect', { id: 'command-line' });
    renameSync(folder, `${folder}-away`);
    expect(await dispatch('connect', { id: saved.value.profile.id })).toMatchObject({ ok: false, error: { code: 'storage_unreachable', message: `the store folder ${folder} is gone (moved or deleted?): put it back, or pick another store` } });
    expect(existsSync(folder)).toBe(false);
    expect(await dispatch('capabilities', {})).toMatchObject({ ok: true, value: { profile: 'command-line' } });
    renameSync(`${folder}-away`, folder);
    expect(await dispatch('connect', { id: saved.value.profile.id })).toMatchObject({ ok: true, value: { profile: saved.value.profile.id } });
  });

  it("refuses a store folder that holds the app's own settings (its folder or one above it), and saves nothing", async () => {
    const { dispatch, profiles } = await setup();
    const settings = path.dirname(profiles.file);
    const before = await dispatch('profiles', {});
    for (const folder of [settings, path.dirname(settings)]) {
      expect(await dispatch('saveProfile', { profile: { kind: 'local', name: `over ${folder}`, dir: folder } })).toMatchObject({
        ok: false,
        error: { code: 'invalid_input', message: `${folder} holds Cache Admin's own settings (${settings}): choose a folder of its own for the store` },
      });
    }
    expect(await dispatch('profiles', {})).toEqual(before);
  });

  it('edits a profile: a new name and folder, then a secret re-entered after a restart', async () => {
    const { dispatch, profiles } = await setup();
    const first = mkdtempSync(path.join(dir, 'first-'));
    const second = mkdtempSync(path.join(dir, 'second-'));
    const saved = (await dispatch('saveProfile', { profile: { kind: 'local', name: 'work', dir: first } })) as { ok: true; value: { profile: { id: string } } };
    const { id } = saved.value.profile;
    expect(await dispatch('saveProfile', { id, profile: { kind: 'local', name: 'work (moved)', dir: second } })).toMatchObject({ ok: true, value: { profile: { id, name: 'work (moved)', location: second }, capabilities: { profile: id } } });
    expect(await dispatch('saveProfile', { id, profile: { kind: 'local', name: 'Local folder', dir: second } })).toMatchObject({ ok: false, error: { code: 'invalid_input', message: 'another profile is already named Local folder: choose another name, or edit that one' } });
    // Names differ as an operator reads them: not by case alone, and never the command-line store's (rows would not say which store).
    const third = mkdtempSync(path.join(dir, 'third-'));
    expect(await dispatch('saveProfile', { profile: { kind: 'local', name: 'WORK (Moved)', dir: third } })).toMatchObject({ ok: false, error: { code: 'invalid_input', message: 'another profile is already named work (moved): choose another name, or edit that one' } });
    for (const name of ['Command line', 'command LINE']) {
      expect(await dispatch('saveProfile', { profile: { kind: 'local', name, dir: third } })).toMatchObject({ ok: false, error: { code: 'invalid_input', message: 'Command line is the name of the store given on the command line (--store, --s3-bucket): choose another name' } });
    }
    // Added anew under a name in use: refused too, and the profile of that name keeps its folder.
    expect(await dispatch('saveProfile', { profile: { kind: 'local', name: 'work (moved)', dir: first } })).toMatchObject({ ok: false, error: { code: 'invalid_input', message: 'another profile is already named work (moved): choose another name, or edit that one' } });
    const listed = (await dispatch('profiles', {})) as { ok: true; value: { profiles: { id: string; name: string }[] } };
    expect(listed.value.profiles.filter((p) => p.id === id)).toEqual([expect.objectContaining({ name: 'work (moved)' })]);
    // The same folder spelled another way is the same folder: one profile opens it.
    const spelled = `${path.dirname(second)}/../${path.basename(path.dirname(second))}/${path.basename(second)}/`;
    expect(await dispatch('saveProfile', { profile: { kind: 'local', name: 'again', dir: spelled } })).toMatchObject({ ok: false, error: { code: 'invalid_input', message: `the profile work (moved) already opens ${second}: choose it, or edit it` } });
    expect(await dispatch('saveProfile', { profile: { kind: 'local', name: 'home', dir: '~/cache' } })).toMatchObject({ ok: false, error: { code: 'invalid_input', message: expect.stringContaining('must be an absolute path (a ~ is not expanded') } });

    // A bucket whose secret was kept only for the run: after a restart it must be entered again.
    const bucket = { kind: 's3' as const, name: 'bucket', bucket: 'my-bucket', prefix: '', region: 'us-east-1', endpoint: '', pathStyle: false, awsProfile: '', accessKeyId: 'AKIAEXAMPLE12345', secretAccessKey: 'kept-for-the-run' };
    const prepared = await profiles.prepare(bucket, false);
    await profiles.save(prepared);
    const restarted = new ProfileStore(profiles.file, NO_KEYRING, path.join(dir, 'store'));
    await expect(restarted.location(prepared.stored.id)).rejects.toMatchObject({ code: 'access_denied', message: expect.stringContaining('edit it in Stores') });
    await expect(restarted.prepare({ ...bucket, secretAccessKey: '' }, false, prepared.stored.id)).rejects.toMatchObject({ code: 'invalid_input', message: expect.stringContaining('enter the secret key of bucket again') });
    const edited = await restarted.prepare({ ...bucket, region: 'eu-west-1', secretAccessKey: 'entered-again' }, false, prepared.stored.id);
    await restarted.save(edited);
    expect((await restarted.location(prepared.stored.id)).location).toMatchObject({ config: { region: 'eu-west-1', credentials: { secretAccessKey: 'entered-again' } } });
    // An edit that leaves the secret empty keeps the one entered, for the same key id, typed again or kept unseen.
    await restarted.save(await restarted.prepare({ ...bucket, name: 'renamed bucket', secretAccessKey: '' }, false, prepared.stored.id));
    await restarted.save(await restarted.prepare({ ...bucket, endpoint: 'https://s3.example.com', accessKeyId: '', secretAccessKey: '' }, false, prepared.stored.id, true));
    expect((await restarted.location(prepared.stored.id)).location).toMatchObject({ config: { endpoint: 'https://s3.example.com', credentials: { accessKeyId: 'AKIAEXAMPLE12345', secretAccessKey: 'entered-again' } } });
  });
});

describe('a damaged profiles.json', () => {
  it('is named in the error, never with the text around the fault (a secret kept in plain text)', async () => {
    const file = path.join(mkdtempSync(path.join(dir, 'damaged-')), 'profiles.json');
    writeFileSync(file, '{"version": 1, "profiles": [{"id": "b", "plaintext": BYiRCjpTqSsecretsecret"}]}');
    const error = await new ProfileStore(file, NO_KEYRING, path.join(dir, 'store')).view().catch((err: unknown) => err as CacheError);
    expect(error).toMatchObject({ code: 'invalid_input' });
    expect((error as Error).message).toMatch(/profiles\.json is not valid JSON: fix it/);
    expect((error as Error).message).not.toContain('BYiRCjp');
  });
});

describe('store choices', () => {
  it('a layout option the open layout does not take, or options that are not a map of text, store nothing', async () => {
    const { dispatch } = await setup();
    const file = path.join(dir, 'choice.txt');
    writeFileSync(file, 'chosen');
    expect(await dispatch('storeFile', { namespace: 'default', path: file, transferId: 'o1', options: { strategy: 'direct' } })).toMatchObject({ ok: false, error: { code: 'invalid_input' } });
    expect(await dispatch('hashFile', { namespace: 'default', path: file, transferId: 'o2', options: { strategy: 'direct' } })).toMatchObject({ ok: false, error: { code: 'invalid_input' } });
    expect(await dispatch('storeFile', { namespace: 'default', path: file, transferId: 'o3', options: { strategy: 42 } })).toMatchObject({ ok: false, error: { code: 'invalid_input' } });
    expect(await dispatch('namespaces', {})).toEqual({ ok: true, value: { namespaces: [] } });
    for (const options of ['{', '"direct"', '{"strategy":1}', '[1]', 'x'.repeat(5000)]) {
      expect(uploadQuerySchema.safeParse({ op: 'store', namespace: 'default', transferId: 'u1', options }).success, options.slice(0, 20)).toBe(false);
    }
    expect(uploadQuerySchema.parse({ op: 'store', namespace: 'default', transferId: 'u1', options: '{"strategy":"direct"}' }).options).toEqual({ strategy: 'direct' });
  });
});
