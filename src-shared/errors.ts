/** Codes that mean "the caller's input was wrong" (CLI exit code 2). */
const INPUT_CODES = ['invalid_hash', 'invalid_cache_id', 'invalid_namespace', 'invalid_key', 'invalid_input', 'invalid_json', 'too_large'] as const;

/** Error codes the UI and scripts can act on. The same codes cross every boundary (CLI, IPC, bridge). */
export const ERROR_CODES = [
  ...INPUT_CODES,
  'not_found',
  /** The version is older than its namespace's retention TTL (the service's 410 Gone); `get --allow-expired` still serves it. */
  'expired',
  /** Stored content that does not re-hash to its entry's hash, or a record or ref that is damaged: never served. */
  'corrupt',
  'cancelled',
  'conflict',
  'access_denied',
  'no_space',
  'io_error',
  'no_such_bucket',
  'storage_unreachable',
  'throttled',
  'unauthorized',
  /** The page lost the app behind it (the bridge it was served by stopped): nothing can be called. */
  'disconnected',
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

/** Why a file system call failed, in words (the rest: the errno code itself). */
const ERRNO_REASONS: Record<string, string> = {
  ENOENT: 'no such file or folder',
  ENOTDIR: 'a part of the path is not a folder',
  EISDIR: 'it is a folder',
  EEXIST: 'it already exists',
  ELOOP: 'it is a symbolic link',
  ENXIO: 'it cannot be opened (a socket?)',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'the disk quota is used up',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'the file system is read-only',
  EIO: 'input/output error',
  EMFILE: 'too many open files',
  ENAMETOOLONG: 'the name is too long',
};

const ERRNO_CODES: Record<string, ErrorCode> = { ENOSPC: 'no_space', EDQUOT: 'no_space', EACCES: 'access_denied', EPERM: 'access_denied', EROFS: 'access_denied' };

/**
 * The one place a file system failure (a Node error with an errno code) becomes a typed error:
 * "<doing>: <reason>", e.g. "cannot write /x/out.bin: no space left on the device". Anything
 * else comes back unchanged.
 */
export function fileSystemError(err: unknown, doing: string): unknown {
  const code = (err as { code?: unknown } | null)?.code;
  if (isCacheError(err) || typeof code !== 'string' || !/^E[A-Z0-9]+$/.test(code)) return err;
  return new CacheError(ERRNO_CODES[code] ?? 'io_error', `${doing}: ${ERRNO_REASONS[code] ?? code}`, { cause: err });
}
