import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  AbortMultipartUploadCommand,
  CopyObjectCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { fromIni, fromNodeProviderChain } from '@aws-sdk/credential-providers';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { assertWritable } from './read-only';
import { CacheError } from '../../../src-shared/errors';
import { pumpHashed } from '../hashing';
import { heldContent } from './held-content';
import { isNotFound, isPreconditionFailed, type AwsError } from './s3-errors';
import { uploadContent } from './s3-upload';
import { assertReadablePrefix, assertValidKey, assertValidPrefix, literalFoundKey } from '../../../src-shared/keys';
import type { ContentSource, CopyOptions, Leftover, StorageCapabilities, ListOptions, ListPage, PutOptions, StageOptions, StagedContent, StorageBackend } from './types';
import { MAX_LIST_PAGE } from './types';

export type ChecksumMode = 'when_supported' | 'when_required';

export interface S3Capabilities extends StorageCapabilities {
  /**
   * CopyObject honours `If-None-Match: *`. Reported, never relied on: Ceph RGW 16.2 ignores it,
   * so a create-only copy is a read and a create-only PUT instead.
   */
  conditionalCopy: boolean;
}

export interface S3Config {
  bucket: string;
  /** Key prefix inside the bucket ("" or ending in "/"). */
  prefix?: string;
  region?: string;
  /** For S3-compatible servers (MinIO, R2, Ceph, an emulator). */
  endpoint?: string;
  forcePathStyle?: boolean;
  /** A named profile from the shared config/credentials files (SSO profiles included). */
  profile?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /**
   * `when_required` turns off the SDK's default request checksums (aws-chunked bodies with
   * trailers), which some S3-compatible servers store verbatim or reject.
   */
  checksumMode?: ChecksumMode;
  maxAttempts?: number;
  /** A request whose connection carries no byte this long fails (and is retried); default SOCKET_IDLE_MS. */
  idleTimeoutMs?: number;
  partSize?: number;
  queueSize?: number;
}

// The pinned SDK runs on Node 20; its notice about future SDK releases would break the CLI's
// one-line stderr and means nothing to an operator.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const DEFAULT_PART_SIZE = 5 * 1024 * 1024;
/**
 * A server that accepts a connection and then says nothing fails the request after this long
 * without a byte either way. (The SDK's `requestTimeout` only logs a warning unless told to throw,
 * and then bounds the whole request, which a big upload may rightly exceed.)
 */
const SOCKET_IDLE_MS = 60_000;
/** How long opening a store may take before it counts as unreachable (the app's connect, a bucket's probe): 20 s, or `$CACHE_ADMIN_CONNECT_TIMEOUT_MS`. */
export function connectTimeoutMs(): number {
  const ms = Number(process.env.CACHE_ADMIN_CONNECT_TIMEOUT_MS);
  // A value that is no number of milliseconds (negative, Infinity, text) leaves the default.
  return Number.isSafeInteger(ms) && ms > 0 ? ms : 20_000;
}
const DEFAULT_QUEUE_SIZE = 4;
/** The open's probe writes here: in the app's own folder, which no layout takes for a namespace. */
const PROBE_PREFIX = '_cache-admin.d/probe/';
/** A probe or an unfinished upload this old was abandoned (S3 cannot tell whether its writer is still at work). */
const ABANDONED_AFTER_MS = 3_600_000;

/** What the SDK says when it found no credentials; a credential_process's command line (which may hold a token) is left out. */
function credentialsProblem(message: string): string {
  const said = message.split('\n')[0]!;
  return /command failed|credential_process/i.test(said) ? "the profile's credential_process command failed (its command line and output are not shown)" : said.slice(0, 200);
}

/**
 * The credential chain: a profile's, or the SDK's default. For a loopback endpoint the services a
 * profile may ask for credentials (STS for a role, SSO, web identity) are refused before any request:
 * they are off the machine, and a local server needs keys.
 */
