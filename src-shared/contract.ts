/**
 * The one contract between the renderer and main: every method, its input schema and its result,
 * and every event main pushes. Electron IPC and the loopback bridge both carry exactly this; main
 * validates every payload here before the core sees it.
 */
import { z } from 'zod';
import type { ChannelMethod } from './channels';
import { HASH_RE, MAX_VERIFY_SAMPLE, S3_BUCKET_RE, s3EndpointProblem, type CacheHash, type ProblemKind } from './domain';
import type { ErrorInfo } from './errors';
import { isReadablePrefix, isValidPrefix } from './keys';

const cacheHashSchema = z
  .string()
  .max(64)
  .transform((s) => s.toLowerCase())
  .refine((s) => HASH_RE.test(s), { message: 'a cache hash is exactly 16 hex characters' })
  .transform((s) => s as CacheHash);

/** The store layouts: this app's own, and the Python cache service's (mgraph_ai_service_cache). */
export const STORE_LAYOUTS = ['native', 'mgraph'] as const;
export type StoreLayout = (typeof STORE_LAYOUTS)[number];

export type Result<T> = { ok: true; value: T } | { ok: false; error: ErrorInfo };

/** Bounds on what one message may carry: no unbounded list, no whole big file. */
export const LIMITS = {
  namespaceLength: 128,
  keyLength: 1024,
  cursorLength: 2048,
  pathLength: 4096,
  nameLength: 1024,
  /** Bytes stored straight from the renderer (pasted text, small drops); files go by path or stream. */
  inlineBytes: 1024 * 1024,
  previewBytes: 64 * 1024,
  /** An image is previewed whole (and so hash-checked) up to this size; a larger one says to save it instead. */
  imagePreviewBytes: 4 * 1024 * 1024,
  /** First-level shards counted in one shardCounts call: the heatmap fills in and shows progress between calls. */
  shardsPerCall: 16,
  pageSize: 1000,
  profileField: 256,
  secretLength: 512,
  /** Rows of a prune plan sent to the renderer (the counts cover all of it). */
  planRows: 200,
  /** Files in one bulk-store call (a batch of a multi-file drop). */
  batchFiles: 1000,
} as const;

const noNul = (s: string) => !s.includes('\u0000');
/** Bounded text only: each layout checks its own naming rules (native lower case, the service's upper case and `_`). */
export const namespaceTextSchema = z
  .string()
  .min(1, 'a namespace cannot be empty')
  .max(LIMITS.namespaceLength, `a namespace is at most ${LIMITS.namespaceLength} characters in any layout`)
  .refine(noNul, 'a namespace cannot contain NUL');
/** A cache hash, a cache id (native `<hash>-v<n>`, service GUID), a SHA-256 or a storage key: the layout parses it. */
export const entryRefSchema = z.string().min(1).max(LIMITS.keyLength).refine(noNul, 'cannot contain NUL');
const namespace = namespaceTextSchema;
const ref = entryRefSchema;
const storeAs = z.enum(['bytes', 'json', 'string']).default('bytes');
/** The open layout's own store choices (Capabilities.storeOptions, e.g. the service's `strategy`); the layout checks them. */
const optionRecord = z.record(z.string().max(64), z.string().max(LIMITS.profileField).refine(noNul, 'cannot contain NUL'));
// JSON.parse makes "__proto__" an own key, which a record drops without a word (the store then took its defaults): refused.
const storeOptions = z
  .custom<z.input<typeof optionRecord>>((value) => !(typeof value === 'object' && value !== null && Object.hasOwn(value, '__proto__')), 'an option cannot be named __proto__')
  .pipe(optionRecord)
  .optional();
/**
 * The store a drop was made on (Capabilities.opened when it was dropped): a store switched since, or
 * its profile edited, from any window, refuses it (`conflict`) rather than filing it in a store the
 * operator did not drop on.
 */
const droppedOn = z.string().regex(/^[0-9a-f-]{36}$/, 'not a store opening (Capabilities.opened)').optional();
/** Serve a version past its namespace's TTL anyway (else retrieve fails with `expired`, the service's 410). */
const allowExpired = z.boolean().default(false);
/** A retention value as the CLI takes it: AGE or a number, `none` or `default`; main parses it. */
const ruleText = z.string().min(1).max(32);
/** Chosen by the renderer so it can cancel and match progress events before the call returns. */
export const transferIdSchema = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'transfer ids are 1-64 letters, digits, - or _');
/** A file on the machine running main: absolute, no NUL. Main only ever reads it. */
const filePath = z
  .string()
  .min(1, 'cannot be empty')
  .max(LIMITS.pathLength)
  .refine(noNul, 'paths cannot contain NUL')
  .refine((p) => p.startsWith('/') || /^[A-Za-z]:[\\/]/.test(p) || p.startsWith('\\\\'), 'must be an absolute path (a ~ is not expanded: write the folder out, such as /home/me/cache)');
