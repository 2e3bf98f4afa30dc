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
  assertKeyMatches(key, KEY_RE);
}

function assertKeyMatches(key: string, pattern: RegExp): void {
  if (typeof key !== 'string' || key.length === 0 || key.length > MAX_KEY_LENGTH) {
    throw new CacheError('invalid_key', `storage key must be 1-${MAX_KEY_LENGTH} characters`);
  }
  if (!pattern.test(key)) {
    throw new CacheError('invalid_key', `${JSON.stringify(key.slice(0, 100))} is not a valid storage key`);
  }
}

/**
 * What a key found in a store may also hold, to be read, listed or deleted (never written): the
 * Python service's paths (its Safe_Str__File__Path) allow spaces and backslashes, and its cache keys
 * ".", ".." and empty segments and segments starting with ".". Each backend keeps such a key inside
 * its root (the local folder resolves it as the service's own local store does).
 */
const FOUND_KEY_RE = /^[A-Za-z0-9_.~%!*'()+= \\/-]+$/;

/**
 * A found key resolved as the service's own local store resolves a path (os.path.abspath): a leading
 * "/", "." and empty segments dropped, ".." taking off the segment before it. Refused when it climbs
 * above the root, names a top-level dot folder (staging) or a dot file (temp files): none is a key.
 */
export function resolveFoundKey(key: string, options: { prefix?: boolean } = {}): string {
  if (typeof key === 'string' && key.length <= MAX_KEY_LENGTH && KEY_RE.test(key)) return key; // a key as stores write it: nothing to resolve
  assertKeyMatches(key, FOUND_KEY_RE);
  const segments: string[] = [];
  for (const segment of key.split('/')) {
    if (segment === '..' && segments.length === 0) throw new CacheError('invalid_key', `${JSON.stringify(key.slice(0, 100))} leaves the storage root`);
    if (segment === '..') segments.pop();
    else if (segment !== '' && segment !== '.') segments.push(segment);
  }
  // A prefix may end in a dot folder below the root (a key's folder, as listings show it: isHidden); a key may not end in a dot file.
  if (segments.length === 0 || segments[0]!.startsWith('.') || (!options.prefix && segments[segments.length - 1]!.startsWith('.'))) {
    throw new CacheError('invalid_key', `${JSON.stringify(key.slice(0, 100))} names no key: a store keeps its own files (staging, temp files) under names starting with "."`);
  }
  return segments.join('/');
}

/**
 * A found key as an object store holds it: verbatim. The service's S3 store writes a path's text as
 * the object's name, so there `x/../y/v.json` is an object of its own; resolved as a folder path it
 * would name another entry's object.
 */
export function literalFoundKey(key: string): string {
  resolveFoundKey(key); // refused where a folder refuses it (above the root, a dot file): some servers resolve ".." themselves
  return key;
}

/** A list prefix is a key prefix: it may end in "/" or part-way through a segment. */
export function assertValidPrefix(prefix: string): void {
  if (prefix === '') return;
  const trimmed = prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
  assertValidKey(trimmed);
}

/** A prefix to list what a store holds, keys it did not write included (resolveFoundKey). */
export function assertReadablePrefix(prefix: string): void {
  if (prefix !== '') resolveFoundKey(prefix, { prefix: true });
}

/** Whether a check passes, for schemas that refine with a predicate. */
const passes =
  (check: (value: string) => void) =>
  (value: string): boolean => {
    try {
      check(value);
      return true;
    } catch {
      return false;
    }
  };

export const isValidPrefix = passes(assertValidPrefix);
export const isReadablePrefix = passes(assertReadablePrefix);
