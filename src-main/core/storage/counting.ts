import type { ContentSource, CopyOptions, KeyPage, Leftover, ListOptions, PutOptions, StageOptions, StorageBackend } from './types';

export type StorageCall = 'put' | 'copy' | 'get' | 'getStream' | 'exists' | 'list' | 'delete' | 'stage';

/** Wraps a backend and counts calls by kind: how tests and benchmarks prove request budgets. */
export class CountingStorage implements StorageBackend {
  readonly counts: Record<StorageCall, number> = { put: 0, copy: 0, get: 0, getStream: 0, exists: 0, list: 0, delete: 0, stage: 0 };

  /** Counted as a list: it is one (a local folder's, without the stat per key). */
  readonly listKeys?: (prefix: string, options?: ListOptions) => Promise<KeyPage>;
  /** Counted as a list: one walk of the folders under a prefix. */
  readonly walkKeys?: (prefix: string, visit: (keys: string[]) => void) => Promise<void>;
  /** Counted as an existence check: it is one, with the size. */
  readonly sizeOf?: (key: string) => Promise<number | null>;

  constructor(readonly inner: StorageBackend) {
    const listKeys = inner.listKeys?.bind(inner);
    if (listKeys) {
      this.listKeys = (prefix, options) => {
        this.counts.list++;
        return listKeys(prefix, options);
      };
    }
    const walkKeys = inner.walkKeys?.bind(inner);
    if (walkKeys) {
      this.walkKeys = (prefix, visit) => {
        this.counts.list++;
        return walkKeys(prefix, visit);
      };
    }
    const sizeOf = inner.sizeOf?.bind(inner);
    if (sizeOf) {
      this.sizeOf = (key) => {
        this.counts.exists++;
        return sizeOf(key);
      };
    }
  }

  get description(): string {
    return this.inner.description;
  }

  get capabilities() {
    return this.inner.capabilities;
  }

  addressOf(key: string): string {
    return this.inner.addressOf(key);
  }

  reset(): void {
    for (const k of Object.keys(this.counts) as StorageCall[]) this.counts[k] = 0;
  }

  /** Reads of any kind: whole gets, streamed gets, existence checks and lists. */
  get reads(): number {
    return this.counts.get + this.counts.getStream + this.counts.exists + this.counts.list;
  }

  put(key: string, data: Uint8Array, options?: PutOptions) {
    this.counts.put++;
    return this.inner.put(key, data, options);
  }
  /** Writes of any kind: puts, copies and content commits. */
  get writes(): number {
    return this.counts.put + this.counts.copy;
  }

  copy(from: string, to: string, options?: CopyOptions) {
    this.counts.copy++;
    return this.inner.copy(from, to, options);
  }
  get(key: string, options?: { signal?: AbortSignal }) {
    this.counts.get++;
    return this.inner.get(key, options);
  }
  getStream(key: string, options?: { signal?: AbortSignal }) {
    this.counts.getStream++;
    return this.inner.getStream(key, options);
  }
  exists(key: string) {
    this.counts.exists++;
    return this.inner.exists(key);
  }
  list(prefix: string, options?: ListOptions) {
    this.counts.list++;
    return this.inner.list(prefix, options);
  }
  delete(key: string) {
    this.counts.delete++;
    return this.inner.delete(key);
  }
  async stage(source: ContentSource, options?: StageOptions) {
    this.counts.stage++;
    const staged = await this.inner.stage(source, options);
    return {
      sha256: staged.sha256,
      size: staged.size,
      head: staged.head,
      commit: (key: string, o?: Parameters<typeof staged.commit>[1]) => {
        this.counts.put++;
        return staged.commit(key, o);
      },
      discard: () => staged.discard(),
    };
  }
  leftovers() {
    return this.inner.leftovers();
  }
  removeLeftover(leftover: Leftover) {
    return this.inner.removeLeftover(leftover);
  }
  close() {
    return this.inner.close();
  }
}
