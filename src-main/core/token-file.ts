import type { StorageBackend } from './storage/types';

/**
 * A lock object's holder token and its time field (`since` for deletion markers, `refreshed` for
 * prune leases). One that is not ours to read counts as a dead holder's: token '', time 0.
 */
export async function readTokenFile(storage: StorageBackend, key: string, timeField: string): Promise<{ token: string; at: number } | null> {
  const bytes = await storage.get(key);
  if (!bytes) return null;
  try {
    const parsed = JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>;
    const { token } = parsed;
    const time = parsed[timeField];
    if (typeof token === 'string' && typeof time === 'string' && !Number.isNaN(Date.parse(time))) return { token, at: Date.parse(time) };
  } catch {
    // not written by us
  }
  return { token: '', at: 0 };
}
