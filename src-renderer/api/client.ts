import type { BatchStoreResult, CacheAdminApi, CacheAdminEvent, CancelOutcome, HashReport, MethodInput, Result, StoredEntry } from '../../src-shared/contract';

import type { ErrorInfo } from '../../src-shared/errors';
import type { BulkOutcome, EntrySelection } from '../../src-shared/contract';

/**
 * How a drop is stored, fixed when it is dropped: `as`, the open layout's own options (the
 * service's strategy), and the store it was dropped on (`opened`: main refuses it once another
 * window has switched store or edited its profile).
 */
export type StoreChoice = Pick<MethodInput<'storeFile'>, 'as' | 'options' | 'opened'>;

/** A file of a multi-file drop and the name it is recorded under: its path inside the drop. */
export interface DroppedFile {
  file: File;
  name: string;
}

/**
 * What the UI talks to: the contract's methods, main's events, and the two things that differ
 * between Electron and the browser: how a dropped file reaches main, and how content is saved.
 */
export interface CacheAdminClient {
  api: CacheAdminApi;
  onEvent(listener: (event: CacheAdminEvent) => void): () => void;
  /** Main refused this page for good (the bridge's token: it was restarted), whatever call or event stream heard it first. */
  onRefused?(listener: (error: ErrorInfo) => void): () => void;
  hashFile(file: File, namespace: string, transferId: string, choice: StoreChoice): Promise<Result<HashReport>>;
  storeFile(file: File, namespace: string, transferId: string, choice: StoreChoice): Promise<Result<StoredEntry>>;
  /** One batch of a multi-file drop (see src-shared/batch-frame.ts), stored by main on the bulk path; `dropId` is shared by the drop's batches. */
  storeBatch(files: DroppedFile[], namespace: string, dropId: string, choice: StoreChoice): Promise<Result<BatchStoreResult>>;
  /** Main's word on what happened: cancelled with nothing stored, or stored before the cancel arrived. */
  cancel(transferId: string): Promise<Result<CancelOutcome>>;
  /** `allowExpired`: save a version past its namespace's TTL anyway (else it fails with `expired`). */
  saveEntry(namespace: string, ref: string, allowExpired: boolean): Promise<Result<{ saved: boolean; path?: string }>>;
  /** Saves a selection of entries: main writes them into a folder it asks for (desktop), or the browser downloads one tar (bridge). */
  saveEntries(namespace: string, selection: EntrySelection, includeExpired: boolean): Promise<Result<BulkOutcome | 'download'>>;
}

export function failure(code: 'storage_unreachable' | 'cancelled' | 'internal', message: string): Result<never> {
  return { ok: false, error: { code, message } };
}