/**
 * The source name a dropped file is recorded under: its path inside the drop (`photos/2024/a.jpg`),
 * as the CLI records a folder's files. Relative, `/`-separated, no empty, `.` or `..` part, no NUL.
 */
export const sourceNameSchema = z
  .string()
  .min(1, 'a source name cannot be empty')
  .max(LIMITS.nameLength)
  .refine(noNul, 'a source name cannot contain NUL')
  .refine((name) => !/^[A-Za-z]:/.test(name) && name.split(/[\\/]/).every((part) => part !== '' && part !== '.' && part !== '..'), 'a source name is a relative path without empty, "." or ".." parts');
const profileText = z.string().max(LIMITS.profileField, `at most ${LIMITS.profileField} characters`).refine(noNul, 'cannot contain NUL');
/** The layout a profile opens: detected from its keys (`auto`), or forced. */
export const PROFILE_FORMATS = ['auto', ...STORE_LAYOUTS] as const;
export type ProfileFormat = (typeof PROFILE_FORMATS)[number];
const profileFormat = z.enum(PROFILE_FORMATS).default('auto');
const profileId = z.string().regex(/^[a-z0-9-]{1,64}$/, 'not a profile id');
/** Connecting is a cancellable attempt: `cancel` with this id stops it. */
const attemptId = transferIdSchema.optional();

/** The entries browser's columns: main sorts by any of them. */
export const ENTRY_COLUMNS = ['hash', 'source', 'type', 'size', 'storedAt', 'versions'] as const;
export type EntryColumn = (typeof ENTRY_COLUMNS)[number];
const isoTime = z.string().max(40).refine((t) => !Number.isNaN(Date.parse(t)), 'not a date and time');
/** What the entries browser shows: name (source or hash) substring, content type (`image` for every image/…), size and store-time bounds, inclusive. */
export const entryFilterSchema = z
  .object({
    name: z.string().max(LIMITS.nameLength).refine(noNul, 'cannot contain NUL').default(''),
    type: z.string().max(LIMITS.profileField).default(''),
    minSize: z.number().int().min(0).optional(),
    maxSize: z.number().int().min(0).optional(),
    storedFrom: isoTime.optional(),
    storedTo: isoTime.optional(),
  })
  .strict();
export type EntryFilter = z.input<typeof entryFilterSchema>;
/**
 * Some entries by hash, or every entry the filter shows but those excepted (Ctrl+A): main resolves it,
 * so a selection never lists a whole namespace. `count` is how many the operator saw selected: when
 * the filter picks another number by then (a drop, a CLI store), main does nothing (`conflict`).
 */
export const entrySelectionSchema = z.union([
  z.object({ hashes: z.array(cacheHashSchema).min(1).max(LIMITS.pageSize) }).strict(),
  z.object({ filter: entryFilterSchema, except: z.array(cacheHashSchema).max(LIMITS.pageSize), count: z.number().int().min(0) }).strict(),
]);
export type EntrySelection = z.input<typeof entrySelectionSchema>;

export const s3ProfileInputSchema = z
  .object({
    kind: z.literal('s3'),
    name: profileText.pipe(z.string().min(1, 'cannot be empty')),
    bucket: z.string().regex(S3_BUCKET_RE, 'not an S3 bucket name'),
    prefix: profileText.refine((p) => p === '' || (p.endsWith('/') && isValidPrefix(p)), 'must be empty, or a key prefix that ends in "/"').default(''),
    region: profileText.default(''),
    endpoint: profileText
      .superRefine((e, ctx) => {
        const problem = e === '' ? null : s3EndpointProblem(e);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      })
      .default(''),
    pathStyle: z.boolean().default(false),
    /** A profile from the shared AWS config files; or keys below; or neither (default chain). */
    awsProfile: profileText.default(''),
    accessKeyId: z.string().regex(/^[A-Za-z0-9/+=]{0,128}$/, 'not an access key id').default(''),
    secretAccessKey: z.string().max(LIMITS.secretLength).refine(noNul, 'cannot contain NUL').default(''),
    format: profileFormat,
  })
  .strict();

