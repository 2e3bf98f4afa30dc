import { type CacheError, INPUT_ERROR_CODES } from '../../src-shared/errors';
import { stopSignal } from './interruptible';

/** Cancelled: 128 + the signal's number, as a shell reports a command the signal killed (SIGINT 2, SIGTERM 15). */
export const EXIT = { ok: 0, notFound: 1, usage: 2, failure: 3, cancelled: 130, terminated: 143 } as const;

/** The exit code for a typed error, the same from the CLI and `npm run web`. */
export function exitCodeOf(error: CacheError): number {
  if (error.code === 'not_found') return EXIT.notFound;
  if (error.code === 'cancelled') return stopSignal() === 'SIGTERM' ? EXIT.terminated : EXIT.cancelled;
  return INPUT_ERROR_CODES.has(error.code) ? EXIT.usage : EXIT.failure;
}
