import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { methods, type EntryView, type MethodName, type PrunePlanView } from '../../src-shared/contract';
import { FIXTURE_STORE } from '../core/formats/mgraph/fixture';
import { CountingStorage } from '../core/storage/counting';
import { MemoryStorage } from '../core/storage/memory';
import { NO_KEYRING } from '../profiles/secret-box';
import { ProfileStore } from '../profiles/profiles';
import { holdingLease } from '../core/lease';
import { createDispatcher, retrieveRef, suggestedFileName } from './dispatch';
import { populateNamespace } from '../test-support/fixture-store';
import { memorySession } from '../test-support/memory-session';
import { PathGrants } from './path-grants';
import { AppSession } from './session';

const dir = mkdtempSync(path.join(tmpdir(), 'dispatch-'));
const FILE = path.join(dir, 'hello.txt');
writeFileSync(FILE, 'hello world');

/**
 * A session on a counting in-memory store, as Electron runs it: the operator chose `dir` (which
 * also holds the app's data folder, as a home folder holds ~/.config); `realBackends` lets
 * profiles open real stores.
 */
async function setup({ realBackends = false } = {}) {
  const storage = new CountingStorage(new MemoryStorage());
  let pathGrants!: PathGrants;
  const { session, profiles, dispatch } = await memorySession(dir, realBackends ? null : storage, (home) => {
    pathGrants = new PathGrants([home]);
    pathGrants.grant(dir);
    return { pathGrants };
  });
  // Opening the store lists a few keys to detect its layout (and reads an empty one's mark); count only what calls do after that.
  storage.counts.list = 0;
  storage.counts.get = 0;
  const calls = () => Object.values(storage.counts).reduce((a, b) => a + b, 0);
  const profilesText = () => readFile(profiles.file, 'utf8').catch(() => '');
  return { storage, session, dispatch, calls, profilesText, profiles, pathGrants };
}

const HOSTILE = ['../../etc/passwd', '/abs/path', 'a\u0000b', 'x'.repeat(100_000), '😀', '', 'DEFAULT'];
const WRONG_TYPES = [null, 42, true, [], ['default'], { nested: 1 }];

/** Malformed versions of a valid payload: each field wrong in each way, plus extra fields. */
function malformed(valid: Record<string, unknown>): unknown[] {
  const out: unknown[] = [42, 'string', [valid], { ...valid, extra: 1 }];
  for (const key of Object.keys(valid)) {
    const { [key]: _dropped, ...missing } = valid;
    out.push(missing);
    for (const bad of [...HOSTILE, ...WRONG_TYPES]) {
      if (bad !== valid[key]) out.push({ ...valid, [key]: bad });
    }
  }
  return out;
}

const VALID: { [M in MethodName]: Record<string, unknown> } = {
  capabilities: {},
  namespaces: {},
  namespaceNames: {},
  checkNamespace: { namespace: 'default' },
  stats: { namespace: 'default' },
  shardCounts: { namespace: 'default', shards: ['b9'] },
  versions: { namespace: 'default', hash: 'b94d27b9934d3e08' },
  entry: { namespace: 'default', ref: 'b94d27b9934d3e08' },
  listKeys: { prefix: 'default/', limit: 10, delimiter: true },
  delete: { namespace: 'default', ref: 'b94d27b9934d3e08-v1' },
  entries: { namespace: 'default', limit: 100 },
  deleteEntries: { namespace: 'default', selection: { hashes: ['b94d27b9934d3e08'] }, transferId: 't-delete' },
  saveEntries: { namespace: 'default', selection: { filter: {}, except: [], count: 0 } },
  describeKey: { key: 'default/objects/b9/4d/b94d27b9934d3e08' },
  storeBytes: { namespace: 'default', name: 'a.txt', base64: Buffer.from('hello world').toString('base64'), as: 'bytes' },
  hashFile: { namespace: 'default', path: FILE, transferId: 't1' },
  storeFile: { namespace: 'default', path: FILE, transferId: 't2', as: 'bytes' },
  cancel: { transferId: 't3' },
  operations: {},
  storePaths: { namespace: 'default', dropId: 'd1', files: [{ path: FILE, name: 'photos/a.txt' }], as: 'bytes' },
  cancelDrop: { dropId: 'd2' },
  saveEntry: { namespace: 'default', ref: 'b94d27b9934d3e08' },
  verify: { namespace: 'default', transferId: 'v1' },
  policy: {},
  setPolicy: { namespace: 'default', ttl: '30d', keepVersions: 'none' },
  prunePlan: { namespace: 'default' },
  prune: { namespace: 'default', transferId: 'p1', planId: '00000000-0000-4000-8000-000000000001' },
  profiles: {},
  saveProfile: { profile: { kind: 's3', name: 'prod', bucket: 'my-bucket', accessKeyId: 'AKIAEXAMPLE12345', secretAccessKey: 'secret/KEY' } },
  removeProfile: { id: 's3-abcdef12' },
  connect: { id: 'local-default' },
};