export const localProfileInputSchema = z
  .object({ kind: z.literal('local'), name: profileText.pipe(z.string().min(1, 'cannot be empty')), dir: filePath, format: profileFormat })
  .strict();

export const methods = {
  capabilities: { input: z.object({}).strict() },
  namespaces: { input: z.object({}).strict() },
  /** Just the names: one delimited listing, so a list can show before its counts are in. */
  namespaceNames: { input: z.object({}).strict() },
  /** A namespace name checked by the open layout's rules (native: lower case; the service: upper case and `_` too). */
  checkNamespace: { input: z.object({ namespace }).strict() },
  stats: { input: z.object({ namespace }).strict() },
  versions: { input: z.object({ namespace, hash: cacheHashSchema }).strict() },
  /** Metadata, storage keys and a bounded preview of one version (hash, cache id or SHA-256). */
  entry: { input: z.object({ namespace, ref, allowExpired }).strict() },
  listKeys: {
    input: z
      .object({
        prefix: z.string().max(LIMITS.keyLength).refine(isReadablePrefix, { message: 'not a valid storage key prefix' }),
        cursor: z.string().max(LIMITS.cursorLength).optional(),
        limit: z.number().int().min(1).max(LIMITS.pageSize).optional(),
        delimiter: z.boolean().optional(),
      })
      .strict(),
  },
  /** Entries in some first-level shards ("00"…"ff") of a namespace, and where each is in the key tree: the heatmap asks shard range by shard range. */
  shardCounts: {
    input: z
      .object({ namespace, shards: z.array(z.string().regex(/^[0-9a-f]{2}$/, 'a shard is two lower-case hex digits')).min(1).max(LIMITS.shardsPerCall) })
      .strict(),
  },
  /**
   * One window [offset, offset+limit) of a namespace's entries, sorted and filtered by main (the
   * entries browser); `locate` moves the window to a hash's row. `refresh` lists the namespace again.
   */
  entries: {
    input: z
      .object({
        namespace,
        offset: z.number().int().min(0).max(1_000_000_000).default(0),
        limit: z.number().int().min(1).max(LIMITS.pageSize).default(200),
        sort: z.enum(ENTRY_COLUMNS).default('hash'),
        descending: z.boolean().default(false),
        filter: entryFilterSchema.default({ name: '', type: '' }),
        locate: cacheHashSchema.optional(),
        refresh: z.boolean().default(false),
      })
      .strict(),
  },
  /**
   * Deletes every version of each selected entry; says how many went and why the others did not.
   * Stoppable with `transferId` (what is under way finishes); progress counts the entries settled.
   */
  deleteEntries: { input: z.object({ namespace, selection: entrySelectionSchema, transferId: transferIdSchema }).strict() },
  /** Saves the selected entries' latest versions into a folder the operator picks (main shows the dialog); expired ones are skipped unless `includeExpired`. */
  saveEntries: { input: z.object({ namespace, selection: entrySelectionSchema, includeExpired: z.boolean().default(false) }).strict() },
  /** What a storage key is: which entry and version it belongs to, and its size. */
  describeKey: { input: z.object({ key: z.string().min(1).max(LIMITS.keyLength).refine(isReadablePrefix, { message: 'not a valid storage key' }) }).strict() },
  /**
   * `unversioned`: the content of a hash no version uses, and only that (a version stored since refuses it: `conflict`).
   * `shown`: a whole hash's versions as the operator was shown them (how many, the newest's number and time); a
   * version stored or deleted since refuses the delete (`conflict`).
   */
  delete: {
    input: z
      .object({
        namespace,
        ref,
        unversioned: z.literal(true).optional(),
        shown: z.object({ versions: z.number().int().min(1), version: z.number().int().min(0), storedAt: z.string().max(64) }).strict().optional(),
      })
      .strict(),
  },
  /** Small content from the renderer itself, base64 so it survives JSON transports. */
  storeBytes: {
    input: z
      .object({
        namespace,
        name: z.string().max(LIMITS.nameLength),
        base64: z.string().max(Math.ceil(LIMITS.inlineBytes / 3) * 4),
        as: storeAs,
        options: storeOptions,
        opened: droppedOn,
      })
      .strict(),
  },
  /** Hash a file the operator chose (see PathGrants), and say whether the namespace already holds it; stores nothing. */
  hashFile: { input: z.object({ namespace, path: filePath, transferId: transferIdSchema, as: storeAs, options: storeOptions, opened: droppedOn }).strict() },
  /** Store a file main streams from disk: Electron drops arrive as paths, only chosen ones are read. */
  storeFile: { input: z.object({ namespace, path: filePath, transferId: transferIdSchema, as: storeAs, options: storeOptions, opened: droppedOn }).strict() },
  /**
   * Store a batch of a multi-file drop (files the operator chose, see PathGrants) on the bulk fast
   * path, each under its path in the drop. All batches of one drop share `dropId` (cancelDrop).
   */
  storePaths: {
    input: z
      .object({ namespace, dropId: transferIdSchema, files: z.array(z.object({ path: filePath, name: sourceNameSchema }).strict()).min(1).max(LIMITS.batchFiles), as: storeAs, options: storeOptions, opened: droppedOn })
      .strict(),
  },
  /** Stop every batch of a drop (running, or sent later) and say how many of its files were stored all the same. */
  cancelDrop: { input: z.object({ dropId: transferIdSchema }).strict() },
  /**
   * Stop a hashFile/storeFile/upload/verify/prune/deleteEntries/connect (running, or not started yet: it then never
   * starts) and say what happened: a store that had committed first is reported as stored.
   */
  cancel: { input: z.object({ transferId: transferIdSchema }).strict() },
  /** What main is doing now for any window or client (a page reloaded mid-prune finds its prune here); `cancel` stops each. */
  operations: { input: z.object({}).strict() },
  /** Save a version's full content to a file the operator picks (main shows the dialog). */
  saveEntry: { input: z.object({ namespace, ref, allowExpired }).strict() },
  /** Check the store (or one namespace): see docs/verify.md. `repair` fixes only what is safe. */
  verify: {
    input: z
      .object({ namespace: namespace.optional(), sample: z.number().int().min(1).max(MAX_VERIFY_SAMPLE).optional(), repair: z.boolean().default(false), transferId: transferIdSchema })
      .strict(),
  },
  /** The retention policy (docs/retention.md): the store-wide rule and each namespace's own. */
  policy: { input: z.object({}).strict() },
  /**
   * Changes one rule: the store-wide one, or `namespace`'s. `ttl` is an AGE (`90s`, `12h`, `30d`),
   * `none` (keep forever) or `default` (a namespace follows the store-wide rule); `keepVersions`
   * a whole number, `none` or `default`. Parsed in main, as the CLI's `policy set` does.
   */
  setPolicy: { input: z.object({ namespace: namespace.optional(), ttl: ruleText.optional(), keepVersions: ruleText.optional() }).strict() },
  /** What the policy would prune in a namespace now (a dry run: listings and refs, no content read); at most LIMITS.planRows rows. */
  prunePlan: { input: z.object({ namespace }).strict() },
  /**
   * Prunes a namespace by its policy, cancellable with `transferId`; progress counts versions pruned. Only
   * versions of the plan `planId` (the one prunePlan showed, which the operator confirmed) that still qualify go.
   */
  prune: { input: z.object({ namespace, transferId: transferIdSchema, planId: z.string().regex(/^[0-9a-f-]{36}$/, 'not the id of a plan prunePlan gave') }).strict() },
  profiles: { input: z.object({}).strict() },
  /**
   * Connects to the store a new or edited profile describes and saves the profile only once that
   * worked; it is then the active store. A profile that cannot connect is not saved.
   */
  saveProfile: {
    input: z
      .object({
        profile: z.discriminatedUnion('kind', [s3ProfileInputSchema, localProfileInputSchema]),
        /** The profile being edited; absent, a new one (or the one with the same name) is saved. An empty secret keeps the saved one. */
        id: profileId.optional(),
        /** Editing a bucket: keep its saved access key id (the renderer only ever sees it masked). */
        keepKeyId: z.boolean().default(false),
        /** Keep the secret key on disk even though the OS offers no keyring to encrypt it. */
        allowPlaintextSecret: z.boolean().default(false),
        attemptId,
      })
      .strict(),
  },
  removeProfile: { input: z.object({ id: profileId }).strict() },
  /** Opens a profile's store within a time limit; the previous store stays active until it has. */
  connect: { input: z.object({ id: profileId, attemptId }).strict() },
} as const satisfies Record<ChannelMethod, { input: z.ZodType }>;

