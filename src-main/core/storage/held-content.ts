import { createHash } from 'node:crypto';
import type { StorageBackend } from './types';

/** Content up to this size is re-hashed before a store counts on it; above, its size is checked. */
export const CHECKED_CONTENT_BYTES = 64 << 20;

/**
 * What a content key holds, before a store of `expected` counts on it instead of writing its own
 * copy. Content keys are named by their hash, so other bytes there are corrupt (a torn copy, a
 * flipped bit, another tool's write): the store replaces them rather than adding a version that
 * could never be read. `sizeOf` is the backend's cheapest way to one key's size (null: absent).
 */
export async function heldContent(
  storage: StorageBackend,
  key: string,
  expected: { size: number; sha256: string },
  sizeOf: (key: string) => Promise<number | null>,
): Promise<'absent' | 'intact' | 'corrupt'> {
  const size = await sizeOf(key);
  if (size === null) return 'absent';
  if (size !== expected.size) return 'corrupt';
  if (size > CHECKED_CONTENT_BYTES) return 'intact';
  const hash = createHash('sha256');
  try {
    const stream = await storage.getStream(key);
    if (!stream) return 'absent';
    for await (const chunk of stream) hash.update(chunk);
  } catch {
    return 'corrupt'; // unreadable (no read permission, a failing disk): no copy to count on
  }
  return hash.digest('hex') === expected.sha256 ? 'intact' : 'corrupt';
}
