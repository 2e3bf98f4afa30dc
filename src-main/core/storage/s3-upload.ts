import { createHash, type Hash } from 'node:crypto';
import { type FileHandle, open } from 'node:fs/promises';
import {
  AbortMultipartUploadCommand,
  type CompletedPart,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { isPreconditionFailed } from './s3-errors';
import { CacheError } from '../../../src-shared/errors';

/** S3 takes at most this many parts per upload; bigger content gets bigger parts. */
const MAX_PARTS = 10_000;
const MIB = 1 << 20;

export interface UploadRequest {
  client: S3Client;
  bucket: string;
  key: string;
  /** Bytes in memory, or a file that should still be the `size` bytes whose SHA-256 is `sha256`. */
  body: { bytes: Uint8Array } | { file: string };
  size: number;
  sha256: string;
  partSize: number;
  /** Parts in flight at once; also the number of part buffers. */
  queueSize: number;
  signal?: AbortSignal;
  onProgress?: (bytesDone: number) => void;
  /** Create-only (`If-None-Match: *`): another writer's object already there is left, and the upload says 'exists'. */
  ifAbsent?: boolean;
}

const createOnly = (r: UploadRequest) => (r.ifAbsent ? { IfNoneMatch: '*' } : {});

/**
 * Uploads content (content above one part as a multipart upload) from at most `queueSize` part
 * buffers, reused: memory is queueSize x partSize whatever the size, and no garbage piles up
 * (lib-storage re-assembles each part with Buffer.concat; a 1 GiB upload peaked near 200 MB).
 * Parts are read and hashed in order: a file that changed since it was hashed fails the upload
 * rather than storing other bytes under its hash. After a failure or a cancel, the upload is
 * aborted once no part is in flight any more, so no parts are left behind.
 */
export async function uploadContent(r: UploadRequest): Promise<'created' | 'exists'> {
  const partSize = Math.max(r.partSize, Math.ceil(r.size / MAX_PARTS / MIB) * MIB);
  const source: PartSource =
    'file' in r.body ? { file: await open(r.body.file, 'r'), name: r.body.file, hash: createHash('sha256') } : { bytes: r.body.bytes };
  try {
    if (r.size <= partSize) {
      const body = await readPart(source, 0, r.size, () => Buffer.allocUnsafeSlow(r.size));
      checkUnchanged(source, r.sha256);
      try {
        await r.client.send(new PutObjectCommand({ Bucket: r.bucket, Key: r.key, Body: body, ContentLength: r.size, ...createOnly(r) }), { abortSignal: r.signal });
      } catch (err) {
        if (isPreconditionFailed(err)) return 'exists';
        throw err;
      }
      r.onProgress?.(r.size);
      return 'created';
    }
    return await uploadParts(r, partSize, source);
  } finally {
    if ('file' in source) await source.file.close();
  }
}

/** Bytes in memory (what was hashed), or a file, hashed again as its parts are read in order. */
type PartSource = { bytes: Uint8Array } | { file: FileHandle; name: string; hash: Hash };

async function uploadParts(r: UploadRequest, partSize: number, source: PartSource): Promise<'created' | 'exists'> {
  const { UploadId } = await r.client.send(new CreateMultipartUploadCommand({ Bucket: r.bucket, Key: r.key }), { abortSignal: r.signal });
  // One failed part stops the others at once.
  const stop = new AbortController();
  const onCancel = () => stop.abort();
  r.signal?.addEventListener('abort', onCancel, { once: true });
  const completed: CompletedPart[] = [];
  const inFlight = new Set<Promise<void>>();
  const freeBuffers: Buffer[] = [];
  let failure: unknown = null;
  let done = 0;
  try {
    for (let offset = 0, partNumber = 1; offset < r.size && !stop.signal.aborted; offset += partSize, partNumber++) {
      while (inFlight.size >= r.queueSize) await Promise.race(inFlight);
      if (stop.signal.aborted) break;
      let buffer: Buffer | null = null;
      const part = await readPart(source, offset, Math.min(partSize, r.size - offset), () => (buffer = freeBuffers.pop() ?? Buffer.allocUnsafeSlow(partSize)));
      const sending = r.client
        .send(new UploadPartCommand({ Bucket: r.bucket, Key: r.key, UploadId, PartNumber: partNumber, Body: part, ContentLength: part.byteLength }), {
          abortSignal: stop.signal,
        })
        .then(
          ({ ETag }) => {
            completed.push({ PartNumber: partNumber, ETag });
            r.onProgress?.((done += part.byteLength));
          },
          (err: unknown) => {
            failure ??= err;
            stop.abort();
          },
        )
        .finally(() => {
          inFlight.delete(sending);
          if (buffer) freeBuffers.push(buffer);
        });
      inFlight.add(sending);
    }
    await Promise.all(inFlight);
    if (failure) throw failure;
    if (r.signal?.aborted) throw new CacheError('cancelled', 'the upload was cancelled');
    checkUnchanged(source, r.sha256);
    completed.sort((a, b) => a.PartNumber! - b.PartNumber!);
    await r.client.send(new CompleteMultipartUploadCommand({ Bucket: r.bucket, Key: r.key, UploadId, MultipartUpload: { Parts: completed }, ...createOnly(r) }));
    return 'created';
  } catch (err) {
    stop.abort();
    await Promise.all(inFlight);
    // Best effort: an upload that cannot be aborted now is listed by `verify` as a leftover.
    await r.client.send(new AbortMultipartUploadCommand({ Bucket: r.bucket, Key: r.key, UploadId })).catch(() => undefined);
    if (isPreconditionFailed(err)) return 'exists';
    throw err;
  } finally {
    r.signal?.removeEventListener('abort', onCancel);
  }
}

/** `length` bytes at `offset`: a view of in-memory content, or read from the file into a buffer (and hashed). */
async function readPart(source: PartSource, offset: number, length: number, takeBuffer: () => Buffer): Promise<Uint8Array> {
  if ('bytes' in source) return source.bytes.subarray(offset, offset + length);
  const buffer = takeBuffer();
  for (let filled = 0; filled < length; ) {
    const { bytesRead } = await source.file.read(buffer, filled, length - filled, offset + filled);
    if (bytesRead === 0) throw changed(source.name); // it shrank
    filled += bytesRead;
  }
  const part = buffer.subarray(0, length);
  source.hash.update(part);
  return part;
}

/** Fails the upload if the file's bytes are no longer those that were hashed when it was staged. */
function checkUnchanged(source: PartSource, sha256: string): void {
  if ('hash' in source && source.hash.digest('hex') !== sha256) throw changed(source.name);
}

function changed(name: string): CacheError {
  return new CacheError('conflict', `${name} changed while it was being stored; nothing was stored, try again`);
}