function credentialsFor(config: S3Config) {
  let refused: CacheError | null = null;
  const refuse = () => Promise.reject((refused = offMachineRefused(config)));
  // Role assumers (STS, web identity) replaced, and every inner client's requests (SSO) refused.
  const offMachine = isLoopback(config.endpoint) ? { roleAssumer: refuse, roleAssumerWithWebIdentity: refuse, clientConfig: { requestHandler: { handle: refuse } } } : {};
  const provider = config.profile ? fromIni({ profile: config.profile, ...offMachine }) : fromNodeProviderChain(offMachine);
  // The SDK wraps what an inner client throws: the refusal is said as it is, not inside its message.
  return async (options?: Parameters<typeof provider>[0]) => {
    let found;
    try {
      found = await provider(options);
    } catch (err) {
      throw refused ?? err;
    }
    return checkedCredentials(found, config);
  };
}

/**
 * Keys travel in request headers, where a line break or another control character makes Node refuse
 * the request (a TypeError that read as "unreachable"); no key has one. Neither value is shown.
 */
function checkedCredentials<T extends { accessKeyId: string; sessionToken?: string }>(found: T, config: S3Config): T {
  const unfit = (value: string | undefined) => value !== undefined && /[^\x21-\x7e]/.test(value);
  const which = unfit(found.accessKeyId) ? 'access key id' : unfit(found.sessionToken) ? 'session token' : null;
  if (which === null) return found;
  const from = config.profile ? `profile ${config.profile}` : 'the default AWS credentials (AWS_ACCESS_KEY_ID, AWS_SESSION_TOKEN or ~/.aws)';
  throw new CacheError('invalid_input', `the ${which} from ${from} has a space, line break or other character no key has (a value pasted with its line end?): nothing was sent`);
}

function offMachineRefused(config: S3Config): CacheError {
  const who = config.profile ? `profile ${config.profile}` : 'the default AWS credentials';
  return new CacheError('access_denied', `${who} would get its keys from an AWS service (STS for a role, SSO or web identity), which is never asked for a bucket at a loopback endpoint (${config.endpoint}): use keys, or a profile that holds them`);
}

function isLoopback(endpoint: string | undefined): boolean {
  if (!endpoint) return false;
  try {
    const host = new URL(endpoint).hostname;
    return host === 'localhost' || host === '[::1]' || host.startsWith('127.');
  } catch {
    return false;
  }
}

/** An S3 bucket (or S3-compatible endpoint). Keys are those of the layout, under `prefix`. */
export class S3Storage implements StorageBackend {
  readonly description: string;
  readonly client: S3Client;
  /** Until the probe in open() says otherwise. */
  capabilities: S3Capabilities = { conditionalWrites: false, conditionalCopy: false, readOnly: false };
  private readonly prefix: string;

  constructor(readonly config: S3Config) {
    // The SDK puts the region in the host name: a bad one failed as "unreachable (network error)", an empty one as "internal".
    if (config.region !== undefined && !/^[A-Za-z0-9][A-Za-z0-9-]{0,62}$/.test(config.region)) {
      throw new CacheError('invalid_input', `${JSON.stringify(config.region.slice(0, 64))} is not an S3 region name (such as us-east-1 or eu-west-2)`);
    }
    const prefix = config.prefix ?? '';
    if (prefix !== '') assertValidPrefix(prefix);
    this.prefix = prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`;
    this.description = `s3://${config.bucket}/${this.prefix}${config.endpoint ? ` at ${config.endpoint}` : ''}`;
    if (isLoopback(config.endpoint)) {
      // Never let the default credential chain reach for the EC2 metadata service for a local server.
      process.env.AWS_EC2_METADATA_DISABLED = 'true';
    }
    const checksum = config.checksumMode === 'when_supported' ? 'WHEN_SUPPORTED' : 'WHEN_REQUIRED';
    const clientConfig: S3ClientConfig = {
      region: config.region ?? 'us-east-1',
      endpoint: config.endpoint,
      forcePathStyle: config.forcePathStyle,
      maxAttempts: config.maxAttempts ?? 5,
      retryMode: 'standard',
      requestChecksumCalculation: checksum,
      responseChecksumValidation: checksum,
      requestHandler: new NodeHttpHandler({ connectionTimeout: 5_000, socketTimeout: config.idleTimeoutMs ?? SOCKET_IDLE_MS }),
      credentials: config.credentials ?? credentialsFor(config),
    };
    this.client = new S3Client(clientConfig);
    this.client.middlewareStack.add(
      (next) => async (args) => {
        stripIfMatchQuotes(args.request);
        return next(args);
      },
      { step: 'build', name: 'bareIfMatch' },
    );
  }

