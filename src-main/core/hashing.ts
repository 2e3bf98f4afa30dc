import { createHash } from 'node:crypto';
import * as fsSync from 'node:fs';
import { open } from 'node:fs/promises';
import { Socket } from 'node:net';
import { addAbortSignal } from 'node:stream';
import { promisify } from 'node:util';
import type { CacheHash } from '../../src-shared/domain';
import { HASH_LENGTH } from '../../src-shared/domain';
import { CacheError, fileSystemError } from '../../src-shared/errors';
import { BufferRing, type ChunkBuffers, freshBuffers, readsInto } from './buffer-ring';
import { WorkerHash } from './hash-worker';
import type { ContentSource, StageOptions } from './storage/types';

export const HEAD_BYTES = 512;
/** Regular files smaller than this are read in one call; bigger ones stream in chunks of this size. */
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
  /** Stops a read that waits (a pipe with no writer yet). */
  signal?: AbortSignal;
  /** Hears a regular file's size before its first read (to refuse it unread); the reads still go to its end. */
  onFileSize?: (size: number) => void;
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
    case 'stream': {
      const fd = unreadFileStreamFd(source.stream);
      if (fd !== null) return readStreamFile(source.stream, fd, options);
      return options.buffers instanceof BufferRing ? gathered(source.stream, options.buffers) : source.stream;
    }
  }
}

/** Whether a source arrives in a stream's small chunks (an upload, a pipe) rather than read from a file. */
export function streamsIn(source: ContentSource): boolean {
  return source.kind === 'stream' && unreadFileStreamFd(source.stream) === null;
}

/**
 * A stream's chunks (64 KiB from a socket or a pipe) gathered into the ring's buffers: each is then
 * written whole, with direct I/O, and hashed in place on the hashing thread; 256 chunks a GiB, not 16,384.
 * A stream that reads into buffers itself (an upload off its socket) fills them in place.
 */
async function* gathered(stream: AsyncIterable<Uint8Array>, buffers: BufferRing): AsyncIterable<Uint8Array> {
  if (readsInto(stream)) {
    yield* stream.readInto(buffers);
    return;
  }
  let buffer: Buffer | null = null;
  let used = 0;
  for await (const raw of stream) {
    const chunk = raw instanceof Uint8Array ? raw : new Uint8Array(raw as ArrayBuffer);
    for (let taken = 0; taken < chunk.byteLength; ) {
      if (!buffer) {
        const next = await buffers.next();
        buffer = Buffer.from(next.buffer, next.byteOffset, next.byteLength);
      }
      const n = Math.min(chunk.byteLength - taken, buffer.byteLength - used);
      // fill() copies with one memcpy. TypedArray.set copies into shared memory byte by byte unless
      // both sides are 8-byte aligned alike (330 ms a GiB against 15), and a socket's chunks start anywhere.
      buffer.fill(chunk.subarray(taken, taken + n), used, used + n);
      used += n;
      taken += n;
      if (used === buffer.byteLength) {
        yield buffer;
        buffer = null;
        used = 0;
      }
    }
  }
  if (buffer && used > 0) yield buffer.subarray(0, used);
}

/**
 * The descriptor of a file stream no one has read from and that will not close it itself: stdin
 * redirected from a file (`store - < big.bin`). Null for any other stream.
 */
function unreadFileStreamFd(stream: AsyncIterable<Uint8Array>): number | null {
  if (!(stream instanceof fsSync.ReadStream)) return null;
  const file = stream as fsSync.ReadStream & { fd?: unknown; autoClose?: boolean }; // both untyped in @types/node
  if (file.autoClose !== false || file.bytesRead !== 0 || file.readableLength !== 0) return null;
  return typeof file.fd === 'number' ? file.fd : null;
}

/**
 * Such a stream read as the file it is, from its current offset: 4 MiB reads into the caller's
 * buffers instead of 64 KiB chunks, each a thread-pool round trip (a 1 GiB store 2x faster).
 */
async function* readStreamFile(stream: AsyncIterable<Uint8Array>, fd: number, options: ReadOptions): AsyncIterable<Uint8Array> {
  const stats = await fstatAsync(fd);
  if (!stats.isFile()) {
    yield* stream;
    return;
  }
  options.onFileSize?.(stats.size);
  yield* readRegularFile(fd, null, stats.size > 0, options.buffers ?? freshBuffers(READ_CHUNK));
}

const { O_RDONLY, O_NONBLOCK } = fsSync.constants;
/** A FIFO with no writer yet opens at once instead of blocking a thread (regular files ignore O_NONBLOCK). */
const OPEN_WITHOUT_WAITING = O_RDONLY | (O_NONBLOCK ?? 0);
const openAsync = promisify(fsSync.open);
const fstatAsync = promisify(fsSync.fstat);
const readAsync = promisify(fsSync.read);
const closeAsync = promisify(fsSync.close);

