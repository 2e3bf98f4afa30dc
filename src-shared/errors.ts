/** Codes that mean "the caller's input was wrong" (CLI exit code 2). */
const INPUT_CODES = ['invalid_hash', 'invalid_cache_id', 'invalid_namespace', 'invalid_key', 'invalid_input', 'invalid_json', 'too_large'] as const;

/** Error codes the UI and scripts can act on. The same codes cross every boundary (CLI, IPC, bridge). */
export const ERROR_CODES = [
  ...INPUT_CODES,
  'not_found',
  'cancelled',
  'conflict',
  'access_denied',
  'no_such_bucket',
  'storage_unreachable',
  'throttled',
  'unauthorized',
  'internal',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export interface ErrorInfo {
  code: ErrorCode;
  message: string;
}

/** A failure with a code a caller can branch on and a message a person can read. */
export class CacheError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CacheError';
    this.code = code;
  }

  toInfo(): ErrorInfo {
    return { code: this.code, message: this.message };
  }
}

export function isCacheError(value: unknown): value is CacheError {
  return value instanceof CacheError;
}

export const INPUT_ERROR_CODES: ReadonlySet<ErrorCode> = new Set(INPUT_CODES);