  /**
   * Connects, checks the bucket is reachable, and probes for conditional writes. Credentials that
   * may list but not write open it read-only (browse, look up, verify without repair).
   */
  static async open(config: S3Config): Promise<S3Storage> {
    const storage = new S3Storage(config);
    storage.capabilities = await storage.probe();
    return storage;
  }

  private async probe(): Promise<S3Capabilities> {
    const key = `${this.prefix}${PROBE_PREFIX}${Date.now()}-${randomBytes(6).toString('hex')}`;
    const Bucket = this.config.bucket;
    // A server that takes connections and never answers would hold each attempt for the idle timeout (5 x 60 s).
    // Opening (the probe, retries included) takes at most the connect limit.
    const limitMs = connectTimeoutMs();
    const abortSignal = AbortSignal.timeout(limitMs);
    const send: S3Client['send'] = (command: Parameters<S3Client['send']>[0]) => this.client.send(command, { abortSignal });
    const put = (conditional: boolean) => send(new PutObjectCommand({ Bucket, Key: key, Body: 'probe', IfNoneMatch: conditional ? '*' : undefined }));
    /** Whether the request was refused with 412 (any other failure: the server does not do it). */
    const refused = (request: Promise<unknown>) =>
      request.then(
        () => false,
        (err: unknown) => isPreconditionFailed(err),
      );
    try {
      const written = await put(false).then(
        () => true,
        async (err: unknown) => {
          // Refused by a policy (not a quota, not a bad signature): credentials that may still list open the bucket read-only.
          if ((err as AwsError).name !== 'AccessDenied') throw err;
          await send(new ListObjectsV2Command({ Bucket, Prefix: this.prefix, MaxKeys: 1 })).catch(() => Promise.reject(err));
          return false;
        },
      );
      if (!written) return { conditionalWrites: false, conditionalCopy: false, readOnly: true };
      const conditionalWrites = await put(true).then(
        () => false,
        (err: unknown) => (isPreconditionFailed(err) ? true : Promise.reject(err)),
      );
      const copy = new CopyObjectCommand({ Bucket, Key: key, CopySource: `${Bucket}/${encodeURI(key)}`, MetadataDirective: 'REPLACE', IfNoneMatch: '*' });
      const conditionalCopy = await refused(send(copy));
      // Credentials that may write but not delete (write-once ones) still store: the probe stays, and verify --repair can remove it later.
      await send(new DeleteObjectCommand({ Bucket, Key: key })).catch((err: unknown) => {
        if ((err as AwsError).name !== 'AccessDenied') throw err;
      });
      return { conditionalWrites, conditionalCopy, readOnly: false };
    } catch (err) {
      if (abortSignal.aborted) throw new CacheError('storage_unreachable', `cannot open the store: ${this.where()} did not answer within ${limitMs / 1000} s`);
      throw this.mapError(err, 'open the store');
    }
  }

  /** The bucket, and its endpoint when it is not AWS's: what errors name. */
  private where(): string {
    return `${this.config.bucket}${this.config.endpoint ? ` at ${this.config.endpoint}` : ''}`;
  }