/** Streamed uploads over the bridge carry these fields in the query string. */
export const uploadQuerySchema = z
  .object({
    op: z.enum(['hash', 'store']),
    namespace,
    name: z.string().max(LIMITS.nameLength).default(''),
    transferId: transferIdSchema,
    as: storeAs,
    /** Capabilities.storeOptions chosen by the operator, as JSON. */
    options: z
      .string()
      .max(LIMITS.nameLength)
      .transform((text, ctx) => {
        try {
          return JSON.parse(text) as unknown;
        } catch {
          ctx.addIssue({ code: 'custom', message: 'options must be JSON' });
          return z.NEVER;
        }
      })
      .pipe(storeOptions)
      .optional(),
    opened: droppedOn,
  })
  .strict();
export type UploadQuery = z.input<typeof uploadQuerySchema>;
/** A batch of a drop over the bridge (`POST /api/batch`): the query carries these, the body the framed files (src-shared/batch-frame.ts). */
export const batchQuerySchema = uploadQuerySchema.pick({ namespace: true, as: true, options: true, opened: true }).extend({ dropId: transferIdSchema }).strict();
export type BatchQuery = z.input<typeof batchQuerySchema>;

export type MethodName = keyof typeof methods;
export type MethodInput<M extends MethodName> = z.input<(typeof methods)[M]['input']>;

