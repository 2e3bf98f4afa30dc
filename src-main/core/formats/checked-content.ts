import { createHash } from 'node:crypto';
import { Transform, pipeline, type Readable } from 'node:stream';
import { CacheError } from '../../../src-shared/errors';

/**
 * Serves `content` while hashing it, holding the last chunk back until the whole SHA-256 is known:
 * `problem` (given that hex digest, and how many bytes were served before it) says what is wrong,
 * or null. Wrong content ends the stream with a `corrupt` error before its last chunk is released,
 * so content that fits in one chunk (every preview) is never served at all.
 */
export function checkedContent(content: AsyncIterable<Uint8Array>, problem: (sha256: string, served: number) => string | null): Readable {
  const hash = createHash('sha256');
  let held: Uint8Array | undefined;
  let served = 0;
  const checker = new Transform({
    transform(chunk: Uint8Array, _encoding, done) {
      hash.update(chunk);
      const ready = held;
      held = chunk;
      served += ready?.byteLength ?? 0;
      done(null, ready);
    },
    flush(done) {
      const wrong = problem(hash.digest('hex'), served);
      done(wrong === null ? null : new CacheError('corrupt', wrong), wrong === null ? held : undefined);
    },
  });
  // Errors of either side end both: a consumer that stops early closes the stored file.
  return pipeline(content, checker, () => undefined);
}

/**
 * The one sentence every corrupt read says: which entry, what was expected, what was read, whether any of
 * it was released (a long one streams as it is checked), and what mends it in its layout.
 */
export function corruptContent(cacheId: string, what: string, expected: string, actual: string, mend: string, served: number): string {
  // Where the bytes released went (a pipe, a temp file removed, a preview) is the reader's to say.
  const howMuch = served === 0 ? 'it was not served' : 'its end was held back';
  return `the content of ${cacheId} is corrupt: its ${what} should be ${expected}, the stored bytes give ${actual}; ${howMuch} (run verify; ${mend})`;
}
