import type { CacheAdminApi, CacheAdminEvent, HashReport, Result, StoredEntry } from '../../src-shared/contract';

/**
 * What the UI talks to: the contract's methods, main's events, and the two things that differ
 * between Electron and the browser: how a dropped file reaches main, and how content is saved.
 */
export interface CacheAdminClient {
  api: CacheAdminApi;
  onEvent(listener: (event: CacheAdminEvent) => void): () => void;
  hashFile(file: File, namespace: string, transferId: string): Promise<Result<HashReport>>;
  storeFile(file: File, namespace: string, transferId: string): Promise<Result<StoredEntry>>;
  cancel(transferId: string): Promise<void>;
  saveEntry(namespace: string, ref: string): Promise<Result<{ saved: boolean }>>;
}

export function failure(code: 'storage_unreachable' | 'cancelled' | 'internal', message: string): Result<never> {
  return { ok: false, error: { code, message } };
}