export interface NamespaceCounts {
  name: string;
  /** Hashes with content (native) or with a by-hash ref (service). */
  entries: number;
  versions: number;
  bytes: number;
}

export interface NamespaceStatsView extends NamespaceCounts {
  objects: number;
  /** Entries per first-level shard folder ("00"…"ff"), for the layout heatmap. */
  shards: Record<string, number>;
}

export interface ShardCount {
  shard: string;
  /** The shard's folder in the key tree (the heatmap opens it there). */
  prefix: string;
  entries: number;
}

/** One row of the entries browser: what the layout's key names carry (null where a listing cannot tell), and the latest version's expiry. */
export interface EntryListItem {
  hash: string;
  versions: number | null;
  /** The latest version's store time. */
  stored_at: string | null;
  size: number | null;
  /** The latest version's source name ('' where the layout records none). */
  source: string;
  /** From the source name's extension; null when it says nothing. */
  content_type: string | null;
  /** The latest version is past its namespace's TTL (so every version is). */
  expired: boolean;
  expires_at: string | null;
  /** Versions are listed but the content is not in the store (lost or deleted by hand). */
  content_missing: boolean;
}

export interface EntriesWindow {
  namespace: string;
  /** Entries the filter shows. */
  total: number;
  /** Entries in the namespace. */
  knownTotal: number;
  /** Where `rows` start (moved to the located row's window when `locate` was given). */
  offset: number;
  rows: EntryListItem[];
  /** The located hash's index in the sorted, filtered list; null when it is not shown. */
  located: number | null;
  /** Every content type in the namespace, for the filter. */
  types: string[];
  /**
   * Present while the namespace is still being listed (ask again): `listed` entries so far. In hash
   * order without a filter, `rows` are the first ones listed (that order is final); any other order
   * or filter `waitsForAll` (no rows until the listing ends). `total` counts what is listed so far.
   * `previous`: the rows are the namespace's last whole listing, shown while it is listed again
   * after a change (`listed` counts the new listing so far, or the old table's rows when the new one
   * starts at the next window).
   */
  listing?: { listed: number; waitsForAll: boolean; previous?: boolean };
}

/** A bulk action's truthful summary: what was done, what failed and why (the first LIMITS.pageSize failures listed). */
export interface BulkOutcome {
  done: number;
  failed: number;
  failures: { hash: string; error: ErrorInfo }[];
  /** Expired entries left out (save without includeExpired). */
  skippedExpired: number;
  /** Entries picked that are no longer there (deleted elsewhere since they were listed): nothing to do for them. */
  gone: number;
  /** Where a save wrote; null when the operator chose no folder (nothing was saved). */
  folder: string | null;
}

export interface VersionItem {
  /** Ordinal among the hash's versions, oldest first, from 1. */
  version: number;
  /** Opaque: native `<hash>-v<n>`, a GUID in the service's layout. */
  cache_id: string;
  stored_at: string;
  size: number | null;
  source: string;
  /** Past its namespace's TTL; expires_at is null when the namespace keeps versions forever. */
  expired: boolean;
  expires_at: string | null;
}

