import * as net from 'node:net';
import { mkdtempSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as fs from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { randomBytes, createHash } from 'node:crypto';
import * as os from 'node:os';
import { HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { CacheService } from '../cache-service';
import { verifyStore } from '../verify';
import { s3ServerName, startEmulator } from '../../test-support/s3-emulator';
import { useProxiedS3 } from '../../test-support/s3-proxied';
import { storageConformance } from './conformance';
import { S3Storage } from './s3';
import { formatOf } from '../open-store';
import { Retention } from '../retention/retention';
import { cli } from '../../test-support/cli-harness';

// Ceph RGW where radosgw is installed, else the s3rver emulator (or the bucket configured): the name says which.
const SERVER = `S3 (${s3ServerName()})`;
const ctx = useProxiedS3();
const config = ctx.config;

storageConformance(SERVER, {
  create: () => S3Storage.open(config()),
  reopen: async (s) => S3Storage.open({ ...(s as S3Storage).config }),
});

const bytes = (t: string) => new TextEncoder().encode(t);
const isS3 = (method: string, pattern: RegExp) => (r: { method: string; url: string }) => r.method === method && pattern.test(r.url);

describe(`${SERVER} backend`, () => {
  it('reports what the server does: conditional create, and (on Ceph RGW 16.2) no conditional copy', async () => {
    const storage = await S3Storage.open(config());
    expect(storage.capabilities.conditionalWrites).toBe(true);
    if (ctx.s3.kind !== 'configured') expect(storage.capabilities.conditionalCopy).toBe(false); // RGW ignores it; so does the emulator's stand-in
  });

  it('reports missing conditional writes on a server without them (s3rver direct)', async (context) => {
    if (ctx.s3.real) context.skip();
    const emulator = ctx.s3.kind === 'emulator' ? ctx.s3 : await startEmulator();
    try {
      const direct = await S3Storage.open({ ...config(), endpoint: emulator.endpoint, credentials: emulator.credentials });
      expect(direct.capabilities).toEqual({ conditionalWrites: false, conditionalCopy: false, readOnly: false });
    } finally {
      if (emulator !== ctx.s3) await emulator.stop();
    }
  });

  it('writers racing to place the same new content in one PUT each: exactly one reports it created (If-None-Match), and the bytes are whole', async () => {
    const content = randomBytes(1000);
    const shared = config(); // one prefix for all three
    const writers = await Promise.all([1, 2, 3].map(() => S3Storage.open(shared)));
    const staged = await Promise.all(writers.map((w) => w.stage({ kind: 'bytes', bytes: content })));
    const placed = await Promise.all(staged.map((s) => s.commit('race/small')));
    expect(placed.filter((p) => p === 'created')).toHaveLength(1);
    expect(Buffer.compare(Buffer.from((await writers[0]!.get('race/small'))!), content)).toBe(0);
  });

  it('a multipart upload whose completion is refused because the content appeared meanwhile (412) reports it there, and is aborted', async () => {
    const storage = await S3Storage.open(config({ partSize: 5 << 20 }));
    const staged = await storage.stage({ kind: 'bytes', bytes: randomBytes(12 << 20) });
    ctx.proxy.inject({ match: ({ method, url }) => method === 'POST' && url.includes('uploadId='), action: { kind: 'status', status: 412 }, times: 1 });
    const aborts = ctx.proxy.count(isS3('DELETE', /uploadId=/));
    expect(await staged.commit('race/big')).toBe('exists');
    expect(ctx.proxy.count(isS3('DELETE', /uploadId=/))).toBe(aborts + 1);
  });

  it('replaces an object only while it holds the ETag a read returned (If-Match, quoted as S3 returns it)', async () => {
    const storage = await S3Storage.open(config());
    const Key = `${storage.config.prefix}cas/ref.json`;
    const Bucket = ctx.s3.bucket;
    await storage.put('cas/ref.json', bytes('first'));
    const { ETag } = await storage.client.send(new HeadObjectCommand({ Bucket, Key }));
    expect(ETag).toMatch(/^".+"$/);
    await storage.client.send(new PutObjectCommand({ Bucket, Key, Body: 'second', IfMatch: ETag }));
    expect(new TextDecoder().decode((await storage.get('cas/ref.json'))!)).toBe('second');
    // The ETag of "first" no longer holds.
    await expect(storage.client.send(new PutObjectCommand({ Bucket, Key, Body: 'third', IfMatch: ETag }))).rejects.toMatchObject({ $metadata: { httpStatusCode: 412 } });
    expect(new TextDecoder().decode((await storage.get('cas/ref.json'))!)).toBe('second');
  });

  it('keeps request budgets: retrieve 2 GETs and no HEAD; versions and namespaces one LIST; stats no GET', async () => {
    const storage = await S3Storage.open(config());
    const cache = new CacheService(storage);
    const first = await cache.store('ns-a', { source: { kind: 'bytes', bytes: bytes('budget') } });
    await cache.store('ns-a', { source: { kind: 'bytes', bytes: bytes('budget') } });
    await cache.store('ns-b', { source: { kind: 'bytes', bytes: bytes('other') } });
    const mark = ctx.proxy.log.length;
    const since = () => ctx.proxy.log.slice(mark);
    for (const lookup of [{ hash: first.hash }, { hash: first.hash, version: 1 }]) {
      const start = ctx.proxy.log.length;
      const { content } = await cache.retrieve('ns-a', lookup);
      for await (const _ of content) void _;
      const requests = ctx.proxy.log.slice(start);
      expect(requests.filter((r) => r.method === 'GET')).toHaveLength(2);
      expect(requests.filter((r) => r.method !== 'GET')).toHaveLength(0);
    }
    let start = ctx.proxy.log.length;
    expect(await cache.versions('ns-a', first.hash)).toHaveLength(2);
    expect(ctx.proxy.log.slice(start).map((r) => r.method)).toEqual(['GET']); // one ListObjectsV2
    start = ctx.proxy.log.length;
    expect((await cache.namespaceNames()).sort()).toEqual(['ns-a', 'ns-b']);
    expect(ctx.proxy.log.slice(start)).toHaveLength(1);
    start = ctx.proxy.log.length;
    expect(await cache.stats('ns-a')).toMatchObject({ entries: 1, versions: 2, bytes: 6 });
    expect(ctx.proxy.log.slice(start).every((r) => r.url.includes('list-type=2'))).toBe(true);
    expect(since().filter((r) => r.method === 'GET' && !r.url.includes('list-type=2'))).toHaveLength(4); // the two retrieves only
  });

  it('uploads multipart content byte-exact with progress, and a cancelled upload leaves no parts', async () => {
    const storage = await S3Storage.open(config({ partSize: 5 * 1024 * 1024, queueSize: 2 }));
    const cache = new CacheService(storage);
    const data = randomBytes(12 * 1024 * 1024 + 7);
    const progress: number[] = [];
    const stored = await cache.store('big', { source: { kind: 'bytes', bytes: data } }, { onProgress: (n) => progress.push(n) });
    expect(ctx.proxy.count(isS3('POST', /uploads/))).toBeGreaterThan(0);
    const { content } = await cache.retrieve('big', { hash: stored.hash });
    const parts: Uint8Array[] = [];
    for await (const c of content) parts.push(c);
    expect(createHash('sha256').update(Buffer.concat(parts)).digest('hex')).toBe(createHash('sha256').update(data).digest('hex'));
    expect(progress.at(-1)).toBe(data.length);
    // Hashing, then uploading: one bar that only moves forward (it ran to the end, then from 0 again).
    expect(progress).toEqual([...progress].sort((a, b) => a - b));

    const controller = new AbortController();
    ctx.proxy.inject({ match: isS3('PUT', /partNumber=2/), action: { kind: 'delay', ms: 300 }, times: 1 });
    const other = randomBytes(12 * 1024 * 1024);
    // Progress is reported once while hashing (one chunk), then per uploaded part: cancel mid-upload.
    let reports = 0;
    const onProgress = () => {
      if (++reports === 2) controller.abort();
    };
    const logged = ctx.proxy.log.length; // this upload's requests only, not other tests'
    const pending = cache.store('big', { source: { kind: 'bytes', bytes: other } }, { signal: controller.signal, onProgress });
    await expect(pending).rejects.toThrow(expect.objectContaining({ code: 'cancelled' }));
    // The cancelled upload's parts went out, then AbortMultipartUpload for that same upload id.
    const uploadIdOf = (url: string) => /uploadId=([^&]+)/.exec(url)?.[1];
    const partIds = new Set(ctx.proxy.log.slice(logged).filter((r) => r.method === 'PUT' && r.url.includes('partNumber=')).map((r) => uploadIdOf(r.url)));
    const aborted = ctx.proxy.log.slice(logged).filter((r) => r.method === 'DELETE' && r.url.includes('uploadId=')).map((r) => uploadIdOf(r.url));
    expect(aborted.length).toBeGreaterThan(0);
    expect(new Set(aborted).size).toBe(1); // for that upload only
    expect(partIds.has(aborted[0])).toBe(true);
    expect(await cache.versions('big', createHash('sha256').update(other).digest('hex').slice(0, 16) as never)).toEqual([]);
    if (ctx.s3.kind !== 'emulator') {
      // s3rver does not implement AbortMultipartUpload (it answers 501); a real server must list none.
      const { ListMultipartUploadsCommand } = await import('@aws-sdk/client-s3');
      const pending = await storage.client.send(new ListMultipartUploadsCommand({ Bucket: ctx.s3.bucket, Prefix: storage.config.prefix }));
      expect(pending.Uploads ?? []).toEqual([]);
    }
  });

  it('a store cancelled while the server answers its content upload leaves no content without a version (the server may have kept it)', async () => {
    const storage = await S3Storage.open(config());
    const cache = new CacheService(storage);
    const data = bytes('stored by the server, its answer never seen');
    const hash = createHash('sha256').update(data).digest('hex').slice(0, 16);
    const content = /objects\/[0-9a-f]{2}\/[0-9a-f]{2}\/[0-9a-f]{16}(\?|$)/;
    ctx.proxy.inject({ match: isS3('PUT', content), action: { kind: 'stall', afterBytes: 0 }, times: 1 });
    const logged = ctx.proxy.count(isS3('PUT', content));
    const controller = new AbortController();
    const pending = cache.store('cut', { source: { kind: 'bytes', bytes: data } }, { signal: controller.signal });
    while (ctx.proxy.count(isS3('PUT', content)) === logged) await new Promise((r) => setTimeout(r, 10)); // the server has it
    controller.abort();
    await expect(pending).rejects.toThrow(expect.objectContaining({ code: 'cancelled' }));
    expect(await storage.exists(`cut/objects/${hash.slice(0, 2)}/${hash.slice(2, 4)}/${hash}`)).toBe(false);
    expect((await cache.stats('cut')).entries).toBe(0);
  });

  it('retries 5xx, throttling and dropped connections within a bounded number of attempts', async () => {
    // A request left without an answer by a dropped connection (once in a loaded CI run: 60 s, the
    // test's whole budget) is given up after 10 s and retried, as any other attempt.
    const cache = new CacheService(await S3Storage.open(config({ idleTimeoutMs: 10_000 })));
    ctx.proxy.inject({ match: isS3('PUT', /\.v00000001\.json/), action: { kind: 'status', status: 503 }, times: 1 });
    ctx.proxy.inject({ match: isS3('PUT', /objects\/[0-9a-f]{2}\/[0-9a-f]{2}\/[0-9a-f]{16}(\?|$)/), action: { kind: 'reset' }, times: 1 });
    ctx.proxy.inject({ match: isS3('GET', /latest\.json/), action: { kind: 'status', status: 500 }, times: 1 });
    const stored = await cache.store('retry', { source: { kind: 'bytes', bytes: bytes('survives faults') } });
    expect(stored.version).toBe(1);
    expect((await cache.record('retry', { hash: stored.hash })).version).toBe(1);
    ctx.proxy.clearFaults();

    ctx.proxy.inject({ match: isS3('GET', /\.latest\.json/), action: { kind: 'status', status: 500 }, times: Infinity });
    // Only the reads retried are counted: a request the store above left in flight may still arrive (it made this 4 once).
    const latestReads = () => ctx.proxy.count(isS3('GET', /\.latest\.json/));
    const before = latestReads();
    await expect(cache.record('retry', { hash: stored.hash })).rejects.toThrow(expect.objectContaining({ code: 'storage_unreachable' }));
    expect(latestReads() - before).toBe(3); // maxAttempts
    ctx.proxy.clearFaults();
  });

  it('reports persistent throttling as throttled, after bounded retries', async () => {
    const cache = new CacheService(await S3Storage.open(config()));
    ctx.proxy.inject({ match: isS3('GET', /list-type=2/), action: { kind: 'status', status: 503 }, times: Infinity });
    const before = ctx.proxy.count();
    await expect(cache.stats('busy')).rejects.toThrow(expect.objectContaining({ code: 'throttled', message: expect.stringContaining(ctx.s3.bucket) }));
    expect(ctx.proxy.count() - before).toBe(3);
    ctx.proxy.clearFaults();
  });

  it('a failed record write leaves no version pointing at missing bytes, and a failed upload no record', async () => {
    const storage = await S3Storage.open(config({ maxAttempts: 2 }));
    const cache = new CacheService(storage);
    ctx.proxy.inject({ match: isS3('PUT', /\/[0-9a-f]{16}(\?|$)/), action: { kind: 'status', status: 500 }, times: Infinity });
    await expect(cache.store('clean', { source: { kind: 'bytes', bytes: bytes('upload fails') } })).rejects.toThrow(
      expect.objectContaining({ code: 'storage_unreachable' }),
    );
    ctx.proxy.clearFaults();
    const keys = (await storage.list('clean/')).objects.map((o) => o.key);
    expect(keys).toEqual([]);

    ctx.proxy.inject({ match: isS3('PUT', /\.v\d{8}\.json/), action: { kind: 'status', status: 500 }, times: Infinity });
    await expect(cache.store('clean', { source: { kind: 'bytes', bytes: bytes('record fails') } })).rejects.toThrow();
    ctx.proxy.clearFaults();
    const after = (await storage.list('clean/')).objects.map((o) => o.key);
    expect(after.filter((k) => /\.v\d{8}\.json|latest|~/.test(k))).toEqual([]);
  });

  it('verify stays clean after interrupted uploads and failed version writes (a failed store takes back the bytes it placed)', async () => {
    const storage = await S3Storage.open(config({ maxAttempts: 2, partSize: 5 * 1024 * 1024, queueSize: 1 }));
    const cache = new CacheService(storage);
    await cache.store('faults', { source: { kind: 'bytes', bytes: bytes('already here') } });
    // An upload whose connection drops for good mid-way through its parts.
    ctx.proxy.inject({ match: isS3('PUT', /partNumber=2/), action: { kind: 'reset' }, times: Infinity });
    await expect(cache.store('faults', { source: { kind: 'bytes', bytes: randomBytes(11 * 1024 * 1024) } })).rejects.toThrow();
    ctx.proxy.clearFaults();
    const afterUpload = await verifyStore(cache, { namespace: 'faults', orphanGraceMs: 0 });
    expect(afterUpload.problems).toEqual([]);

    // Version records that cannot be written: for content already stored, and for new content.
    ctx.proxy.inject({ match: isS3('PUT', /\.v\d{8}\.json/), action: { kind: 'status', status: 500 }, times: Infinity });
    await expect(cache.store('faults', { source: { kind: 'bytes', bytes: bytes('already here') } })).rejects.toThrow();
    await expect(cache.store('faults', { source: { kind: 'bytes', bytes: bytes('new content') } })).rejects.toThrow();
    ctx.proxy.clearFaults();
    // No reference to missing bytes, nothing stale or corrupt, and no orphan: the failed store took back the new content's bytes.
    expect((await verifyStore(cache, { namespace: 'faults', orphanGraceMs: 0 })).problems).toEqual([]);
    expect(await storage.exists(cache.layout.content('faults' as never, createHash('sha256').update('new content').digest('hex').slice(0, 16) as never))).toBe(false);
    expect((await cache.record('faults', { hash: createHash('sha256').update('already here').digest('hex').slice(0, 16) as never })).version).toBe(1);
  });

  it('credentials that may read but not write open the bucket read-only: it lists, reads and verifies; every write is refused before it is sent, and nothing changes', async (context) => {
    if (ctx.s3.real) context.skip(); // the proxy stands in for the bucket policy
    const shared = config();
    const writer = new CacheService(await S3Storage.open(shared));
    const stored = await writer.store('ro', { source: { kind: 'bytes', bytes: bytes('read me') } });
    const keysBefore = (await writer.storage.list('ro/')).objects.map((o) => o.key).sort();
    const isWrite = (r: { method: string }) => ['PUT', 'POST', 'DELETE'].includes(r.method);
    // What a read-only policy answers every write with.
    ctx.proxy.inject({ match: isWrite, action: { kind: 'status', status: 403, code: 'AccessDenied' }, times: Infinity });
    try {
      const writesBefore = ctx.proxy.count(isWrite);
      const storage = await S3Storage.open(shared);
      expect(storage.capabilities).toMatchObject({ readOnly: true, conditionalWrites: false });
      const reader = new CacheService(storage);
      expect((await reader.record('ro', { hash: stored.hash })).version).toBe(1);
      expect((await reader.namespaces()).map((n) => n.name)).toEqual(['ro']);
      expect((await verifyStore(reader, { namespace: 'ro' })).problems).toEqual([]);

      const readOnly = expect.objectContaining({ code: 'access_denied', message: expect.stringContaining('is open read-only (its credentials may read but not write); nothing was changed') });
      await expect(reader.store('ro', { source: { kind: 'bytes', bytes: bytes('new content') } })).rejects.toThrow(readOnly);
      await expect(reader.store('ro', { source: { kind: 'bytes', bytes: bytes('read me') } })).rejects.toThrow(readOnly);
      await expect(reader.delete('ro', { hash: stored.hash })).rejects.toThrow(expect.objectContaining({ code: 'access_denied', message: expect.stringMatching(new RegExp(`^cannot delete ${stored.hash}: s3://.* is open read-only`)) }));
      const retention = new Retention((await formatOf(storage)).format);
      await expect(retention.setPolicy({ ttl_seconds: 86_400 })).rejects.toThrow(expect.objectContaining({ message: expect.stringMatching(/^cannot change the retention policy: .* is open read-only/) }));
      await expect(retention.prune(await retention.planPrune({ namespace: 'ro', olderThanSeconds: 0 }))).rejects.toThrow(expect.objectContaining({ message: expect.stringMatching(/^cannot prune: .* is open read-only/) }));
      await expect(verifyStore(reader, { namespace: 'ro', repair: true })).rejects.toThrow(readOnly);
      expect(ctx.proxy.count(isWrite) - writesBefore).toBe(1); // the open's probe, and nothing after it

      // The CLI says so, and refuses a store before reading the file.
      const { accessKeyId, secretAccessKey } = ctx.s3.credentials!;
      const env = { AWS_ACCESS_KEY_ID: accessKeyId, AWS_SECRET_ACCESS_KEY: secretAccessKey };
      const s3Args = ['--s3-bucket', shared.bucket, '--s3-endpoint', shared.endpoint!, '--s3-path-style', '--s3-region', shared.region!, '--s3-prefix', shared.prefix!];
      const saved = { ...process.env };
      Object.assign(process.env, env); // the SDK's credential chain reads this process's environment
      try {
        const capabilities = await cli([...s3Args, 'capabilities'], { env });
        expect(capabilities.stdout).toContain('read-only: these credentials may read but not write\n');
        const store = await cli([...s3Args, '--ns', 'ro', 'store', '-'], { env, stdin: bytes('from a script') });
        expect(store.code).not.toBe(0);
        expect(store.stderr).toMatch(/cannot store: s3:\/\/.* is open read-only \(its credentials may read but not write\); nothing was changed/);
        expect(store.stderr).not.toContain(secretAccessKey);
      } finally {
        for (const key of Object.keys(env)) if (saved[key] === undefined) delete process.env[key];
        Object.assign(process.env, saved);
      }
      expect(ctx.proxy.count(isWrite) - writesBefore).toBe(3); // and each CLI run's probe, nothing more

      // Credentials that may not even list are refused at open, as before.
      ctx.proxy.inject({ match: (r) => r.method === 'GET', action: { kind: 'status', status: 403, code: 'AccessDenied' }, times: 1 });
      await expect(S3Storage.open(shared)).rejects.toThrow(expect.objectContaining({ code: 'access_denied' }));
    } finally {
      ctx.proxy.clearFaults();
    }
    expect((await writer.storage.list('ro/')).objects.map((o) => o.key).sort()).toEqual(keysBefore);
  });

  it('credentials that may write but not delete open the bucket and store (the probe they leave is in the app folder, no namespace); a full bucket is no_space, not read-only', async (context) => {
    if (ctx.s3.real) context.skip(); // the proxy stands in for the bucket policy and the quota
    const shared = config();
    ctx.proxy.inject({ match: (r) => r.method === 'DELETE', action: { kind: 'status', status: 403, code: 'AccessDenied' }, times: Infinity });
    try {
      const storage = await S3Storage.open(shared);
      expect(storage.capabilities).toMatchObject({ readOnly: false, conditionalWrites: true });
      const cache = new CacheService(storage);
      await cache.store('docs', { source: { kind: 'bytes', bytes: bytes('write once') } });
      expect((await cache.namespaces()).map((n) => n.name)).toEqual(['docs']);
      expect((await storage.list('_cache-admin.d/probe/')).objects).toHaveLength(1);
      // Removed by a repair once an hour old; the s3rver emulator cannot list unfinished uploads, so it gives no leftovers at all.
      const left = await storage.leftovers();
      if (ctx.s3.kind === 'emulator') expect(left).toBeNull();
      else expect(left?.filter((l) => l.id.startsWith('_cache-admin.d/probe/'))).toEqual([expect.objectContaining({ inFlight: true })]);
    } finally {
      ctx.proxy.clearFaults();
    }
    ctx.proxy.inject({ match: (r) => r.method === 'PUT', action: { kind: 'status', status: 403, code: 'QuotaExceeded' }, times: Infinity });
    try {
      await expect(S3Storage.open(shared)).rejects.toThrow(expect.objectContaining({ code: 'no_space', message: expect.stringContaining('is over its quota (QuotaExceeded)') }));
    } finally {
      ctx.proxy.clearFaults();
    }
  });

  it('maps failures to typed errors that name the bucket and never the secret', async (context) => {
    if (ctx.s3.real) context.skip();
    // A wrong secret for a known key id; s3rver checks the key id only, so there an unknown one stands in.
    const secret = 'not-the-right-secret-key-123';
    const accessKeyId = ctx.s3.kind === 'emulator' ? 'UNKNOWNKEYID' : ctx.s3.credentials!.accessKeyId;
    const denied = S3Storage.open(config({ credentials: { accessKeyId, secretAccessKey: secret } }));
    await expect(denied).rejects.toThrow(expect.objectContaining({ code: 'access_denied' }));
    const err = await denied.catch((e: Error) => e);
    expect(String((err as Error).message)).toContain(ctx.s3.bucket);
    expect(String((err as Error).message)).not.toContain(secret);
    await expect(S3Storage.open(config({ bucket: 'no-such-bucket-here' }))).rejects.toThrow(expect.objectContaining({ code: 'no_such_bucket' }));
    await expect(S3Storage.open(config({ endpoint: 'http://127.0.0.1:9', maxAttempts: 1 }))).rejects.toThrow(
      expect.objectContaining({ code: 'storage_unreachable', message: expect.stringContaining('unreachable (ECONNREFUSED)') }),
    );
  });

  it('a region that is no region is bad input, and a profile that is not there says so (was "unreachable (network error)", "internal", or a bare error name)', async () => {
    for (const region of ['not a region!', '']) {
      await expect(S3Storage.open(config({ region }))).rejects.toThrow(expect.objectContaining({ code: 'invalid_input', message: expect.stringContaining('is not an S3 region name') }));
    }
    await expect(S3Storage.open(config({ credentials: undefined, profile: 'no-such-profile-here', maxAttempts: 1 }))).rejects.toThrow(
      expect.objectContaining({ code: 'access_denied', message: expect.stringMatching(/^no credentials for bucket .*no-such-profile-here/) }),
    );
  });

  it('a profile whose keys come from a command or an AWS service: the command line is never repeated, and no AWS service is asked for a loopback endpoint', async () => {
    const folder = mkdtempSync(path.join(os.tmpdir(), 'aws-profiles-'));
    writeFileSync(path.join(folder, 'credentials'), '[keys]\naws_access_key_id = AKIAFAKEFAKEFAKE\naws_secret_access_key = fake\n[process]\ncredential_process = sh -c "echo TOPSECRETproc >&2; exit 1" --token TOPSECRETarg\n');
    writeFileSync(path.join(folder, 'token'), 'not a real token');
    writeFileSync(path.join(folder, 'config'), `[profile role]\nrole_arn = arn:aws:iam::123456789012:role/x\nsource_profile = keys\n[profile web]\nrole_arn = arn:aws:iam::123456789012:role/x\nweb_identity_token_file = ${path.join(folder, 'token')}\n[profile sso]\nsso_start_url = https://example.awsapps.com/start\nsso_region = us-east-1\nsso_account_id = 123456789012\nsso_role_name = x\n`);
    const saved = { credentials: process.env.AWS_SHARED_CREDENTIALS_FILE, config: process.env.AWS_CONFIG_FILE };
    process.env.AWS_SHARED_CREDENTIALS_FILE = path.join(folder, 'credentials');
    process.env.AWS_CONFIG_FILE = path.join(folder, 'config');
    try {
      const failed = await S3Storage.open(config({ credentials: undefined, profile: 'process', maxAttempts: 1 })).catch((err: Error) => err);
      expect(failed).toMatchObject({ code: 'access_denied' });
      expect((failed as Error).message).toMatch(/credential_process command failed \(its command line and output are not shown\)$/);
      expect((failed as Error).message).not.toContain('TOPSECRET');
      for (const profile of ['role', 'web']) {
        const refused = await S3Storage.open(config({ credentials: undefined, profile, maxAttempts: 1 })).catch((err: Error) => err);
        expect(refused).toMatchObject({ code: 'access_denied' });
        expect((refused as Error).message).toMatch(new RegExp(`^profile ${profile} would get its keys from an AWS service \\(STS for a role, SSO or web identity\\), which is never asked for a bucket at a loopback endpoint .*: use keys, or a profile that holds them$`));
      }
      // SSO without a cached token fails before any request; with one it would be refused as above.
      expect(await S3Storage.open(config({ credentials: undefined, profile: 'sso', maxAttempts: 1 })).catch((err: Error) => err)).toMatchObject({ code: 'access_denied' });
    } finally {
      for (const [name, value] of [['AWS_SHARED_CREDENTIALS_FILE', saved.credentials], ['AWS_CONFIG_FILE', saved.config]] as const) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
  });

  it('a key with a line break or a no-break space (pasted from a page) is bad input, said without the key: no request is sent (was "unreachable (TypeError)")', async () => {
    const folder = mkdtempSync(path.join(os.tmpdir(), 'aws-profiles-'));
    writeFileSync(path.join(folder, 'credentials'), '[pasted]\naws_access_key_id = AKIA\u00a0FAKE\naws_secret_access_key = fake\n');
    const saved = { credentials: process.env.AWS_SHARED_CREDENTIALS_FILE, id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };
    process.env.AWS_SHARED_CREDENTIALS_FILE = path.join(folder, 'credentials');
    try {
      // The endpoint answers nothing: a request sent would fail as unreachable, not as bad input.
      const where = { credentials: undefined, endpoint: 'http://127.0.0.1:9', maxAttempts: 1 };
      process.env.AWS_ACCESS_KEY_ID = 'AKIAFAKEKEYIDHERE\n';
      process.env.AWS_SECRET_ACCESS_KEY = 'fake';
      const fromEnv = await S3Storage.open(config(where)).catch((err: Error) => err);
      expect(fromEnv).toMatchObject({ code: 'invalid_input', message: expect.stringMatching(/^the access key id from the default AWS credentials .* has a space, line break or other character no key has .*: nothing was sent$/) });
      expect((fromEnv as Error).message).not.toContain('AKIAFAKEKEYIDHERE');
      delete process.env.AWS_ACCESS_KEY_ID;
      delete process.env.AWS_SECRET_ACCESS_KEY;
      const fromProfile = await S3Storage.open(config({ ...where, profile: 'pasted' })).catch((err: Error) => err);
      expect(fromProfile).toMatchObject({ code: 'invalid_input', message: expect.stringMatching(/^the access key id from profile pasted has /) });
    } finally {
      for (const [name, value] of [['AWS_SHARED_CREDENTIALS_FILE', saved.credentials], ['AWS_ACCESS_KEY_ID', saved.id], ['AWS_SECRET_ACCESS_KEY', saved.secret]] as const) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
  });

  it('a server that takes the connection and never answers fails the request after the idle limit, not never', async () => {
    const silent = net.createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const endpoint = `http://127.0.0.1:${(silent.address() as net.AddressInfo).port}`;
      const started = Date.now();
      await expect(S3Storage.open(config({ endpoint, maxAttempts: 2, idleTimeoutMs: 300 }))).rejects.toThrow(expect.objectContaining({ code: 'storage_unreachable' }));
      expect(Date.now() - started).toBeLessThan(10_000);
    } finally {
      silent.close();
    }
  });

  it('stores a stream (spooled, not buffered) and cleans up its spool file', async () => {
    const cache = new CacheService(await S3Storage.open(config()));
    const before = (await fs.readdir(os.tmpdir())).filter((f) => f.startsWith('cache-admin-spool-'));
    const stream = (async function* () {
      for (let i = 0; i < 4; i++) yield randomBytes(1000);
    })();
    const r = await cache.store('spool', { source: { kind: 'stream', stream } });
    expect(r.size).toBe(4000);
    const after = (await fs.readdir(os.tmpdir())).filter((f) => f.startsWith('cache-admin-spool-'));
    expect(after.sort()).toEqual(before.sort());
  });
});
