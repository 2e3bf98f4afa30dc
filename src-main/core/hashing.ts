import { createHash } from 'node:crypto';
import * as fsSync from 'node:fs';
import { open } from 'node:fs/promises';
import type { CacheHash } from '../../src-shared/domain';
import { HASH_LENGTH } from '../../src-shared/domain';
import { CacheError } from '../../src-shared/errors';
import { BufferRing, type ChunkBuffers, freshBuffers } from './buffer-ring';
import type { ContentSource, StageOptions } from './storage/types';

export const HEAD_BYTES = 512;
/** Files smaller than this are read in one call; bigger ones stream in chunks of this size. */
export const READ_CHUNK = 1 << 20;

export function cacheHashOfSha256(sha256: string): CacheHash {
  return sha256.slice(0, HASH_LENGTH) as CacheHash;
}

export function cacheHashOf(bytes: Uint8Array | string): CacheHash {
  return cacheHashOfSha256(createHash('sha256').update(bytes).digest('hex'));
}

export interface ReadOptions {
  /** Small files read with direct system calls rather than thread-pool trips (CLI bulk stores). */
  blockingReads?: boolean;
  /** What big files are read into (default: a new 1 MiB buffer per chunk). */
  buffers?: ChunkBuffers;
}

/** The bytes of a source as a stream of chunks (big files are read in chunks, never whole). */
export function chunksOf(source: ContentSource, options: ReadOptions = {}): AsyncIterable<Uint8Array> {
  switch (source.kind) {
    case 'bytes':
      return (async function* () {
        yield source.bytes;
      })();
    case 'file':
      return readFileChunks(source.path, options);
    case 'stream':
      return source.stream;
  }
}

/** A file in chunks; a small file is one read into a buffer of its own size. */
async function* readFileChunks(file: string, options: ReadOptions): AsyncIterable<Uint8Array> {
  const small = options.blockingReads ? readSmallFileBlocking(file) : await readSmallFile(file);
  if (small) {
    if (small.byteLength > 0) yield small;
    return;
  }
  yield* readBigFile(file, options.buffers ?? freshBuffers(READ_CHUNK));
}

/**
 * A big file as long as it was when opened, one buffer per chunk; the next chunk is read while
 * the caller works on this one.
 */
async function* readBigFile(file: string, buffers: ChunkBuffers): AsyncIterable<Uint8Array> {
  const handle = await open(file, 'r');
  let ahead: Promise<Uint8Array> | null = null;
  try {
    const { size } = await handle.stat();
    const readAt = async (position: number): Promise<Uint8Array> => {
      const buffer = await buffers.next();
      const { bytesRead } = await handle.read(buffer, 0, Math.min(buffer.byteLength, size - position), position);
      return buffer.subarray(0, bytesRead);
    };
    const readAhead = (position: number) => {
      const read = readAt(position);
      read.catch(() => undefined); // awaited below; until then a failure must not count as unhandled
      return read;
    };
    let position = 0;
    ahead = size > 0 ? readAhead(0) : null;
    while (ahead) {
      const chunk = await ahead;
      if (chunk.byteLength === 0) break; // the file shrank
      position += chunk.byteLength;
      ahead = position < size ? readAhead(position) : null;
      yield chunk;
    }
  } finally {
    await ahead?.catch(() => undefined); // a read in flight must end before its file closes
    await handle.close();
  }
}

/** The whole file when it is smaller than one chunk, else null. */
async function readSmallFile(file: string): Promise<Buffer | null> {
  const handle = await open(file, 'r');
  try {
    return (await handle.stat()).size < READ_CHUNK ? await handle.readFile() : null;
  } finally {
    await handle.close();
  }
}

/** The same with direct system calls. */
function readSmallFileBlocking(file: string): Buffer | null {
  const fd = fsSync.openSync(file, 'r');
  try {
    const { size } = fsSync.fstatSync(fd);
    if (size >= READ_CHUNK) return null;
    const data = Buffer.allocUnsafe(size);
    let done = 0;
    for (let n = 1; done < size && n > 0; done += n) n = fsSync.readSync(fd, data, done, size - done, null);
    return data.subarray(0, done);
  } finally {
    fsSync.closeSync(fd);
  }
}

export interface HashedChunkSink {
  (chunk: Uint8Array): Promise<void> | void;
}

export interface HashResult {
  sha256: string;
  size: number;
  head: Uint8Array;
}

/**
 * Reads a source once, handing each chunk to `sink`. Enforces `maxBytes` before a chunk reaches
 * the sink, stops promptly on abort, and turns file errors into typed ones. Returns the size.
 */
async function pumpChunks(source: ContentSource, options: PumpOptions, sink: HashedChunkSink): Promise<number> {
  let size = 0;
  try {
    for await (const raw of chunksOf(source, options)) {
      if (options.signal?.aborted) throw new CacheError('cancelled', 'the store was cancelled');
      const chunk = raw instanceof Uint8Array ? raw : new Uint8Array(raw as ArrayBuffer);
      size += chunk.byteLength;
      if (options.maxBytes !== undefined && size > options.maxBytes) {
        throw new CacheError('too_large', `content is larger than the ${options.maxBytes}-byte limit for one entry`);
      }
      await sink(chunk);
      options.onProgress?.(size);
    }
  } catch (err) {
    if (err instanceof CacheError) throw err;
    if (options.signal?.aborted) throw new CacheError('cancelled', 'the store was cancelled', { cause: err });
    const name = source.kind === 'file' ? source.path : 'input';
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ENOENT') throw new CacheError('not_found', `no such file: ${name}`);
    if (e.code === 'EISDIR') throw new CacheError('invalid_input', `${name} is a directory`);
    if (e.code === 'EACCES') throw new CacheError('access_denied', `cannot read ${name}`);
    throw err;
  }
  return size;
}

export type PumpOptions = StageOptions & ReadOptions;

/** Reads a source once, hashing it and handing each chunk to `sink`. */
export async function pumpHashed(source: ContentSource, options: PumpOptions, sink?: HashedChunkSink): Promise<HashResult> {
  // Without a sink nothing keeps a chunk past its hashing, so two reused buffers serve a file of
  // any size (no garbage for the GC to catch up with).
  if (!sink && !options.buffers) options = { ...options, buffers: new BufferRing(2, READ_CHUNK) };
  const hash = createHash('sha256');
  let head: Uint8Array = new Uint8Array(0);
  const size = await pumpChunks(source, options, async (chunk) => {
    if (head.byteLength < HEAD_BYTES) head = concat(head, chunk.subarray(0, HEAD_BYTES - head.byteLength));
    hash.update(chunk);
    if (sink) await sink(chunk);
  });
  return { sha256: hash.digest('hex'), size, head };
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.byteLength + b.byteLength);
  out.set(a, 0);
  out.set(b, a.byteLength);
  return out;
}

/** Collects a source into memory, failing with `too_large` past `maxBytes` (JSON must be parsed whole). */
export async function readAllBounded(source: ContentSource, maxBytes: number, signal?: AbortSignal): Promise<Uint8Array> {
  if (source.kind === 'bytes') {
    if (source.bytes.byteLength > maxBytes) throw new CacheError('too_large', `JSON input is larger than ${maxBytes} bytes`);
    return source.bytes;
  }
  const parts: Uint8Array[] = [];
  await pumpChunks(source, { maxBytes, signal }, (chunk) => {
    parts.push(chunk);
  });
  return Buffer.concat(parts);
}
