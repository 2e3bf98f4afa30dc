import type { IncomingMessage } from 'node:http';
import { LIMITS, sourceNameSchema } from '../../src-shared/contract';
import { BATCH_MAX_BYTES, BATCH_MAX_FILES } from '../../src-shared/batch-frame';
import { nextChunk } from './body-chunks';
import { CacheError } from '../../src-shared/errors';
import type { BatchItem } from '../ipc/bulk-store';

/** A body of small files is held until every frame is checked; bigger bodies hold one file, streamed. */
export const MAX_HELD_BODY = BATCH_MAX_BYTES + BATCH_MAX_FILES * (12 + LIMITS.nameLength * 4);

const utf8 = new TextDecoder('utf-8', { fatal: true });

function bad(message: string): CacheError {
  return new CacheError('invalid_input', `batch: ${message}`);
}

/** One frame's header at `at` in `bytes`: the name (checked) and size, and where its content starts. */
function header(bytes: Buffer, at: number): { name: string; size: number; start: number } {
  if (bytes.byteLength - at < 4) throw bad('the body ends inside a frame header');
  const nameLength = bytes.readUInt32BE(at);
  if (nameLength > LIMITS.nameLength * 4) throw bad(`a name of ${nameLength} bytes is longer than names can be`);
  const sizeAt = at + 4 + nameLength;
  if (bytes.byteLength < sizeAt + 8) throw bad('the body ends inside a frame header');
  let name: string;
  try {
    name = utf8.decode(bytes.subarray(at + 4, sizeAt));
  } catch {
    throw bad('a name is not UTF-8 text');
  }
  const checked = sourceNameSchema.safeParse(name);
  if (!checked.success) throw bad(`${JSON.stringify(name.slice(0, 200))}: ${checked.error.issues[0]?.message}`);
  const size = bytes.readBigUInt64BE(sizeAt);
  if (size > BigInt(Number.MAX_SAFE_INTEGER)) throw bad(`${name}: the size is out of range`);
  return { name, size: Number(size), start: sizeAt + 8 };
}

/** Every frame of a held body, checked before anything is stored: a bad one refuses the whole batch. */
export function parseHeldBatch(body: Buffer): BatchItem[] {
  const items: BatchItem[] = [];
  for (let at = 0; at < body.byteLength; ) {
    if (items.length === LIMITS.batchFiles) throw bad(`a batch holds at most ${LIMITS.batchFiles} files`);
    const { name, size, start } = header(body, at);
    if (body.byteLength - start < size) throw bad(`${name}: the body ends before its ${size} bytes`);
    items.push({ name, size, source: { kind: 'bytes', bytes: body.subarray(start, start + size) } });
    at = start + size;
  }
  if (items.length === 0) throw bad('the body holds no file');
  return items;
}

/**
 * The files of a batch request. A body up to MAX_HELD_BODY is read whole and checked frame by
 * frame; a bigger one must be exactly one frame (its header, then its bytes to the end), whose
 * content is streamed into the store as it arrives.
 */
export async function readBatch(req: IncomingMessage, signal: AbortSignal, idleMs: number): Promise<BatchItem[]> {
  const length = Number(req.headers['content-length']);
  if (!Number.isSafeInteger(length) || length <= 0) throw new CacheError('invalid_input', 'batch: the request needs a Content-Length');
  const chunks = (req as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  let held = Buffer.alloc(0);
  if (length <= MAX_HELD_BODY) {
    // Its own memory, never a slice of Node's shared pool: the batch's files are moved to a store worker whole (StorePool).
    const body = Buffer.allocUnsafeSlow(length);
    let got = 0;
    for (let next = await nextChunk(chunks, idleMs); !next.done; next = await nextChunk(chunks, idleMs)) {
      if (got + next.value.byteLength <= length) next.value.copy(body, got);
      got += next.value.byteLength;
    }
    if (got !== length) throw bad(`the body has ${got} bytes, not the ${length} announced`);
    return parseHeldBatch(body);
  }
  // One big file: read its header, then hand the rest of the body over as its content.
  let frame: ReturnType<typeof header> | null = null;
  while (!frame) {
    const next = await nextChunk(chunks, idleMs);
    if (next.done) throw bad('the body ends inside a frame header');
    held = Buffer.concat([held, next.value]);
    try {
      frame = header(held, 0);
    } catch (err) {
      if (!(err instanceof CacheError && err.message.includes('ends inside a frame header'))) throw err;
    }
  }
  const { name, size, start } = frame;
  if (start + size !== length) throw bad(`a body over ${MAX_HELD_BODY} bytes holds exactly one file (${name} does not fill it)`);
  const first = held.subarray(start);
  const cancel = { signal, error: () => new CacheError('cancelled', `${name}: cancelled before it was stored`) };
  const stream = async function* () {
    let got = first.byteLength;
    if (got) yield first;
    for (let next = await nextChunk(chunks, idleMs, cancel); !next.done; next = await nextChunk(chunks, idleMs, cancel)) {
      got += next.value.byteLength;
      yield next.value;
    }
    if (got !== size) throw bad(`${name}: the body ended after ${got} of its ${size} bytes`);
  };
  return [{ name, size, source: { kind: 'stream', stream: stream() } }];
}
