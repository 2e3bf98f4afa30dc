/**
 * A lock across processes over any backend: a lease key written create-only and refreshed while
 * its task runs. A lease not refreshed for LEASE_STALE_MS belongs to a killed process and is taken
 * over. Prunes hold one per namespace; service-layout stores and deletes one per by-hash ref.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { CacheError } from '../../src-shared/errors';
import type { StorageBackend } from './storage/types';
import { readTokenFile } from './token-file';

export const LEASE_STALE_MS = 30_000;
const LEASE_REFRESH_MS = 5_000;

interface Lease {
  token: string;
  refreshed: number;
}

async function readLease(storage: StorageBackend, key: string): Promise<Lease | null> {
  const found = await readTokenFile(storage, key, 'refreshed');
  return found && { token: found.token, refreshed: found.at };
}

/** Runs `task` holding the lease at `key`, waiting for a live holder to finish (cancellable: `waiting.signal` fails it with `waiting.cancelled`). */
export async function holdingLease<T>(storage: StorageBackend, key: string, task: () => Promise<T>, waiting?: { signal?: AbortSignal; cancelled: string }): Promise<T> {
  const token = randomUUID();
  const body = () => new TextEncoder().encode(`${JSON.stringify({ token, refreshed: new Date().toISOString() })}\n`);
  for (let attempt = 0; !(await storage.put(key, body(), { ifAbsent: true, freesSpace: true })); attempt++) {
    const other = await readLease(storage, key);
    if (other && Date.now() - other.refreshed > LEASE_STALE_MS) await storage.delete(key);
    else {
      if (waiting?.signal?.aborted) throw new CacheError('cancelled', waiting.cancelled);
      await sleep(Math.min(1000, 25 * 2 ** attempt));
    }
  }
  const refresh = setInterval(() => {
    void readLease(storage, key)
      .then((current) => (current?.token === token ? storage.put(key, body(), { freesSpace: true }) : undefined))
      .catch(() => undefined); // the next refresh tries again; a lease left stale is taken over, which the journal makes safe
  }, LEASE_REFRESH_MS);
  refresh.unref();
  try {
    return await task();
  } finally {
    clearInterval(refresh);
    if ((await readLease(storage, key))?.token === token) await storage.delete(key);
  }
}
