/**
 * A lock across processes over any backend: a lease key written create-only and refreshed while
 * its task runs. A lease that is not refreshed for its stale time belongs to a killed (or paused)
 * process and is taken over: at once when its own time says so, else after this process has
 * watched it unchanged that long (a holder whose clock runs ahead). Prunes hold one per namespace;
 * service-layout stores and deletes one per by-hash ref.
 *
 * Taking over is a check and a write, and a paused holder wakes up still believing it holds the
 * lease: so a task must ask `stillHeld()` right before the write the lease protects, and start
 * again when it says no.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { CacheError } from '../../src-shared/errors';
import type { StorageBackend } from './storage/types';
import { readTokenFile } from './token-file';

export const LEASE_STALE_MS = 30_000;

export interface LeaseOptions {
  /** Default LEASE_STALE_MS; the holder refreshes six times as often. */
  staleMs?: number;
  /** Stops the wait for another holder with a `cancelled` error saying `cancelled`. */
  signal?: AbortSignal;
  cancelled?: string;
  /** Told once, when a holder is found: the wait lasts at most until `until` (when a killed holder's lease goes stale). */
  onWaiting?: (until: Date) => void;
}

/** Runs `task` holding the lease at `key`, waiting for a live holder to finish. */
export async function holdingLease<T>(storage: StorageBackend, key: string, task: (stillHeld: () => Promise<boolean>) => Promise<T>, options: LeaseOptions = {}): Promise<T> {
  const staleMs = options.staleMs ?? LEASE_STALE_MS;
  const token = randomUUID();
  const body = () => new TextEncoder().encode(`${JSON.stringify({ token, refreshed: new Date().toISOString() })}\n`);
  const current = () => readTokenFile(storage, key, 'refreshed');
  let watched: { token: string; at: number; since: number } | null = null;
  let told = false;
  for (let attempt = 0; !(await storage.put(key, body(), { ifAbsent: true, freesSpace: true })); attempt++) {
    const other = await current();
    if (other && (other.token !== watched?.token || other.at !== watched.at)) watched = { ...other, since: Date.now() };
    if (other && (Date.now() - other.at > staleMs || Date.now() - watched!.since > staleMs)) await storage.delete(key);
    else {
      if (other && !told) options.onWaiting?.(new Date(Math.min(other.at, watched!.since) + staleMs));
      told ||= other !== null;
      if (options.signal?.aborted) throw new CacheError('cancelled', options.cancelled ?? 'cancelled while waiting for another process');
      await sleep(Math.min(1000, 25 * 2 ** attempt));
    }
  }
  const refresh = setInterval(() => {
    void current()
      .then((lease) => (lease?.token === token ? storage.put(key, body(), { freesSpace: true }) : undefined))
      .catch(() => undefined); // the next refresh tries again; a lease left stale is taken over, which stillHeld makes safe
  }, staleMs / 6);
  refresh.unref();
  try {
    return await task(async () => (await current())?.token === token);
  } finally {
    clearInterval(refresh);
    if ((await current())?.token === token) await storage.delete(key);
  }
}
