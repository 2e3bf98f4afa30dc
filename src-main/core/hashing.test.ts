import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BufferRing } from './buffer-ring';
import { READ_CHUNK, chunksOf, readAllBounded } from './hashing';

/** Blocks this thread (as hashing a chunk does) until `done()` or 10 s; nothing queued on it runs meanwhile. */
/** Holds this thread (no callback, no promise runs) until `done()`, for up to 10 s; whether it was seen done. */
function holdThreadUntil(done: () => boolean): boolean {
  const nap = new Int32Array(new SharedArrayBuffer(4));
  for (const deadline = Date.now() + 10_000; Date.now() < deadline; Atomics.wait(nap, 0, 0, 5)) if (done()) return true;
  return false;
}

describe('reading a big file', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
  });

  for (const [kind, ring] of [
    ['ring', () => new BufferRing(4, READ_CHUNK)],
    ['new buffers', () => undefined],
  ] as const) {
    it(`reads the next chunk while the caller still works on the one before (${kind})`, async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cache-admin-read-'));
      dirs.push(dir);
      const file = path.join(dir, 'big.bin');
      const chunkSize = READ_CHUNK; // smaller files are read in one call
      const bytes = randomBytes(3 * chunkSize);
      fs.writeFileSync(file, bytes);
      const handedOut: Uint8Array[] = [];
      const inner = ring();
      const buffers = {
        next: async () => {
          const buffer = inner ? await inner.next() : new Uint8Array(chunkSize);
          handedOut.push(buffer);
          return buffer;
        },
      };
      const chunks = chunksOf({ kind: 'file', path: file }, { buffers })[Symbol.asyncIterator]();
      const first = await chunks.next();
      expect(Buffer.compare(first.value!, bytes.subarray(0, chunkSize))).toBe(0);
      // The caller hashes the first chunk without yielding: the second must already be on its way,
      // not wait until this thread is free (which made a big store read and hash in turn).
      const secondArrived = () => handedOut.length >= 2 && Buffer.compare(handedOut[1]!.subarray(0, chunkSize), bytes.subarray(chunkSize, 2 * chunkSize)) === 0;
      expect(holdThreadUntil(secondArrived)).toBe(true);
      const read = [Buffer.from(first.value!)];
      for (let next = await chunks.next(); !next.done; next = await chunks.next()) read.push(Buffer.from(next.value));
      expect(Buffer.compare(Buffer.concat(read), bytes)).toBe(0);
    });
  }
});

describe('content read whole', () => {
  it('past its limit is refused with the same message whether it came whole or streamed, naming the limit', async () => {
    async function* streamed() {
      yield Buffer.alloc(8);
      yield Buffer.alloc(8);
    }
    for (const source of [{ kind: 'bytes' as const, bytes: Buffer.alloc(16) }, { kind: 'stream' as const, stream: streamed() }]) {
      await expect(readAllBounded(source, 10)).rejects.toMatchObject({ code: 'too_large', message: 'content is larger than the 10-byte limit for one entry' });
      expect(await readAllBounded(source.kind === 'bytes' ? source : { kind: 'stream', stream: streamed() }, 16)).toHaveLength(16);
    }
    await expect(readAllBounded({ kind: 'bytes', bytes: Buffer.alloc(16) }, 10, {}, 'JSON, which is parsed whole')).rejects.toThrow('the 10-byte limit for JSON, which is parsed whole');
    // The limit as an operator gives it (--max-entry-size 3M), not as 3145728 bytes.
    await expect(readAllBounded({ kind: 'bytes', bytes: Buffer.alloc((3 << 20) + 1) }, 3 << 20)).rejects.toThrow('content is larger than the 3 MiB limit for one entry');
    await expect(readAllBounded({ kind: 'bytes', bytes: Buffer.alloc(1501) }, 1500)).rejects.toThrow('content is larger than the 1,500-byte limit for one entry');
  });
});