describe('contract dispatch', () => {
  it('covers every method of the contract', () => {
    expect(Object.keys(VALID).sort()).toEqual(Object.keys(methods).sort());
  });

  it.each(Object.keys(VALID) as MethodName[])('%s: malformed payloads get a typed error and never reach storage', async (method) => {
    const { dispatch, calls, profilesText } = await setup();
    const rejected: string[] = [];
    for (const payload of malformed(VALID[method])) {
      const before = calls();
      const profilesBefore = await profilesText();
      const result = await dispatch(method, payload);
      if (result.ok) continue; // e.g. a hostile string that is still a valid listKeys prefix is not an error
      expect(result.error.code).toMatch(/^(invalid_\w+|not_found|access_denied)$/);
      expect(JSON.stringify(result.error)).not.toMatch(/\n\s+at /); // no stack traces
      if (result.error.code !== 'not_found') {
        expect(calls()).toBe(before);
        expect(await profilesText()).toBe(profilesBefore);
      }
      rejected.push(result.error.code);
    }
    expect(rejected.length).toBeGreaterThan(0);
  });

  it('rejects unknown methods and prototype names', async () => {
    const { dispatch, calls } = await setup();
    for (const name of ['nope', '__proto__', 'constructor', 'toString', 42, null]) {
      expect(await dispatch(name, {})).toEqual({ ok: false, error: { code: 'invalid_input', message: 'unknown method' } });
    }
    expect(calls()).toBe(0);
  });

  it('round-trips valid calls: store, entry with preview, versions, keys, delete', async () => {
    const { dispatch } = await setup();
    const stored = await dispatch('storeBytes', VALID.storeBytes);
    expect(stored).toMatchObject({ ok: true, value: { cache_id: 'b94d27b9934d3e08-v1' } });
    const entry = await dispatch('entry', { namespace: 'default', ref: 'B94D27B9934D3E08' });
    expect(entry).toMatchObject({ ok: true, value: { record: { format: 'native', latest_version: 1 }, previewTruncated: false } });
    expect(Buffer.from((entry as { value: { preview: string } }).value.preview, 'base64').toString()).toBe('hello world');
    expect(await dispatch('versions', VALID.versions)).toMatchObject({ ok: true, value: { count: 1 } });
    expect(await dispatch('listKeys', { prefix: '', delimiter: true })).toMatchObject({ ok: true, value: { prefixes: ['default/'] } });
    expect(await dispatch('entries', VALID.entries)).toMatchObject({ ok: true, value: { total: 1, rows: [{ hash: 'b94d27b9934d3e08', size: 11, source: 'a.txt' }] } });
    expect(await dispatch('describeKey', VALID.describeKey)).toMatchObject({ ok: true, value: { kind: 'content', hash: 'b94d27b9934d3e08', size: 11 } });
    expect(await dispatch('stats', { namespace: 'default' })).toMatchObject({ ok: true, value: { entries: 1, shards: { b9: 1 } } });
    expect(await dispatch('delete', VALID.delete)).toMatchObject({ ok: true, value: { contentRemoved: true } });
    expect(await dispatch('entry', VALID.entry)).toMatchObject({ ok: false, error: { code: 'not_found' } });
  });

  it('store options named __proto__ (JSON.parse makes it an own key) are refused, not dropped for the defaults', async () => {
    const { dispatch } = await setup();
    const options = JSON.parse('{"__proto__": {"strategy": "direct"}}') as Record<string, string>;
    expect(await dispatch('storeBytes', { ...VALID.storeBytes, options })).toEqual({ ok: false, error: { code: 'invalid_input', message: 'storeBytes: options: an option cannot be named __proto__' } });
    expect(await dispatch('entries', VALID.entries)).toMatchObject({ ok: true, value: { total: 0 } });
  });

  it('base64 cut short or badly padded is refused, not stored as whatever part of it decodes', async () => {
    const { dispatch } = await setup();
    for (const base64 of ['aGVsbG8', 'aGVsbG8gd', 'aGVsbA=', 'aGVs bG8=', 'YR==', 'aGVsbG8=aGVsbG8=', 'aGVsbG8-']) {
      expect(await dispatch('storeBytes', { ...VALID.storeBytes, base64 })).toMatchObject({ ok: false, error: { code: 'invalid_input', message: expect.stringContaining('content must be base64') } });
    }
    expect(await dispatch('entries', VALID.entries)).toMatchObject({ ok: true, value: { total: 0 } });
    expect(await dispatch('storeBytes', { ...VALID.storeBytes, base64: 'aGVsbG8=' })).toMatchObject({ ok: true, value: { size: 5 } });
  });

  it('a lookup that misses its namespace says which namespaces hold the entry (as the CLI does)', async () => {
    const { dispatch, storage } = await setup();
    for (const namespace of ['big', 'other']) await dispatch('storeBytes', { ...VALID.storeBytes, namespace });
    expect(await dispatch('entry', { namespace: 'docs', ref: 'b94d27b9934d3e08' })).toMatchObject({
      ok: false,
      error: { code: 'not_found', message: expect.stringMatching(/; it is in namespaces big, other$/) },
    });
    expect(await dispatch('entry', { namespace: 'docs', ref: 'b94d27b9934d3e08-v2' })).toMatchObject({ ok: false, error: { code: 'not_found', message: expect.not.stringContaining('it is in') } });
    // A damaged record is still its namespace's entry (it opens there, to be verified or deleted): named too.
    for (const key of ['other/objects/b9/4d/b94d27b9934d3e08.latest.json', 'other/objects/b9/4d/b94d27b9934d3e08.v00000001.json']) await storage.put(key, new TextEncoder().encode('garbage'));
    expect(await dispatch('entry', { namespace: 'other', ref: 'b94d27b9934d3e08' })).toMatchObject({ ok: false, error: { code: 'corrupt' } });
    expect(await dispatch('entry', { namespace: 'docs', ref: 'b94d27b9934d3e08' })).toMatchObject({ ok: false, error: { message: expect.stringMatching(/; it is in namespaces big, other$/) } });
    // Here, with its records lost: the hint says the others hold it too (it read as if the entry were elsewhere).
    for (const key of ['big/objects/b9/4d/b94d27b9934d3e08.latest.json', 'big/objects/b9/4d/b94d27b9934d3e08.v00000001.json']) await storage.delete(key);
    expect(await dispatch('entry', { namespace: 'big', ref: 'b94d27b9934d3e08' })).toMatchObject({
      ok: false,
      error: { code: 'not_found', message: expect.stringMatching(/^b94d27b9934d3e08's version records are missing, .*; it is also in namespace other$/) },
    });
  });

  it('bounds the preview of big content', async () => {
    const { dispatch } = await setup();
    const big = Buffer.alloc(200_000, 7).toString('base64');
    const stored = await dispatch('storeBytes', { namespace: 'default', name: 'big', base64: big });
    const ref = (stored as { value: { hash: string } }).value.hash;
    const entry = (await dispatch('entry', { namespace: 'default', ref })) as { value: { preview: string; previewTruncated: boolean } };
    expect(Buffer.from(entry.value.preview, 'base64').length).toBe(64 * 1024);
    expect(entry.value.previewTruncated).toBe(true);
  });

  it('a corrupt version: Save fails corrupt and leaves no file; the entry still opens, marked corrupt, without a preview', async () => {
    const storage = new MemoryStorage();
    const saveDir = mkdtempSync(path.join(dir, 'save-'));
    const target = path.join(saveDir, 'hello.txt');
    const profilesDir = mkdtempSync(path.join(dir, 'profiles-'));
    const session = new AppSession({
      profiles: new ProfileStore(path.join(profilesDir, 'profiles.json'), NO_KEYRING, path.join(profilesDir, 'store')),
      commandLine: { kind: 'memory' },
      openBackend: async () => storage,
      chooseSavePath: async () => target,
    });
    await session.start();
    const dispatch = createDispatcher(session);
    await dispatch('storeBytes', VALID.storeBytes);
    const ok = (await dispatch('entry', VALID.entry)) as { value: EntryView };
    expect(ok.value).toMatchObject({ previewVerified: true, previewTruncated: false });
    expect(ok.value.contentProblem).toBeUndefined();

    const contentKey = 'default/objects/b9/4d/b94d27b9934d3e08';
    await storage.put(contentKey, new TextEncoder().encode('hello wOrld'));
    expect(await dispatch('saveEntry', VALID.saveEntry)).toEqual({ ok: false, error: { code: 'corrupt', message: expect.stringMatching(/^the content of b94d27b9934d3e08-v1 is corrupt: its SHA-256 should be b94d27b9/) } });
    expect(readdirSync(saveDir)).toEqual([]);
    const corrupt = (await dispatch('entry', VALID.entry)) as { value: EntryView };
    expect(corrupt.value).toMatchObject({ record: { cache_id: 'b94d27b9934d3e08-v1' }, preview: '', previewVerified: false, contentProblem: 'corrupt' });

    await storage.delete(contentKey);
    const missing = (await dispatch('entry', VALID.entry)) as { value: EntryView };
    expect(missing.value).toMatchObject({ record: { cache_id: 'b94d27b9934d3e08-v1', size: 11 }, preview: '', previewVerified: false, contentProblem: 'missing' });
    expect(await dispatch('saveEntry', VALID.saveEntry)).toMatchObject({ ok: false, error: { code: 'not_found' } });
    expect(readdirSync(saveDir)).toEqual([]);
    expect(await dispatch('delete', { namespace: 'default', ref: 'b94d27b9934d3e08' })).toEqual({ ok: true, value: { deleted: ['b94d27b9934d3e08-v1'], contentRemoved: true, bytesFreed: 0 } }); // its content was gone already
    expect(await dispatch('entry', VALID.entry)).toMatchObject({ ok: false, error: { code: 'not_found' } });
  });

  it('a store folder deleted while open is reported unreachable on every call, never as empty, and a store never makes it again', async () => {
    const storeDir = path.join(mkdtempSync(path.join(dir, 'vanishing-')), 'store');
    const profilesDir = mkdtempSync(path.join(dir, 'profiles-'));
    const session = new AppSession({ profiles: new ProfileStore(path.join(profilesDir, 'profiles.json'), NO_KEYRING, path.join(profilesDir, 'store')), commandLine: { kind: 'local', dir: storeDir } });
    await session.start();
    const dispatch = createDispatcher(session);
    expect(await dispatch('storeBytes', VALID.storeBytes)).toMatchObject({ ok: true });
    rmSync(storeDir, { recursive: true });
    const unreachable = { ok: false, error: { code: 'storage_unreachable', message: expect.stringContaining(storeDir) } };
    for (const method of ['namespaces', 'namespaceNames', 'entries', 'stats', 'entry', 'storeBytes', 'delete', 'listKeys'] as const) {
      expect(await dispatch(method, VALID[method]), method).toMatchObject(unreachable);
    }
    expect(existsSync(storeDir)).toBe(false);
  });

  it('hashes before storing, reports progress, and says when content is already stored', async () => {
    const { dispatch, session } = await setup();
    const events: unknown[] = [];
    session.onEvent((e) => events.push(e));
    expect(await dispatch('hashFile', VALID.hashFile)).toEqual({ ok: true, value: { hash: 'b94d27b9934d3e08', sha256: expect.any(String), size: 11, existing: null } });
    expect(await dispatch('storeFile', VALID.storeFile)).toMatchObject({ ok: true, value: { cache_id: 'b94d27b9934d3e08-v1', source: 'hello.txt' } });
    expect(await dispatch('hashFile', VALID.hashFile)).toMatchObject({ ok: true, value: { existing: { cache_id: 'b94d27b9934d3e08-v1', version: 1 } } });
    expect(events).toContainEqual({ type: 'progress', transferId: 't2', phase: 'store', bytesDone: 11, totalBytes: 11 });
  });

  it('refuses folders and missing files without touching storage', async () => {
    const { dispatch, calls } = await setup();
    expect(await dispatch('storeFile', { ...VALID.storeFile, path: dir })).toMatchObject({ ok: false, error: { code: 'invalid_input' } });
    expect(await dispatch('storeFile', { ...VALID.storeFile, path: path.join(dir, 'missing') })).toMatchObject({ ok: false, error: { code: 'not_found' } });
    expect(calls()).toBe(0);
  });

  it('reads only files the operator chose, never the app data, /proc, a link out or a FIFO: refused, nothing stored', async () => {
    const { dispatch, calls, profiles, pathGrants } = await setup();
    await dispatch('saveProfile', { ...VALID.saveProfile, allowPlaintextSecret: true }); // profiles.json now holds a secret
    const opened = calls(); // connecting to the saved profile's store lists a few keys
    const chosen = mkdtempSync(path.join(dir, 'chosen-'));
    const fifo = path.join(chosen, 'fifo');
    execFileSync('mkfifo', [fifo]);
    symlinkSync(profiles.file, path.join(chosen, 'profiles-link.json'));
    symlinkSync('/proc/self/environ', path.join(chosen, 'environ'));
    mkdirSync(path.join(chosen, 'sub'));
    writeFileSync(path.join(chosen, 'sub', 'photo.jpg'), 'chosen bytes');
    const elsewhere = path.join(mkdtempSync(path.join(tmpdir(), 'not-chosen-')), 'a.txt');
    writeFileSync(elsewhere, 'never chosen');
    // Even chosen, the app's own data and the kernel's trees stay closed.
    for (const granted of ['/proc/self/environ', profiles.file, '/dev']) pathGrants.grant(granted);
    const refused = [
      ['/proc/self/environ', 'access_denied'],
      [profiles.file, 'access_denied'],
      [path.join(chosen, 'profiles-link.json'), 'access_denied'],
      [path.join(chosen, 'environ'), 'access_denied'],
      ['/dev/zero', 'access_denied'],
      [elsewhere, 'access_denied'],
      ['/etc/passwd', 'access_denied'],
      [fifo, 'invalid_input'],
    ] as const;
    for (const [file, code] of refused) {
      for (const method of ['storeFile', 'hashFile'] as const) {
        const result = await dispatch(method, { namespace: 'default', path: file, transferId: 'r1' });
        expect(result, `${method} ${file}`).toMatchObject({ ok: false, error: { code } });
      }
    }
    expect(calls()).toBe(opened);
    expect(await dispatch('storeFile', { namespace: 'default', path: path.join(chosen, 'sub', 'photo.jpg'), transferId: 'ok1' })).toMatchObject({
      ok: true,
      value: { source: 'photo.jpg', size: 12 },
    });
  });

  it('a window without path grants (the bridge) sends files as uploads: path channels are refused', async () => {
    const profilesDir = mkdtempSync(path.join(dir, 'profiles-'));
    const session = new AppSession({ profiles: new ProfileStore(path.join(profilesDir, 'profiles.json'), NO_KEYRING, path.join(profilesDir, 'store')), commandLine: { kind: 'memory' } });
    await session.start();
    const bridgeDispatch = createDispatcher(session);
    expect(await bridgeDispatch('storeFile', VALID.storeFile)).toMatchObject({ ok: false, error: { code: 'access_denied' } });
    expect(await bridgeDispatch('hashFile', VALID.hashFile)).toMatchObject({ ok: false, error: { code: 'access_denied' } });
    expect(await bridgeDispatch('namespaces', {})).toEqual({ ok: true, value: { namespaces: [] } });
  });

  it('cancels a running store: it fails with cancelled and nothing is stored', async () => {
    const { dispatch, session } = await setup();
    const big = path.join(dir, 'big.bin');
    writeFileSync(big, Buffer.alloc(64 * 1024 * 1024, 1));
    session.onEvent((e) => {
      if (e.type === 'progress' && e.transferId === 'big') void dispatch('cancel', { transferId: 'big' });
    });
    const result = await dispatch('storeFile', { namespace: 'default', path: big, transferId: 'big' });
    expect(result).toMatchObject({ ok: false, error: { code: 'cancelled' } });
    expect(await dispatch('namespaces', {})).toEqual({ ok: true, value: { namespaces: [] } });
    expect(await dispatch('cancel', { transferId: 'big' })).toEqual({ ok: true, value: { cancelled: true } });
  });

  it('never returns or persists a secret key without a keyring unless the operator allows it', async () => {
    const { dispatch, profilesText, profiles } = await setup();
    const saved = await dispatch('saveProfile', VALID.saveProfile);
    expect(saved).toMatchObject({ ok: true, value: { profile: { location: 's3://my-bucket/' }, capabilities: { profile: expect.stringMatching(/^s3-/) } } });
    const listed = await dispatch('profiles', {});
    expect(saved).toMatchObject({ ok: true, value: { profile: { kind: 's3', maskedKeyId: 'AKIA…2345', secret: 'session' } } });
    expect(listed).toMatchObject({ ok: true, value: { keyring: { available: false }, active: (saved as { value: { profile: { id: string } } }).value.profile.id } });
    for (const seenByRenderer of [JSON.stringify(saved), JSON.stringify(listed)]) {
      expect(seenByRenderer).not.toContain('secret/KEY');
      expect(seenByRenderer).not.toContain('AKIAEXAMPLE12345');
    }
    expect(await profilesText()).not.toContain('secret/KEY');
    const plain = await dispatch('saveProfile', { ...VALID.saveProfile, id: (saved as { value: { profile: { id: string } } }).value.profile.id, allowPlaintextSecret: true });
    expect(plain).toMatchObject({ ok: true, value: { profile: { secret: 'plaintext' } } });
    expect(await profilesText()).toContain('secret/KEY');
    expect(statSync(profiles.file).mode & 0o077).toBe(0); // owner-only
  });

  it('rejects bad nested profile fields without writing the profiles file', async () => {
    const { dispatch, profilesText } = await setup();
    const before = await profilesText();
    const profile = VALID.saveProfile.profile as Record<string, unknown>;
    const bad = [
      { bucket: '../etc' },
      { bucket: 'UPPER' },
      { prefix: '../x/' },
      { prefix: 'no-slash' },
      { endpoint: 'file:///etc/passwd' },
      { accessKeyId: 'has space' },
      { secretAccessKey: 'x'.repeat(10_000) },
      { name: '' },
      { kind: 'ftp' },
      { pathStyle: 'yes' },
    ];
    for (const change of bad) {
      expect(await dispatch('saveProfile', { profile: { ...profile, ...change } })).toMatchObject({ ok: false, error: { code: 'invalid_input' } });
    }
    expect(await dispatch('saveProfile', { profile: { kind: 'local', name: 'x', dir: 'relative/dir' } })).toMatchObject({ ok: false });
    expect(await dispatch('saveProfile', { profile: { ...profile, secretAccessKey: '' } })).toMatchObject({ ok: false, error: { code: 'invalid_input' } });
    expect(await profilesText()).toBe(before);
  });

  it('switches stores by profile, and a profile that cannot connect changes nothing', async () => {
    const { dispatch } = await setup({ realBackends: true });
    await dispatch('storeBytes', { namespace: 'kept', name: 'a', base64: Buffer.from('kept').toString('base64') });
    // A profile that cannot connect is not saved, and the store that was open stays open.
    const unreachable = await dispatch('saveProfile', { profile: { kind: 's3', name: 'down', bucket: 'nobody', endpoint: 'http://127.0.0.1:9', pathStyle: true, region: 'us-east-1', accessKeyId: 'AKIAEXAMPLE12345', secretAccessKey: 's' } });
    expect(unreachable).toMatchObject({ ok: false, error: { code: 'storage_unreachable' } });
    expect(await dispatch('capabilities', {})).toMatchObject({ ok: true, value: { profile: 'command-line' } });
    expect(await dispatch('profiles', {})).toMatchObject({ ok: true, value: { profiles: [{ id: 'command-line' }, { id: 'local-default' }] } });
    const other = mkdtempSync(path.join(dir, 'other-'));
    const saved = await dispatch('saveProfile', { profile: { kind: 'local', name: 'other', dir: other } });
    const id = (saved as { value: { profile: { id: string } } }).value.profile.id;
    expect(await dispatch('connect', { id: 'local-default' })).toMatchObject({ ok: true, value: { profile: 'local-default', conditionalWrites: true } });
    expect(await dispatch('removeProfile', { id: 'local-default' })).toMatchObject({ ok: false, error: { code: 'invalid_input' } });
    // The command-line store stays listed and keeps its contents while another profile is active.
    expect(await dispatch('profiles', {})).toMatchObject({ ok: true, value: { active: 'local-default', profiles: [{ id: 'command-line', removable: false }, { id: 'local-default', removable: false }, { id, removable: true }] } });
    expect(await dispatch('connect', { id: 'command-line' })).toMatchObject({ ok: true, value: { profile: 'command-line', store: 'memory' } });
    expect(await dispatch('namespaces', {})).toMatchObject({ ok: true, value: { namespaces: [{ name: 'kept' }] } });
    expect(await dispatch('removeProfile', { id })).toEqual({ ok: true, value: { removed: true } });
  });

  it('opens the default folder when the saved active profile cannot connect', async () => {
    const dir2 = mkdtempSync(path.join(dir, 'restart-'));
    const profiles = new ProfileStore(path.join(dir2, 'profiles.json'), NO_KEYRING, path.join(dir2, 'store'));
    await profiles.save(await profiles.prepare({ kind: 's3', name: 'down', bucket: 'nobody', prefix: '', region: 'us-east-1', endpoint: 'http://127.0.0.1:9', pathStyle: true, awsProfile: '', accessKeyId: '', secretAccessKey: '' }, false));
    const session = new AppSession({ profiles });
    const logged = vi.spyOn(console, 'error').mockImplementation(() => {});
    await session.start();
    expect(session.capabilities().profile).toBe('local-default');
    expect(logged.mock.calls[0]?.[0]).toMatch(/did not connect/);
    logged.mockRestore();
  });

  describe("a store in the Python service's layout, through the same contract", () => {
    // A direct-strategy JSON entry the real service wrote, with two child data files.
    const GUID = '673ba2a8-1dd7-4ecc-b702-9cc49e44f642';
    const HASH = 'a2a0c3b8c3a32ed2';

    async function serviceSession(format?: 'native' | 'mgraph') {
      const copy = mkdtempSync(path.join(dir, 'service-'));
      cpSync(FIXTURE_STORE, copy, { recursive: true });
      const profilesDir = mkdtempSync(path.join(dir, 'profiles-'));
      const profiles = new ProfileStore(path.join(profilesDir, 'profiles.json'), NO_KEYRING, path.join(profilesDir, 'store'));
      const session = new AppSession({ profiles, commandLine: { kind: 'local', dir: copy }, commandLineFormat: format });
      await session.start();
      return { dispatch: createDispatcher(session), session, copy, profiles };
    }

    it('detects the layout, names namespaces as the service does, and looks up a GUID, a hash and a storage key', async () => {
      const { dispatch, session } = await serviceSession();
      expect(await dispatch('capabilities', {})).toMatchObject({ ok: true, value: { format: 'mgraph', formatReason: expect.stringContaining('refs/'), storeAs: ['bytes', 'json', 'string'] } });
      expect(await dispatch('namespaceNames', {})).toMatchObject({ ok: true, value: { names: expect.arrayContaining(['TeamA', 'reports']) } });
      const byGuid = (await dispatch('entry', { namespace: 'reports', ref: GUID.toUpperCase() })) as { ok: true; value: EntryView };
      expect(byGuid).toMatchObject({ ok: true, value: { record: { format: 'mgraph', hash: HASH, cache_id: GUID, version: 1, details: { strategy: 'direct' }, data_type: 'json' } } });
      expect(byGuid.value.record.child_data.map((c) => c.key)).toEqual(expect.arrayContaining([expect.stringContaining(`${GUID}/data/analysis/summary.json`)]));
      expect(byGuid.value.record.keys.map((k) => k.role)).toEqual(expect.arrayContaining(['content']));
      expect(JSON.parse(Buffer.from(byGuid.value.preview, 'base64').toString('utf8'))).toMatchObject({ title: 'Quarterly report', owner: 'Zoë' });
      expect(await dispatch('entry', { namespace: 'reports', ref: HASH })).toMatchObject({ ok: true, value: { record: { cache_id: GUID } } });
      const key = byGuid.value.record.keys.find((k) => k.role === 'content')!.key;
      expect(await dispatch('entry', { namespace: 'reports', ref: key })).toMatchObject({ ok: true, value: { record: { cache_id: GUID } } });
      expect(await dispatch('versions', { namespace: 'reports', hash: HASH })).toMatchObject({ ok: true, value: { count: 1, versions: [{ cache_id: GUID, version: 1 }] } });
      const described = await dispatch('describeKey', { key: `reports/refs/by-id/67/3b/${GUID}.json` });
      expect(described).toMatchObject({ ok: true, value: { kind: expect.not.stringMatching(/^unknown$/), explanation: expect.any(String), cache_id: GUID } });
      await session.close();
    });

    it("refuses a namespace by the service's rules, and a native-only name rule no longer applies", async () => {
      const { dispatch, session } = await serviceSession();
      expect(await dispatch('stats', { namespace: 'TeamA' })).toMatchObject({ ok: true, value: { name: 'TeamA', entries: 2 } });
      expect(await dispatch('stats', { namespace: 'a.b' })).toMatchObject({ ok: false, error: { code: 'invalid_namespace', message: expect.stringContaining('service namespace') } });
      // <hash>-v<N> names the Nth version here too (as Versions numbers them): a hash not in the namespace is not found.
      expect(await dispatch('entry', { namespace: 'reports', ref: 'b94d27b9934d3e08-v2' })).toMatchObject({ ok: false, error: { code: 'not_found' } });
      expect(await dispatch('entry', { namespace: 'reports', ref: 'b94d27b9934d3e08-x2' })).toMatchObject({ ok: false, error: { code: 'invalid_hash' } });
      await session.close();
    });

    it('stores a file the service way and hashes before storing: a second store of it is a new version of the same hash', async () => {
      const { dispatch, session } = await serviceSession();
      const hashed = await dispatch('storeBytes', { namespace: 'TeamA', name: 'a.txt', base64: Buffer.from('dropped into a service store').toString('base64') });
      expect(hashed).toMatchObject({ ok: true, value: { namespace: 'TeamA', version: 1, deduplicated: false, cache_id: expect.stringMatching(/^[0-9a-f-]{36}$/) } });
      const { hash } = (hashed as { value: { hash: string } }).value;
      const again = await dispatch('storeBytes', { namespace: 'TeamA', name: 'a.txt', base64: Buffer.from('dropped into a service store').toString('base64') });
      expect(again).toMatchObject({ ok: true, value: { hash, version: 2, deduplicated: true } });
      const entry = (await dispatch('entry', { namespace: 'TeamA', ref: hash })) as { ok: true; value: EntryView };
      expect(Buffer.from(entry.value.preview, 'base64').toString()).toBe('dropped into a service store');
      expect(entry.value.record).toMatchObject({ version: 2, latest_version: 2 });
      await session.close();
    });

    it('a JSON or text entry whose file was changed shows its record, marked corrupt, as a binary one does (not only an error)', async () => {
      const { dispatch, session, copy } = await serviceSession();
      const before = (await dispatch('entry', { namespace: 'reports', ref: GUID })) as { ok: true; value: EntryView };
      const contentKey = before.value.record.keys.find((k) => k.role === 'content')!.key;
      writeFileSync(path.join(copy, contentKey), '{"title": "changed by hand"}');
      const after = await dispatch('entry', { namespace: 'reports', ref: GUID });
      expect(after).toMatchObject({ ok: true, value: { record: { cache_id: GUID, hash: HASH }, preview: '', contentProblem: 'corrupt' } });
      await session.close();
    });

    it('a profile (or --format) that forces the layout the store does not hold is refused and not kept; forcing its own opens it', async () => {
      await expect(serviceSession('native')).rejects.toMatchObject({ code: 'invalid_input', message: expect.stringContaining("this store holds the Python cache service's layout (found ") });
      const { dispatch, session, copy, profiles } = await serviceSession();
      const refused = await dispatch('saveProfile', { profile: { kind: 'local', name: 'svc-native', dir: copy, format: 'native' } });
      expect(refused).toMatchObject({ ok: false, error: { code: 'invalid_input', message: expect.stringContaining('would show none of its entries') } });
      expect((await profiles.view()).profiles.map((p) => p.name)).not.toContain('svc-native');
      expect(await dispatch('capabilities', {})).toMatchObject({ ok: true, value: { format: 'mgraph' } });
      const saved = await dispatch('saveProfile', { profile: { kind: 'local', name: 'svc', dir: copy, format: 'mgraph' } });
      expect(saved).toMatchObject({ ok: true, value: { profile: { format: 'mgraph' }, capabilities: { format: 'mgraph', formatReason: expect.stringContaining('chosen') } } });
      expect(await dispatch('saveProfile', { profile: { kind: 'local', name: 'bad', dir: '/x', format: 'git' } })).toMatchObject({ ok: false, error: { code: 'invalid_input' } });
      await session.close();
    });
  });

  describe('retention (issue #19)', () => {
    /** A session on memory with old entries (stored from 2026-01-01 on, a second apart) in two namespaces. */
    async function oldStore() {
      const storage = new MemoryStorage();
      const saveDir = mkdtempSync(path.join(dir, 'save-'));
      const profilesDir = mkdtempSync(path.join(dir, 'profiles-'));
      const session = new AppSession({
        profiles: new ProfileStore(path.join(profilesDir, 'profiles.json'), NO_KEYRING, path.join(profilesDir, 'store')),
        commandLine: { kind: 'memory' },
        openBackend: async () => storage,
        chooseSavePath: async () => path.join(saveDir, 'saved.txt'),
      });
      await session.start();
      const alpha = await populateNamespace(storage, 'alpha', 250);
      await populateNamespace(storage, 'beta', 5);
      return { storage, saveDir, session, dispatch: createDispatcher(session), alpha };
    }
    const planIdOf = async (dispatch: ReturnType<typeof createDispatcher>, namespace: string) => ((await dispatch('prunePlan', { namespace })) as { value: PrunePlanView }).value.planId;
    const counts = async (dispatch: ReturnType<typeof createDispatcher>) => ((await dispatch('namespaces', {})) as { value: { namespaces: { name: string; versions: number }[] } }).value.namespaces.map((n) => `${n.name}:${n.versions}`);

    it('a bad AGE or version count is invalid_input, names the value, and changes nothing', async () => {
      const { dispatch, storage } = await oldStore();
      expect(await dispatch('setPolicy', { namespace: 'alpha', ttl: '12h' })).toMatchObject({ ok: true, value: { namespaces: { alpha: { ttl_seconds: 43_200 } } } });
      const keysBefore = (await storage.list('')).objects.map((o) => o.key);
      for (const bad of [{ ttl: '12' }, { ttl: '-1d' }, { ttl: '1.5h' }, { ttl: '999999999d' }, { ttl: '30d', keepVersions: '0' }, { keepVersions: 'many' }]) {
        const result = await dispatch('setPolicy', { namespace: 'alpha', ...bad });
        expect(result).toMatchObject({ ok: false, error: { code: 'invalid_input' } });
        expect((result as { error: { message: string } }).error.message).toContain(JSON.stringify(Object.values(bad).at(-1)));
      }
      expect(await dispatch('setPolicy', { ttl: 'default' })).toMatchObject({ ok: false, error: { code: 'invalid_input' } }); // the store-wide rule has no default to follow
      expect((await storage.list('')).objects.map((o) => o.key)).toEqual(keysBefore);
      expect(await dispatch('policy', {})).toEqual({ ok: true, value: { default: { ttl_seconds: null, keep_versions: null }, namespaces: { alpha: { ttl_seconds: 43_200 } } } });
    });

    it('versions and the entry say expired; its preview and Save are withheld unless asked for anyway', async () => {
      const { dispatch, saveDir, alpha } = await oldStore();
      const { hash, cache_id } = alpha[0]!;
      const before = (await dispatch('entry', { namespace: 'alpha', ref: hash })) as { value: EntryView };
      expect(before.value).toMatchObject({ expired: false, expires_at: null, previewVerified: true });
      await dispatch('setPolicy', { ttl: '30d' });
      expect(await dispatch('versions', { namespace: 'alpha', hash })).toMatchObject({ ok: true, value: { versions: [{ cache_id, expired: true, expires_at: '2026-01-31T00:00:00.000Z' }] } });
      const withheld = (await dispatch('entry', { namespace: 'alpha', ref: hash })) as { value: EntryView };
      expect(withheld.value).toMatchObject({ record: { cache_id }, expired: true, preview: '', withheld: { code: 'expired' } });
      expect(await dispatch('saveEntry', { namespace: 'alpha', ref: hash })).toMatchObject({ ok: false, error: { code: 'expired' } });
      expect(readdirSync(saveDir)).toEqual([]);
      const anyway = (await dispatch('entry', { namespace: 'alpha', ref: hash, allowExpired: true })) as { value: EntryView };
      expect(Buffer.from(anyway.value.preview, 'base64').toString()).toBe('fixture entry 0 of alpha\n');
      expect(anyway.value).toMatchObject({ expired: true, previewVerified: true });
      expect(anyway.value.withheld).toBeUndefined();
      expect(await dispatch('saveEntry', { namespace: 'alpha', ref: hash, allowExpired: true })).toMatchObject({ ok: true, value: { saved: true, bytes: 25 } });
    });

    it('the bridge download (retrieveRef) refuses an expired version unless allowExpired', async () => {
      const { dispatch, session, alpha } = await oldStore();
      await dispatch('setPolicy', { namespace: 'alpha', ttl: '30d' });
      await expect(retrieveRef(session.format, 'alpha', alpha[0]!.hash)).rejects.toMatchObject({ code: 'expired', message: expect.stringContaining('expired at 2026-01-31T00:00:00.000Z') });
      const { content } = await retrieveRef(session.format, 'alpha', alpha[0]!.hash, { allowExpired: true });
      const chunks: Uint8Array[] = [];
      for await (const chunk of content) chunks.push(chunk);
      expect(Buffer.concat(chunks).toString()).toBe('fixture entry 0 of alpha\n');
      const beta = (await session.format.entryRows('beta'))[0]!.hash; // no TTL there: served as before
      expect((await retrieveRef(session.format, 'beta', beta)).record.namespace).toBe('beta');
    });

    it('the plan lists what would go without deleting; prune of one namespace deletes that and leaves the others', async () => {
      const { dispatch, storage } = await oldStore();
      await dispatch('setPolicy', { ttl: '30d' });
      const keysBefore = (await storage.list('')).objects.length;
      const plan = await dispatch('prunePlan', { namespace: 'alpha' });
      expect(plan).toMatchObject({ ok: true, value: { namespace: 'alpha', rule: { ttl_seconds: 2_592_000 }, versions: 250, hashes: 250, contentRemoved: 250, more: 50 } });
      const view = (plan as { value: PrunePlanView }).value;
      expect(view.rows).toHaveLength(200);
      expect(view.rows[0]).toMatchObject({ reason: 'expired', content_removed: true, stored_at: '2026-01-01T00:00:00.000Z' });
      expect(view.bytesFreed).toBeGreaterThan(0);
      expect((await storage.list('')).objects.length).toBe(keysBefore); // a dry run
      expect(await counts(dispatch)).toEqual(['alpha:250', 'beta:5']);

      const pruned = await dispatch('prune', { namespace: 'alpha', transferId: 'prune1', planId: view.planId });
      expect(pruned).toEqual({ ok: true, value: { namespace: 'alpha', planned: 250, pruned: 250, skipped: 0, contentRemoved: 250, bytesFreed: view.bytesFreed, resumed: 0, unreadableRefs: 0, notConfirmed: 0 } });
      expect(await counts(dispatch)).toEqual(['beta:5']);
      expect(await dispatch('prunePlan', { namespace: 'alpha' })).toMatchObject({ ok: true, value: { versions: 0, rows: [], more: 0 } });
    });

    it('prune deletes only versions of the plan confirmed: a version that came to qualify since is left and said (it was pruned too), and a plan not shown here prunes nothing', async () => {
      const { dispatch, storage } = await oldStore();
      const store = () => dispatch('storeBytes', { namespace: 'gamma', name: 'kept.txt', base64: Buffer.from('kept twice').toString('base64'), as: 'bytes' });
      for (let i = 0; i < 3; i++) await store();
      await dispatch('setPolicy', { namespace: 'gamma', keepVersions: '2' });
      const shown = ((await dispatch('prunePlan', { namespace: 'gamma' })) as { value: PrunePlanView }).value;
      expect(shown.rows.map((r) => r.version)).toEqual([1]);
      await store(); // v4: v2 now qualifies too, after the operator confirmed v1 alone
      const keys = (await storage.list('')).objects.length;
      expect(await dispatch('prune', { namespace: 'gamma', transferId: 'stale', planId: '00000000-0000-4000-8000-000000000009' })).toMatchObject({ ok: false, error: { code: 'not_found', message: expect.stringContaining('nothing was pruned') } });
      expect(await dispatch('prune', { namespace: 'beta', transferId: 'other', planId: shown.planId })).toMatchObject({ ok: false, error: { code: 'not_found' } });
      expect((await storage.list('')).objects.length).toBe(keys);
      expect(await dispatch('prune', { namespace: 'gamma', transferId: 'confirmed', planId: shown.planId })).toMatchObject({ ok: true, value: { planned: 1, pruned: 1, notConfirmed: 1 } });
      expect(((await dispatch('versions', { namespace: 'gamma', hash: shown.rows[0]!.hash })) as { value: { versions: { version: number }[] } }).value.versions.map((v) => v.version)).toEqual([2, 3, 4]);
    });

    it('a prune waiting for another prune of its namespace says so in its progress, then counts the plan done of its total', async () => {
      const { dispatch, session } = await oldStore();
      await dispatch('setPolicy', { namespace: 'alpha', ttl: '1d' });
      const seen: { done: number; total: number | null; note?: string }[] = [];
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      let holding!: () => void;
      const taken = new Promise<void>((resolve) => (holding = resolve));
      const other = holdingLease(session.format.storage, '_cache-admin.d/leases/prune/alpha.json', async () => (holding(), held));
      await taken;
      session.onEvent((e) => {
        if (e.type !== 'progress' || e.transferId !== 'prune3') return;
        seen.push({ done: e.bytesDone, total: e.totalBytes, ...(e.note !== undefined && { note: e.note }) });
        if (e.note) release();
      });
      expect(await dispatch('prune', { namespace: 'alpha', transferId: 'prune3', planId: await planIdOf(dispatch, 'alpha') })).toMatchObject({ ok: true, value: { pruned: 250 } });
      await other;
      expect(seen[0]).toEqual({ done: 0, total: 250, note: expect.stringMatching(/^waiting for another prune of alpha to finish \(if it was killed, its hold runs out by \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ\)$/) });
      expect(seen.slice(1).filter((p) => p.note !== undefined || p.total !== 250)).toEqual([]);
      expect(seen.at(-1)).toMatchObject({ done: 250 });
    });

    it('prune reports progress, and a cancel stops it: the result says how many went, the rest stay', async () => {
      const { dispatch, session } = await oldStore();
      await dispatch('setPolicy', { namespace: 'alpha', ttl: '1d' });
      let events = 0;
      session.onEvent((e) => {
        if (e.type === 'progress' && e.transferId === 'prune2' && e.phase === 'prune' && e.bytesDone > 0 && ++events === 1) void dispatch('cancel', { transferId: 'prune2' });
      });
      const result = await dispatch('prune', { namespace: 'alpha', transferId: 'prune2', planId: await planIdOf(dispatch, 'alpha') });
      expect(result).toMatchObject({ ok: false, error: { code: 'cancelled', message: expect.stringMatching(/^the prune was cancelled after \d+ of 250 versions$/) } });
      const gone = Number(/after (\d+)/.exec((result as { error: { message: string } }).error.message)![1]);
      expect(gone).toBeLessThan(250);
      expect(await counts(dispatch)).toEqual([`alpha:${250 - gone}`, 'beta:5']);
      expect(await dispatch('cancel', { transferId: 'prune2' })).toEqual({ ok: true, value: { cancelled: true } });
    });
  });
});

it('a saved version without a source name is named by its id, with the extension its content type or data type gives', () => {
  const record = { source: '', details: {}, cache_id: 'b94d27b9934d3e08-v1', data_type: 'binary', content_type: 'application/json' } as unknown as Parameters<typeof suggestedFileName>[0];
  expect(suggestedFileName(record)).toBe('b94d27b9934d3e08-v1.json');
  expect(suggestedFileName({ ...record, content_type: 'application/octet-stream' })).toBe('b94d27b9934d3e08-v1');
  expect(suggestedFileName({ ...record, content_type: 'text/plain', data_type: 'string' })).toBe('b94d27b9934d3e08-v1.txt');
  expect(suggestedFileName({ ...record, source: 'reports/q3.csv' })).toBe('q3.csv');
});
