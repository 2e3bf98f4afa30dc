import { CacheError } from './errors';

/** Characters a key segment may use; the layout only writes these (percent-encoding included). */
const SEGMENT = "[A-Za-z0-9_~%!*'()+=-][A-Za-z0-9._~%!*'()+=-]*";
const KEY_RE = new RegExp(`^${SEGMENT}(?:/${SEGMENT})*$`);
export const MAX_KEY_LENGTH = 1024;

/**
 * Rejects any key that could leave the storage root or collide with temp files: no empty, "." or
 * ".." segments, no segment starting with "." (temp files do), no backslashes, NULs or absolute paths.
 */
export function assertValidKey(key: string): void {
  if (typeof key !== 'string' || key.length === 0 || key.length > MAX_KEY_LENGTH) {
    throw new CacheError('invalid_key', `storage key must be 1-${MAX_KEY_LENGTH} characters`);
  }
  if (!KEY_RE.test(key)) {
    throw new CacheError('invalid_key', `${JSON.stringify(key.slice(0, 100))} is not a valid storage key`);
  }
}

/** A list prefix is a key prefix: it may end in "/" or part-way through a segment. */
export function assertValidPrefix(prefix: string): void {
  if (prefix === '') return;
  const trimmed = prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
  assertValidKey(trimmed);
}

export function isValidPrefix(prefix: string): boolean {
  try {
    assertValidPrefix(prefix);
    return true;
  } catch {
    return false;
  }
}