/** One version's facts, the same fields in every layout, plus the layout's own in `details`. */
export interface EntryRecord {
  format: StoreLayout;
  namespace: string;
  hash: string;
  cache_id: string;
  version: number;
  latest_version: number;
  /** Bytes stored (gzip-encoded content: the compressed size). */
  size: number;
  stored_at: string;
  /** What retrieve serves (and the preview shows). */
  content_type: string;
  data_type: 'binary' | 'json' | 'string';
  /** Set when the stored bytes are encoded (gzip): preview and save get them decoded. */
  content_encoding: string | null;
  sha256: string | null;
  source: string;
  /** Layout facts for operators: strategy, file id, cache key, json_field_path… */
  details: Record<string, string | number | boolean | null>;
  /** Every storage key this version uses, with what it is for. */
  keys: { key: string; role: string }[];
  /** Child data files stored under the entry (service layout). */
  child_data: { key: string; size: number }[];
}

/** Why an entry's content cannot be served: its file is gone, or it does not re-hash to the entry's hash. */
export type ContentProblem = 'missing' | 'corrupt';

export interface EntryView {
  record: EntryRecord;
  /**
   * The first bytes of what retrieve serves, as base64, at most LIMITS.previewBytes; an image (not
   * SVG) up to LIMITS.imagePreviewBytes whole. Empty with a content problem.
   */
  preview: string;
  previewTruncated: boolean;
  /** The preview is the whole content and it matched the entry's hash; false when truncated (the rest is not read, so not checked). */
  previewVerified: boolean;
  /** Set when the content cannot be served; the record is still shown, and the version can be verified or deleted. */
  contentProblem?: ContentProblem;
  /** Past its namespace's TTL (expires_at null: kept forever). */
  expired: boolean;
  expires_at: string | null;
  /** Set for an expired version asked for without allowExpired: no preview, and why (code `expired`). */
  withheld?: ErrorInfo;
}

/** One retention rule: null keeps forever / every version. */
export interface RetentionRuleView {
  ttl_seconds: number | null;
  keep_versions: number | null;
}

export interface PolicyView {
  default: RetentionRuleView;
  /** Each namespace's own rule: an absent field follows the store-wide one. */
  namespaces: Record<string, Partial<RetentionRuleView>>;
}

export interface PruneRow {
  hash: string;
  cache_id: string;
  version: number;
  stored_at: string;
  reason: 'older_than' | 'expired' | 'keep_versions';
  /** Its hash's last version: the content goes with it. */
  content_removed: boolean;
  bytes_freed: number;
}

export interface PrunePlanView {
  namespace: string;
  /** When ages were measured from. */
  now: string;
  /** The rule applied (the namespace's own over the store-wide one). */
  rule: RetentionRuleView;
  versions: number;
  hashes: number;
  contentRemoved: number;
  bytesFreed: number;
  /** Refs that could not be read (service layout): the versions they name were not judged, and are left alone. */
  unreadableRefs: number;
  /** Versions another prune planned and has not finished (killed, or still running): a real prune deletes them first. */
  unfinished: number;
  /** The oldest LIMITS.planRows versions; `more` says how many are not listed. */
  rows: PruneRow[];
  more: number;
  /** What prune takes to delete this plan's versions, and no others. */
  planId: string;
}

export interface PruneResult {
  namespace: string;
  /** Versions the plan at the start of the run selected. */
  planned: number;
  pruned: number;
  /** Planned but already gone when the run came to them (deleted meanwhile by someone else). */
  skipped: number;
  contentRemoved: number;
  bytesFreed: number;
  /** Of those pruned, versions an interrupted earlier prune had left to do. */
  resumed: number;
  /** As in the plan: versions left alone because their refs could not be read. */
  unreadableRefs: number;
  /** Versions that qualify now but were not in the plan confirmed (stored or aged since it was shown): left for the next prune. */
  notConfirmed: number;
}

export interface StoredEntry {
  namespace: string;
  hash: string;
  cache_id: string;
  version: number;
  size: number;
  source: string;
  /** True when the namespace already held this content (only a version was added). */
  deduplicated: boolean;
  keys: string[];
}

export interface KeyPage {
  objects: { key: string; size: number; modified: string }[];
  prefixes: string[];
  cursor?: string;
}

