/** The storage interface every backend implements: a flat namespace of keys holding bytes. */

export interface ObjectInfo {
  key: string;
  size: number;
  /** ISO-8601 UTC. */
  modified: string;
}

export interface ListPage {
  objects: ObjectInfo[];
  /** With a delimiter: the "folders" directly under the prefix, each ending in the delimiter. */
  prefixes: string[];
  /** Pass back to get the next page; absent on the last page. */
  cursor?: string;
}

/** A page of keys without sizes or times (see StorageBackend.listKeys). */
export interface KeyPage {
  keys: string[];
  prefixes: string[];
  cursor?: string;
}

export interface ListOptions {
  delimiter?: '/';
  cursor?: string;
  /** Page size, at most 1,000 (one S3 LIST). */
  limit?: number;
}

export interface PutOptions {
  /** Create-only: do nothing and return false when the key already exists. */
  ifAbsent?: boolean;
  /** Flush to stable storage before the key becomes visible (local folder). */
  durable?: boolean;
  /**
   * The key appears only once this has resolved (a local folder writes and flushes the bytes
   * meanwhile, so one flush can serve both). If it rejects, nothing is written and put rejects.
   */
  after?: Promise<unknown>;
  /**
   * The write lets a delete or a prune go ahead (a deletion marker, a lease, a journal, a ref that
   * shrinks). On a full disk a local folder gives up the space it keeps aside for this and tries
   * once more (docs/storage-layout.md, "Space kept aside").
   */
  freesSpace?: boolean;
}

export interface CopyOptions {
  ifAbsent?: boolean;
  data?: Uint8Array;
}

/** A stream's chunks must stay unchanged once yielded: a backend may still be writing one while it reads the next. */
export type ContentSource =
  | { kind: 'bytes'; bytes: Uint8Array }
  | { kind: 'file'; path: string }
  /** `size`: what the sender declared (an upload's Content-Length); over a limit it is refused before a byte is read. */
  | { kind: 'stream'; stream: AsyncIterable<Uint8Array>; size?: number };

export interface StageOptions {
  signal?: AbortSignal;
  onProgress?: (bytesDone: number) => void;
  /** Fail with `too_large` as soon as the content passes this many bytes. */
  maxBytes?: number;
}

/** Content that has been read, hashed and made ready to place under its key. */
export interface StagedContent {
  readonly sha256: string;
  readonly size: number;
  /** The first bytes, for content sniffing. */
  readonly head: Uint8Array;
  /**
   * Place the content at `key` unless it already holds these bytes ('exists'). Other bytes there
   * are corrupt and are replaced ('created'): see heldContent.
   */
  commit(key: string, options?: { signal?: AbortSignal; onProgress?: (bytesDone: number) => void }): Promise<'created' | 'exists'>;
  /** Drop what was staged. Safe to call after commit. */
  discard(): Promise<void>;
}

export interface StorageCapabilities {
  /** Create-only writes are atomic: concurrent writers never collide on a version number. */
  conditionalWrites: boolean;
  /** Its credentials may list and read but not write (found at open): every write is refused before it is sent. */
  readOnly: boolean;
}

export interface StorageBackend {
  /** For messages and the UI: never contains a secret. */
  readonly description: string;
  readonly capabilities: StorageCapabilities;
  put(key: string, data: Uint8Array, options?: PutOptions): Promise<boolean>;
  /**
   * Copies a small object: a hard link on a local disk. `data`, when the caller has the bytes of
   * `from`, lets a remote backend write them directly instead of a server-side copy.
   * Fails with not_found if `from` is gone.
   */
  copy(from: string, to: string, options?: CopyOptions): Promise<boolean>;
  /** A whole small object, or null when there is none. `signal` ends a remote read (a cancel); a local one is quick. */
  get(key: string, options?: { signal?: AbortSignal }): Promise<Uint8Array | null>;
  /** A streamed object, or null when there is none. */
  getStream(key: string, options?: { signal?: AbortSignal }): Promise<AsyncIterable<Uint8Array> | null>;
  exists(key: string): Promise<boolean>;
  list(prefix: string, options?: ListOptions): Promise<ListPage>;
  /**
   * The same pages as `list`, keys only, where sizes and times cost more than the names (a local
   * folder: a stat per key). Absent where a listing carries them anyway (S3, memory).
   */
  listKeys?(prefix: string, options?: ListOptions): Promise<KeyPage>;
  /**
   * Visits every key under a prefix, names only, a batch at a time in no particular order, for
   * counts: where that is cheaper than pages (a local folder, walked off the main thread). Absent
   * on S3 and memory.
   */
  walkKeys?(prefix: string, visit: (keys: string[]) => void): Promise<void>;
  /** One key's size, or null when there is none: where a listing would cost more (a local folder: one stat). */
  sizeOf?(key: string): Promise<number | null>;
  /**
   * The key this backend reads or deletes for one found in another writer's files (a service ref's
   * path): resolved as a folder resolves it (local folder, memory), verbatim on S3, where the service
   * names objects by the path's text. Two spellings of one file give one key. invalid_key when it
   * names nothing this backend may touch.
   */
  addressOf(key: string): string;
  delete(key: string): Promise<void>;
  stage(source: ContentSource, options?: StageOptions): Promise<StagedContent>;
  /**
   * What interrupted writes left behind (temp files, unfinished multipart uploads), for `verify`.
   * Null when the backend cannot list them (an S3 server without ListMultipartUploads, or credentials that may not).
   */
  leftovers(): Promise<Leftover[] | null>;
  removeLeftover(leftover: Leftover): Promise<void>;
  close(): Promise<void>;
}

export interface Leftover {
  /** Where it is, for reports: a path under the root, or `key?uploadId=…`. */
  id: string;
  modified: string;
  /** Its writer is still running (a live process id): never removed. */
  inFlight: boolean;
  /**
   * Not a temp file but something of a local folder that listings never show, so it would go unseen:
   * a link (reads, stores, deletes and listings never follow one), a pipe, socket or device ('special': never
   * read), or a file or folder with a name no key can have (`isHidden`). Reported, never removed.
   */
  unlisted?: 'link' | 'name' | 'special';
}

export const MAX_LIST_PAGE = 1000;