/**
 * A file in chunks, always read to its end: the size stat reports is only a hint (a pipe, /proc
 * and a file still growing all say otherwise). A small regular file is one read into a buffer one
 * byte longer than its size, so a short read proves the end without a second call.
 */
async function* readFileChunks(file: string, options: ReadOptions): AsyncIterable<Uint8Array> {
  const blocking = options.blockingReads ?? false;
  const fd = blocking ? fsSync.openSync(file, OPEN_WITHOUT_WAITING) : await openAsync(file, OPEN_WITHOUT_WAITING);
  let ownsFd = true;
  try {
    const stats = blocking ? fsSync.fstatSync(fd) : await fstatAsync(fd);
    if (stats.isDirectory()) throw new CacheError('invalid_input', `${file} is a directory`);
    if (stats.isFIFO()) {
      ownsFd = false; // the pipe reader closes it
      yield* readPipe(fd, options.signal);
      return;
    }
    const buffers = options.buffers ?? freshBuffers(READ_CHUNK);
    if (!stats.isFile()) {
      yield* readDevice(file, buffers);
      return;
    }
    options.onFileSize?.(stats.size);
    let position = 0;
    if (stats.size > 0 && stats.size < READ_CHUNK) {
      const data = Buffer.allocUnsafe(stats.size + 1);
      position = blocking ? readBlocking(fd, data, stats.size) : await readUpTo(fd, data, stats.size);
      if (position <= stats.size) {
        yield data.subarray(0, position);
        return;
      }
      yield data; // it grew since fstat: read on
    }
    // /proc files say 0 bytes and may answer in short reads: only a read of nothing ends them.
    yield* readRegularFile(fd, position, stats.size > 0, buffers);
  } finally {
    if (ownsFd && blocking) fsSync.closeSync(fd);
    else if (ownsFd) await closeAsync(fd);
  }
}

/** Reads into `data` until `expected` bytes came or a read returns nothing; returns the count (more than `expected` if the file grew). */
function readBlocking(fd: number, data: Buffer, expected: number): number {
  let done = 0;
  for (let n = 1; done < expected && n > 0; done += n) n = fsSync.readSync(fd, data, done, data.byteLength - done, null);
  return done;
}

async function readUpTo(fd: number, data: Buffer, expected: number): Promise<number> {
  let done = 0;
  for (let n = 1; done < expected && n > 0; done += n) n = (await readAsync(fd, data, done, data.byteLength - done, null)).bytesRead;
  return done;
}

/**
 * The rest of a regular file from `start` (null: from the descriptor's own offset), one buffer per
 * chunk; the next chunk is read while the caller works on this one. Where the size is real, a
 * short read is the end of the file.
 */
async function* readRegularFile(fd: number, start: number | null, shortReadEnds: boolean, buffers: ChunkBuffers): AsyncIterable<Uint8Array> {
  const readAt = async (position: number | null): Promise<{ chunk: Uint8Array; last: boolean }> => {
    const buffer = await buffers.next();
    const { bytesRead } = await readAsync(fd, buffer, 0, buffer.byteLength, position);
    return { chunk: buffer.subarray(0, bytesRead), last: bytesRead === 0 || (shortReadEnds && bytesRead < buffer.byteLength) };
  };
  const readAhead = (position: number | null) => {
    const read = readAt(position);
    read.catch(() => undefined); // awaited below; until then a failure must not count as unhandled
    return read;
  };
  let ahead: Promise<{ chunk: Uint8Array; last: boolean }> | null = readAhead(start);
  try {
    for (let position = start; ahead; ) {
      const { chunk, last }: { chunk: Uint8Array; last: boolean } = await ahead;
      if (position !== null) position += chunk.byteLength;
      ahead = last ? null : readAhead(position);
      if (chunk.byteLength > 0) yield chunk;
    }
  } finally {
    await ahead?.catch(() => undefined); // a read in flight must end before its file closes
  }
}

/** A FIFO through the event loop: waiting for a writer holds no thread, and `signal` ends the wait. */
async function* readPipe(fd: number, signal?: AbortSignal): AsyncIterable<Uint8Array> {
  const pipe = new Socket({ fd, readable: true, writable: false });
  if (signal) addAbortSignal(signal, pipe);
  try {
    yield* pipe;
  } finally {
    pipe.destroy();
  }
}