export interface KeyInfo {
  key: string;
  /** The layout's own kind (`content`, `record`, `ref_by_hash`, `sidecar_config`, `child_data`…), `unknown` otherwise. */
  kind: string;
  /** One line saying what the key is for, in the open layout. */
  explanation: string;
  namespace?: string;
  hash?: string;
  cache_id?: string;
  version?: number;
  /** Absent when no object has this key. */
  size?: number;
  modified?: string;
}

export interface HashReport {
  hash: string;
  /** Null where the layout keeps none (service). */
  sha256: string | null;
  size: number;
  /** The namespace's latest version of this content, when it already holds it. */
  existing: { cache_id: string; version: number } | null;
}

/** What the renderer may know about a profile: never a secret, the key id only masked. */
export interface ProfileSummary {
  id: string;
  name: string;
  kind: 'local' | 's3' | 'memory';
  /** A folder, or s3://bucket/prefix. */
  location: string;
  endpoint?: string;
  region?: string;
  pathStyle?: boolean;
  awsProfile?: string;
  maskedKeyId?: string;
  /** Where the secret key lives: none given, encrypted by the OS keyring, on disk in plain text, or only until the app exits. */
  secret: 'none' | 'keyring' | 'plaintext' | 'session';
  /** False for the default folder and the command-line store, which are always offered. */
  removable: boolean;
  /** The layout this profile opens: detected, or forced. */
  format: ProfileFormat;
}

export interface ProfilesView {
  profiles: ProfileSummary[];
  active: string;
  /** `backend`: the keyring's name, null where there is none at all (CLI, bridge). */
  keyring: { available: boolean; backend: string | null };
}

export interface VerifyResult {
  checked: number;
  /** With a sample: entries whose content was re-hashed, of those that have content (every other check covered all). */
  sampled?: { perNamespace: number; rehashed: number; of: number };
  problems: { kind: ProblemKind; key: string; hash: string | null; detail: string }[];
  repaired?: { kind: ProblemKind; key: string; action: string }[];
  notes: string[];
}

export interface Capabilities {
  profile: string;
  /** This opening of the store: new with every switch, reconnect or edit of the open profile (drops carry it). */
  opened: string;
  store: string;
  conditionalWrites: boolean;
  /** Its credentials may read but not write (S3): browse, look up, save and verify; nothing is stored, deleted or repaired. */
  readOnly: boolean;
  /** The layout open, and why (detected from which keys, or chosen). */
  format: StoreLayout;
  formatReason: string;
  /** How store reads its input in this layout (`as`). */
  storeAs: ('bytes' | 'json' | 'string')[];
  /** The layout's own store choices (`options`): allowed values, or null for free text (the service's `strategy`, `cache_key`…). */
  storeOptions: Record<string, string[] | null>;
  /** Entry facts this layout's listing does not carry (the service keeps them in refs): the entries list cannot show or filter by them. */
  unlisted: UnlistedField[];
  /** What the entries list's time is: the latest version's store time, or when the entry's by-hash ref was last written (the service's listing: reset by a copy of the store, moved by a delete). */
  listedTime: ListedTime;
}

export type ListedTime = 'stored' | 'ref_written';

export const UNLISTED_FIELDS = ['name', 'type', 'size', 'versions'] as const;
export type UnlistedField = (typeof UNLISTED_FIELDS)[number];
/** The listing fact each entries column shows (hash and store time are in every layout's listing). */
export const COLUMN_FIELD: Partial<Record<EntryColumn, UnlistedField>> = { source: 'name', type: 'type', size: 'size', versions: 'versions' };

/** What a cancel did: stopped it before anything was stored, or came too late and the store's result stands. */
export interface CancelOutcome {
  /** True: it stopped (or will never start) and nothing was stored. */
  cancelled: boolean;
  /** Set when the store committed before the cancel arrived: what was stored. */
  stored?: StoredEntry;
}

/**
 * Work main is doing for a window or client, listed to every window: one started in another window,
 * or by this page before it was reloaded, can be followed there and stopped (`cancel` with its id).
 */
export interface RunningOperation {
  /** The transferId it runs under. */
  id: string;
  kind: 'hash' | 'store' | 'verify' | 'prune' | 'delete';
  /** The namespace it works in; null for a verify of the whole store. */
  namespace: string | null;
  /** The file's name (hash, store; '' when none was given); a verify's `repair` as 'repair'; otherwise ''. */
  subject: string;
  /** When main started it (ms since the epoch). */
  startedAt: number;
  /** How far it has got, counted as its progress events count (bytes; keys checked of keys listed; versions pruned; entries settled). */
  done: number;
  total: number | null;
}