  /**
   * A typed error naming the bucket and endpoint. The SDK error is not kept as a cause: it carries
   * the signed request (headers, signature) and would put it in any log that prints the error.
   */
  mapError(err: unknown, action: string): CacheError {
    if (err instanceof CacheError) return err;
    const e = err as AwsError;
    const status = e.$metadata?.httpStatusCode;
    const where = this.where();
    // Network failures arrive as a plain Error whose code says what happened (ECONNREFUSED...).
    const name = (e.name && e.name !== 'Error' ? e.name : e.code) ?? '';
    if (name === 'AbortError') return new CacheError('cancelled', `${action} was cancelled`);
    if (name === 'NoSuchBucket') return new CacheError('no_such_bucket', `bucket ${where} does not exist`);
    // No credentials found (a profile that is not there, no keys anywhere): the SDK's message says which; it holds no secret.
    if (name === 'CredentialsProviderError') return new CacheError('access_denied', `no credentials for bucket ${where}: ${credentialsProblem(e.message ?? '')}`);
    // A 403 too (Ceph RGW, MinIO): the bucket is full for everyone, whatever the credentials.
    if (name === 'QuotaExceeded') return new CacheError('no_space', `cannot ${action}: bucket ${where} is over its quota (QuotaExceeded); free space in it or raise the quota`);
    if (status === 403 || ['AccessDenied', 'InvalidAccessKeyId', 'SignatureDoesNotMatch', 'ExpiredToken'].includes(name)) {
      return new CacheError('access_denied', `access to bucket ${where} was denied (${name || status}): check the credentials and permissions`);
    }
    if (status === 429 || status === 503 || ['SlowDown', 'Throttling', 'ThrottlingException', 'RequestLimitExceeded'].includes(name)) {
      return new CacheError('throttled', `bucket ${where} is throttling requests; try again shortly`);
    }
    if (status === undefined || status >= 500 || ['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'ETIMEDOUT', 'TimeoutError', 'EPIPE'].includes(name)) {
      return new CacheError('storage_unreachable', `cannot ${action}: bucket ${where} is unreachable (${name || status || 'network error'})`);
    }
    return new CacheError('internal', `cannot ${action} on bucket ${where}: ${name || status}`);
  }

  private key(key: string): string {
    assertValidKey(key);
    return this.prefix + key;
  }

  addressOf(key: string): string {
    return literalFoundKey(key);
  }

  /** A key to read or delete, which another writer's layout may have spelled more freely (addressOf). */
  private foundKey(key: string): string {
    return this.prefix + this.addressOf(key);
  }

  async put(key: string, data: Uint8Array, options: PutOptions = {}): Promise<boolean> {
    assertWritable(this, `write ${key}`);
    const Key = this.key(key);
    await options.after;
    try {
      if (options.ifAbsent && !this.capabilities.conditionalWrites) {
        // Best effort where the server cannot do it atomically; `capabilities` warns about this.
        if (await this.exists(key)) return false;
      }
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.config.bucket,
          Key,
          Body: data,
          ContentLength: data.byteLength,
          IfNoneMatch: options.ifAbsent && this.capabilities.conditionalWrites ? '*' : undefined,
        }),
      );
      return true;
    } catch (err) {
      if (options.ifAbsent && isPreconditionFailed(err)) return false;
      throw this.mapError(err, `write ${key}`);
    }
  }

  async copy(from: string, to: string, options: CopyOptions = {}): Promise<boolean> {
    assertWritable(this, `copy ${from}`);
    const source = this.foundKey(from);
    if (options.ifAbsent) {
      // Create-only copies of small objects go through a conditional PUT: CopyObject ignores
      // If-None-Match on Ceph RGW 16.2 (see S3Capabilities), and a HEAD first would race.
      const data = options.data ?? (await this.get(from));
      if (!data) throw new CacheError('not_found', `cannot copy ${from}: it does not exist`);
      return this.put(to, data, { ifAbsent: true });
    }
    if (options.data) return this.put(to, options.data);
    try {
      await this.client.send(new CopyObjectCommand({ Bucket: this.config.bucket, Key: this.key(to), CopySource: `${this.config.bucket}/${encodeURI(source)}` }));
      return true;
    } catch (err) {
      if (isNotFound(err)) throw new CacheError('not_found', `cannot copy ${from}: it does not exist`);
      throw this.mapError(err, `copy ${from}`);
    }
  }

  async get(key: string, options: { signal?: AbortSignal } = {}): Promise<Uint8Array | null> {
    const stream = await this.getStream(key, options);
    if (!stream) return null;
    const parts: Uint8Array[] = [];
    try {
      for await (const chunk of stream) parts.push(chunk);
    } catch (err) {
      throw this.mapError(err, `read ${key}`);
    }
    return Buffer.concat(parts);
  }

  async getStream(key: string, options: { signal?: AbortSignal } = {}): Promise<AsyncIterable<Uint8Array> | null> {
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.config.bucket, Key: this.foundKey(key) }), { abortSignal: options.signal });
      return out.Body as AsyncIterable<Uint8Array>;
    } catch (err) {
      if (isNotFound(err)) return null;
      throw this.mapError(err, `read ${key}`);
    }
  }

  async exists(key: string): Promise<boolean> {
    return (await this.headSize(key)) !== null;
  }

  /** One HEAD: the object's size, or null when there is none. */
  private async headSize(key: string): Promise<number | null> {
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.config.bucket, Key: this.foundKey(key) }));
      return head.ContentLength ?? 0;
    } catch (err) {
      if (isNotFound(err)) return null;
      throw this.mapError(err, `check ${key}`);
    }
  }

  /** One ListObjectsV2 call; the cursor is S3's continuation token. */
  async list(prefix: string, options: ListOptions = {}): Promise<ListPage> {
    assertReadablePrefix(prefix);
    const limit = Math.max(1, Math.min(options.limit ?? MAX_LIST_PAGE, MAX_LIST_PAGE));
    try {
      const out = await this.client.send(
        new ListObjectsV2Command({
          Bucket: this.config.bucket,
          Prefix: this.prefix + prefix,
          Delimiter: options.delimiter,
          MaxKeys: limit,
          ContinuationToken: options.cursor,
        }),
      );
      const strip = (k: string) => k.slice(this.prefix.length);
      return {
        objects: (out.Contents ?? []).map((o) => ({ key: strip(o.Key!), size: o.Size ?? 0, modified: (o.LastModified ?? new Date(0)).toISOString() })),
        prefixes: (out.CommonPrefixes ?? []).map((p) => strip(p.Prefix!)),
        cursor: out.IsTruncated ? out.NextContinuationToken : undefined,
      };
    } catch (err) {
      throw this.mapError(err, `list ${prefix || 'the bucket'}`);
    }
  }

  async delete(key: string): Promise<void> {
    assertWritable(this, `delete ${key}`);
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.config.bucket, Key: this.foundKey(key) }));
    } catch (err) {
      if (!isNotFound(err)) throw this.mapError(err, `delete ${key}`);
    }
  }

  /**
   * Hashes first, uploads on commit: S3 cannot rename, and uploading to a temp key then copying
   * would move every byte twice. A stream is spooled to a local temp file so it can be re-read.
   */
  async stage(source: ContentSource, stageOptions: StageOptions = {}): Promise<StagedContent> {
    // Content is read twice: hashed here, uploaded by commit. Each pass is half of one progress,
    // so a bar never runs to its end and back to the start.
    assertWritable(this, 'store content');
    const { onProgress } = stageOptions;
    const options = { ...stageOptions, onProgress: onProgress && ((read: number) => onProgress(Math.floor(read / 2))) };
    let file: string | undefined;
    let spool: string | undefined;
    let result;
    if (source.kind === 'stream') {
      spool = path.join(await fs.mkdtemp(path.join(os.tmpdir(), 'cache-admin-spool-')), 'content');
      const handle = await fs.open(spool, 'wx');
      try {
        result = await pumpHashed(source, options, async (chunk) => {
          await handle.write(chunk);
        });
      } catch (err) {
        await handle.close();
        await fs.rm(path.dirname(spool), { recursive: true, force: true });
        throw err;
      }
      await handle.close();
      file = spool;
    } else {
      result = await pumpHashed(source, options);
      if (source.kind === 'file') file = source.path;
    }
    const bytes = source.kind === 'bytes' ? source.bytes : undefined;
    const discard = async () => {
      if (spool) await fs.rm(path.dirname(spool), { recursive: true, force: true });
    };
    return {
      ...result,
      commit: async (key, commitOptions = {}) => {
        const held = await heldContent(this, key, result, (k) => this.headSize(k));
        if (held === 'intact') return 'exists';
        // New content create-only where the server can: of writers racing with the same bytes, one reports new content.
        const ifAbsent = held === 'absent' && this.capabilities.conditionalWrites;
        const uploaded = commitOptions.onProgress;
        const half = Math.floor(result.size / 2);
        const onUploaded = uploaded && ((sent: number) => uploaded(half + Math.ceil(sent / 2)));
        return this.upload(key, bytes ? { bytes } : { file: file! }, result, { ...commitOptions, onProgress: onUploaded, ifAbsent });
      },
      discard,
    };
  }

  private async upload(
    key: string,
    body: { bytes: Uint8Array } | { file: string },
    content: { size: number; sha256: string },
    options: { signal?: AbortSignal; onProgress?: (bytesDone: number) => void; ifAbsent?: boolean },
  ): Promise<'created' | 'exists'> {
    try {
      if (options.signal?.aborted) throw new CacheError('cancelled', 'the upload was cancelled');
      return await uploadContent({
        client: this.client,
        bucket: this.config.bucket,
        key: this.key(key),
        body,
        ...content,
        partSize: this.config.partSize ?? DEFAULT_PART_SIZE,
        queueSize: this.config.queueSize ?? DEFAULT_QUEUE_SIZE,
        ...options,
      });
    } catch (err) {
      if (options.signal?.aborted) throw new CacheError('cancelled', 'the upload was cancelled');
      throw this.mapError(err, `upload ${key}`);
    }
  }

  /**
   * Unfinished multipart uploads under the prefix (their parts are billed until aborted), and probes
   * an open could not delete (credentials that may write but not delete).
   */
  async leftovers(): Promise<Leftover[] | null> {
    const found: Leftover[] = [];
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    try {
      do {
        const page = await this.client.send(
          new ListMultipartUploadsCommand({ Bucket: this.config.bucket, Prefix: this.prefix, KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker }),
        );
        for (const u of page.Uploads ?? []) {
          if (!u.Key || !u.UploadId) continue;
          // S3 cannot tell whether a writer is still sending parts: only uploads idle for an hour count as abandoned.
          const initiated = u.Initiated ?? new Date(0);
          found.push({ id: `${u.Key.slice(this.prefix.length)}?uploadId=${u.UploadId}`, modified: initiated.toISOString(), inFlight: Date.now() - initiated.getTime() < ABANDONED_AFTER_MS });
        }
        keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
        uploadIdMarker = page.IsTruncated ? page.NextUploadIdMarker : undefined;
      } while (keyMarker);
    } catch (err) {
      // A server without it, or credentials that may not list them (read-only ones often may not).
      if ((err as { name?: string }).name === 'NotImplemented' || this.mapError(err, '').code === 'access_denied') return null;
      throw this.mapError(err, 'list unfinished uploads');
    }
    let cursor: string | undefined;
    do {
      const page = await this.list(PROBE_PREFIX, { cursor });
      // Another open's probe is deleted by that open a moment later.
      for (const o of page.objects) found.push({ id: o.key, modified: o.modified, inFlight: Date.now() - Date.parse(o.modified) < ABANDONED_AFTER_MS });
      cursor = page.cursor;
    } while (cursor);
    return found;
  }

  async removeLeftover(leftover: Leftover): Promise<void> {
    if (leftover.id.startsWith(PROBE_PREFIX)) return this.delete(leftover.id);
    const [key, uploadId] = leftover.id.split('?uploadId=');
    if (!key || !uploadId) throw new CacheError('invalid_key', `${leftover.id} is not an unfinished upload`);
    assertWritable(this, `abort the upload of ${key}`);
    try {
      await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.config.bucket, Key: this.key(key), UploadId: uploadId }));
    } catch (err) {
      throw this.mapError(err, `abort the upload of ${key}`);
    }
  }

  async close(): Promise<void> {
    this.client.destroy();
  }
}

/**
 * Sends `If-Match` ETags without their quotes: Ceph RGW 16.2 (and DigitalOcean Spaces, built on
 * it) compares the header with the bare ETag, so the quoted one every GET and HEAD returns always
 * fails with 412. S3, MinIO and R2 take either form.
 */
function stripIfMatchQuotes(request: unknown): void {
  const headers = (request as { headers?: Record<string, string> }).headers ?? {};
  for (const name of Object.keys(headers)) {
    if (name.toLowerCase() === 'if-match') headers[name] = headers[name]!.replace(/^"(.*)"$/, '$1');
  }
}