/** A character or block device (/dev/zero, a terminal), opened again to block on reads, read until it ends. */
async function* readDevice(file: string, buffers: ChunkBuffers): AsyncIterable<Uint8Array> {
  const handle = await open(file, 'r');
  try {
    for (;;) {
      const buffer = await buffers.next();
      const { bytesRead } = await handle.read(buffer, 0, buffer.byteLength, null);
      if (bytesRead === 0) return;
      yield buffer.subarray(0, bytesRead);
    }
  } finally {
    await handle.close();
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
async function pumpChunks(source: ContentSource, options: PumpOptions, sink: HashedChunkSink, limit = 'one entry'): Promise<number> {
  const tooLarge = () => tooLargeError(options.maxBytes!, limit);
  if (source.kind === 'stream' && options.maxBytes !== undefined && (source.size ?? 0) > options.maxBytes) throw tooLarge();
  let size = 0;
  // A file that says it is over the limit is refused before a byte of it is read or written.
  const onFileSize = (fileSize: number) => {
    if (options.maxBytes !== undefined && fileSize > options.maxBytes) throw tooLarge();
    options.onFileSize?.(fileSize);
  };
  try {
    for await (const raw of chunksOf(source, { ...options, onFileSize })) {
      if (options.signal?.aborted) throw new CacheError('cancelled', 'the store was cancelled');
      const chunk = raw instanceof Uint8Array ? raw : new Uint8Array(raw as ArrayBuffer);
      size += chunk.byteLength;
      if (options.maxBytes !== undefined && size > options.maxBytes) throw tooLarge();
      await sink(chunk);
      options.onProgress?.(size);
    }
  } catch (err) {
    if (err instanceof CacheError) throw err;
    if (options.signal?.aborted) throw new CacheError('cancelled', 'the store was cancelled', { cause: err });
    const name = source.kind === 'file' ? source.path : 'input';
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new CacheError('not_found', `no such file: ${name}`);
    throw fileSystemError(err, `cannot read ${name}`);
  }
  return size;
}

export type PumpOptions = StageOptions & ReadOptions;

/** Reads a source once, hashing it and handing each chunk to `sink`. */
export async function pumpHashed(source: ContentSource, options: PumpOptions, sink?: HashedChunkSink): Promise<HashResult> {
  // Without a sink nothing keeps a chunk past its hashing, so two reused buffers serve a file of
  // any size (no garbage for the GC to catch up with).
  const ownRing = !sink && !options.buffers ? new BufferRing(2, READ_CHUNK) : null;
  if (ownRing) options = { ...options, buffers: ownRing };
  const ring = options.buffers instanceof BufferRing ? options.buffers : null;
  // Streamed content is gathered into the ring and hashed on the hashing thread while this thread
  // receives the next bytes; a file's reads leave this thread free to hash them itself (cheaper).
  const offThread = ring && streamsIn(source) ? new WorkerHash() : null;
  const hash = offThread ? null : createHash('sha256');
  let head: Uint8Array = new Uint8Array(0);
  try {
    const size = await pumpChunks(source, options, async (chunk) => {
      if (head.byteLength < HEAD_BYTES) head = concat(head, chunk.subarray(0, HEAD_BYTES - head.byteLength));
      if (offThread) {
        const hashed = offThread.update(chunk);
        hashed.catch(() => undefined); // a failure is reported by digest()
        ring!.holdUntil(chunk, hashed);
      } else hash!.update(chunk);
      if (sink) await sink(chunk);
    });
    return { sha256: offThread ? await offThread.digest() : hash!.digest('hex'), size, head };
  } catch (err) {
    offThread?.drop();
    throw err;
  } finally {
    await ownRing?.release();
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.byteLength + b.byteLength);
  out.set(a, 0);
  out.set(b, a.byteLength);
  return out;
}

function tooLargeError(maxBytes: number, limit: string): CacheError {
  return new CacheError('too_large', `content is larger than the ${limitText(maxBytes)} limit for ${limit}`);
}

/** A limit in the largest binary unit that divides it (`--max-entry-size 300M`: "300 MiB", not "314572800-byte"). */
function limitText(bytes: number): string {
  for (const [unit, size] of [['TiB', 2 ** 40], ['GiB', 2 ** 30], ['MiB', 2 ** 20], ['KiB', 2 ** 10]] as const) {
    if (bytes >= size && bytes % size === 0) return `${bytes / size} ${unit}`;
  }
  return `${bytes.toLocaleString('en-US')}-byte`;
}

/**
 * Collects a source into memory (content parsed or rewritten whole), failing with `too_large` past
 * `maxBytes`, which the error calls the limit for `limit`.
 */
export async function readAllBounded(source: ContentSource, maxBytes: number, options: Pick<StageOptions, 'signal' | 'onProgress'> = {}, limit = 'one entry'): Promise<Uint8Array> {
  if (source.kind === 'bytes') {
    if (source.bytes.byteLength > maxBytes) throw tooLargeError(maxBytes, limit);
    options.onProgress?.(source.bytes.byteLength);
    return source.bytes;
  }
  const parts: Uint8Array[] = [];
  await pumpChunks(
    source,
    { ...options, maxBytes },
    (chunk) => {
      parts.push(chunk);
    },
    limit,
  );
  return Buffer.concat(parts);
}