/** How an operation ended, told to every window with the list of what still runs. */
export interface OperationEnd {
  id: string;
  outcome: 'finished' | 'stopped' | 'failed';
  /** Why it failed or stopped; what a finished verify, prune or bulk delete came to ("1 problem (corrupt) in 99 keys checked"). */
  message?: string;
}

/** What became of one file of a batch, in the order sent. */
export type BatchOutcome = { name: string; stored: StoredEntry } | { name: string; error: ErrorInfo };

export interface BatchStoreResult {
  outcomes: BatchOutcome[];
}

/** A drop cancelled: once every batch under way has ended, how many of its files main stored (they stay) and how many failed. */
export interface DropCancelOutcome {
  stored: number;
  failed: number;
}

export interface MethodResults {
  capabilities: Capabilities;
  namespaces: { namespaces: NamespaceCounts[] };
  namespaceNames: { names: string[] };
  checkNamespace: { namespace: string };
  stats: NamespaceStatsView;
  shardCounts: { shards: ShardCount[] };
  versions: { hash: string; versions: VersionItem[]; count: number };
  entry: EntryView;
  listKeys: KeyPage;
  entries: EntriesWindow;
  deleteEntries: BulkOutcome;
  saveEntries: BulkOutcome;
  describeKey: KeyInfo;
  /** `contentRemoved`: the hash has no version left; `bytesFreed`: content bytes the delete removed. */
  delete: { deleted: string[]; contentRemoved: boolean; bytesFreed: number };
  storeBytes: StoredEntry;
  hashFile: HashReport;
  storeFile: StoredEntry;
  cancel: CancelOutcome;
  /** `seq` numbers the list: a higher one is newer (events carry it too). */
  operations: { seq: number; operations: RunningOperation[] };
  storePaths: BatchStoreResult;
  cancelDrop: DropCancelOutcome;
  saveEntry: { saved: boolean; path?: string; bytes?: number };
  verify: VerifyResult;
  policy: PolicyView;
  setPolicy: PolicyView;
  prunePlan: PrunePlanView;
  prune: PruneResult;
  profiles: ProfilesView;
  saveProfile: { profile: ProfileSummary; capabilities: Capabilities };
  removeProfile: { removed: boolean };
  connect: Capabilities;
}

/** Big content a verify re-hashes now (it streams; the keys checked stand still meanwhile): bytes hashed of its size. */
export interface RehashProgress {
  key: string;
  done: number;
  size: number;
}

/** Events main pushes to every window / bridge client. */
export type CacheAdminEvent =
  /** For `verify`, bytesDone counts the keys checked so far and totalBytes the keys listed so far; for `prune`, the versions pruned; for `delete` (deleteEntries), the entries settled of totalBytes picked. */
  /** For a drop (transferId: its dropId), `filesDone` counts its files stored or failed. For `prune`, the plan's versions dealt with (pruned, or gone meanwhile) of its total. */
  /** `note`: why it does not move now (a prune waiting for another prune of its namespace); `rehashing`: a verify's big content under way. The next progress without one clears it. */
  | { type: 'progress'; transferId: string; phase: 'hash' | 'store' | 'verify' | 'prune' | 'delete'; bytesDone: number; totalBytes: number | null; filesDone?: number; note?: string; rehashing?: RehashProgress }
  | { type: 'connected'; capabilities: Capabilities }
  /** Sent when an operation starts or ends (`ended`): every one running now. */
  | { type: 'operations'; seq: number; operations: RunningOperation[]; ended?: OperationEnd }
  /** Something stored, deleted, pruned or repaired `namespace`'s entries, from any window or client (null: any namespace's). */
  | { type: 'entriesChanged'; namespace: string | null };

/** What the renderer calls: the preload object and the bridge client both implement it. */
export type CacheAdminApi = {
  [M in MethodName]: (input: MethodInput<M>) => Promise<Result<MethodResults[M]>>;
};

/** The object the Electron preload exposes as `window.cacheAdmin`. */
export type PreloadApi = CacheAdminApi & {
  onEvent(listener: (event: CacheAdminEvent) => void): () => void;
  /** The path of a dropped or picked file (webUtils.getPathForFile); it also lets main read that path, and only such paths. */
  pathForFile(file: unknown): string;
};

export function isMethodName(value: unknown): value is MethodName {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(methods, value);
}
