import { randomUUID } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { LIMITS, isMethodName, methods, type EntryView, type HashReport, type KeyInfo, type MethodName, type MethodResults, type PrunePlanView, type Result, type VerifyResult, type PruneResult, type BulkOutcome, type BatchStoreResult } from '../../src-shared/contract';
import { CacheError } from '../../src-shared/errors';
import { namespacesHolding, withNamespacesHolding, type FormatRecord, type FormatStoreInput, type StoreFormat, type TransferOptions } from '../core/formats/format';
import { mapLimit } from '../core/keyed-lock';
import type { EntrySelection } from '../../src-shared/contract';
import { entryTablesOf, type EntryTables } from '../core/entry-table';
import { parseAge } from '../../src-shared/age';
import { Retention, parseKeepVersions, ruleFor, type PrunePlan, type RetentionRule } from '../core/retention/retention';
import { deleteEntries, entriesWindow, saveEntriesToFolder, type EntriesInput } from './entries-browser';
import type { AppSession } from './session';
import type { BatchItem } from './bulk-store';
import { asCacheError } from '../cli/store-files';
import type { ErrorCode, ErrorInfo } from '../../src-shared/errors';
import type { ZodError } from 'zod';
import { bulkSummary } from '../../src-shared/bulk-summary';
import { counted, formatBytes, formatCount } from '../../src-shared/units';

/** Shard folders listed at once for one shardCounts call. */
const SHARD_CONCURRENCY = 4;

type Handlers = { [M in MethodName]: (input: never) => Promise<MethodResults[M]> };
type StoreAs = FormatStoreInput['as'];
type StoreOptions = FormatStoreInput['options'];

/** Hash-before-store: the hash, and the version the namespace already holds it as. */
export async function hashReport(format: StoreFormat, namespace: string, input: FormatStoreInput, options: TransferOptions): Promise<HashReport> {
  const ns = format.parseNamespace(namespace);
  const { hash, sha256, size } = await format.hash(input, options);
  const latest = await format.record(ns, { hash, sha256: sha256 ?? undefined }).catch((err: unknown) => {
    if (err instanceof CacheError && err.code === 'not_found') return null;
    throw err;
  });
  return { hash, sha256, size, existing: latest ? { cache_id: latest.cache_id, version: latest.version } : null };
}

/**
 * Opens what the operator typed (hash, cache id, SHA-256 or storage key) in the open layout. A
 * version past its namespace's TTL fails with `expired` (its stream closed unread) unless allowed.
 */
export async function retrieveRef(format: StoreFormat, namespace: string, ref: string, options: { signal?: AbortSignal; allowExpired?: boolean } = {}) {
  const opened = await format.retrieve(format.parseNamespace(namespace), await format.parseLookup(namespace, ref), { signal: options.signal });
  if (options.allowExpired) return opened;
  try {
    await new Retention(format).assertLive(opened.record.namespace, opened.record);
  } catch (err) {
    await closeUnread(opened.content);
    throw err instanceof CacheError && err.code === 'expired' ? new CacheError('expired', `${err.message}; ask for it anyway to read it`) : err;
  }
  return opened;
}

async function closeUnread(content: AsyncIterable<Uint8Array>): Promise<void> {
  await content[Symbol.asyncIterator]().return?.();
}

/** A retention value as the CLI's policy set takes it: the value, `none` (null) or `default`. */
function ruleValue(text: string | undefined, parse: (text: string) => number): number | null | 'default' | undefined {
  if (text === undefined || text === 'default') return text;
  return text === 'none' ? null : parse(text);
}

function planView(namespace: string, plan: PrunePlan, rule: RetentionRule): Omit<PrunePlanView, 'planId'> {
  const rows = plan.versions.slice(0, LIMITS.planRows).map(({ hash, cache_id, version, stored_at, reason, content_removed, bytes_freed }) => ({ hash, cache_id, version, stored_at, reason, content_removed, bytes_freed }));
  return { namespace, now: plan.now, rule, versions: plan.versions.length, hashes: plan.hashes, contentRemoved: plan.contentRemoved, bytesFreed: plan.bytesFreed, unreadableRefs: plan.unreadableRefs, unfinished: plan.unfinished, rows, more: plan.versions.length - rows.length };
}

/** A file name for saving a version: its source name, else its file id or cache id with an extension for its type. */
export function suggestedFileName(record: FormatRecord): string {
  const source = record.source.split(/[\\/]/).pop();
  if (source) return source;
  const stem = typeof record.details.file_id === 'string' && record.details.file_id ? record.details.file_id : record.cache_id;
  return `${stem}${record.data_type === 'json' || record.content_type === 'application/json' ? '.json' : record.data_type === 'string' ? '.txt' : ''}`;
}

/** The bytes retrieve serves for a record, when known up front (decoded or unquoted content differs from what is stored). */
export function servedSize(record: FormatRecord): number | null {
  return record.content_encoding || record.data_type === 'string' ? null : record.size;
}

/** Every layout keeps a namespace in a top-level folder: one delimited listing, names the layout accepts. */
async function namespaceNames(format: StoreFormat): Promise<string[]> {
  const names: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await format.listKeys('', { delimiter: '/', cursor });
    for (const prefix of page.prefixes) {
      try {
        names.push(format.parseNamespace(prefix.slice(0, -1)));
      } catch {
        // not a namespace (e.g. a quarantine folder)
      }
    }
    cursor = page.cursor;
  } while (cursor);
  return names;
}

/** Bytes a preview reads: an image whole (so it is hash-checked before it is shown) up to its own bound, anything else its first bytes. */
function previewLimit(record: FormatRecord): number {
  // SVG is a document that can hold script: it is previewed as text.
  const image = record.content_type.startsWith('image/') && !record.content_type.startsWith('image/svg');
  const served = servedSize(record);
  return image && (served === null || served <= LIMITS.imagePreviewBytes) ? LIMITS.imagePreviewBytes : LIMITS.previewBytes;
}

/**
 * The record and a bounded preview. A preview that holds the whole content has been checked
 * against the entry's hash (retrieve checks as it streams); content that is missing or corrupt
 * still shows the record, with `contentProblem` and no preview.
 */
async function entryView(format: StoreFormat, namespace: string, ref: string, allowExpired: boolean): Promise<EntryView> {
  const ns = format.parseNamespace(namespace);
  const lookup = await format.parseLookup(namespace, ref);
  const retention = new Retention(format);
  const expiryOf = async (record: FormatRecord) => retention.expiryOf((await retention.getPolicy()).policy, record.namespace, record.stored_at);
  const unread = { preview: '', previewTruncated: false, previewVerified: false };
  let opened;
  try {
    opened = await format.retrieve(ns, lookup, { previewBytes: previewLimit });
  } catch (err) {
    // The record without its content: the version exists, its bytes do not, or do not match its
    // hash (the service layout checks JSON and text whole, before it serves a byte).
    if (!(err instanceof CacheError && (err.code === 'not_found' || err.code === 'corrupt'))) throw err;
    const record = await format.record(ns, lookup);
    return { record, ...unread, contentProblem: err.code === 'corrupt' ? 'corrupt' : 'missing', ...(await expiryOf(record)) };
  }
  const { record, content } = opened;
  const expiry = await expiryOf(record);
  if (expiry.expired && !allowExpired) {
    // The service's 410: the record shows, its content only when the operator asks for it anyway.
    await closeUnread(content);
    return { record, ...unread, ...expiry, withheld: { code: 'expired', message: `${record.cache_id} expired at ${expiry.expires_at}: its content is not served unless you ask for it anyway` } };
  }
  const limit = previewLimit(record);
  const parts: Uint8Array[] = [];
  let size = 0;
  let truncated = false;
  try {
    for await (const chunk of content) {
      if (size >= limit) {
        truncated = chunk.byteLength > 0;
        if (truncated) break; // stop reading: the rest is not needed
        continue;
      }
      parts.push(chunk.subarray(0, limit - size));
      size += Math.min(chunk.byteLength, limit - size);
      truncated = chunk.byteLength > parts[parts.length - 1]!.byteLength;
      if (truncated) break;
    }
  } catch (err) {
    if (!(err instanceof CacheError && err.code === 'corrupt')) throw err;
    return { record, ...unread, contentProblem: 'corrupt', ...expiry };
  }
  return { record, preview: Buffer.concat(parts).toString('base64'), previewTruncated: truncated, previewVerified: !truncated, ...expiry };
}

/** A chosen file of a desktop drop, or why it cannot be read (a file gone since the drop fails alone). */
async function batchItemOf(session: AppSession, file: { path: string; name: string }): Promise<BatchItem> {
  try {
    const chosen = await session.readableFile(file.path);
    return { name: file.name, size: chosen.size, source: { kind: 'file', path: chosen.path } };
  } catch (err) {
    return { name: file.name, error: asCacheError(err).toInfo() };
  }
}

/** Plans shown and kept for their prune: the newest few (a plan of 100,000 versions keeps ~10 MB of ids). */
const PLANS_KEPT = 8;
const versionOf = (v: { cache_id: string; stored_at: string }) => `${v.cache_id} ${v.stored_at}`;

function handlers(session: AppSession): Handlers {
  /** The versions of each plan shown (prunePlan), by its id: a prune deletes none the operator was not shown. */
  const shownPlans = new Map<string, { store: string; namespace: string; versions: Set<string> }>();
  const format = () => session.format;
  const ns = (namespace: string) => format().parseNamespace(namespace);
  const retention = () => new Retention(format());
  const storeInput = (source: FormatStoreInput['source'], name: string, as: StoreAs, options: StoreOptions): FormatStoreInput => ({ source, name, as, options });
  return {
    capabilities: async () => session.capabilities(),
    namespaces: async () => ({ namespaces: await format().namespaces() }),
    namespaceNames: async () => ({ names: await namespaceNames(format()) }),
    checkNamespace: async ({ namespace }: { namespace: string }) => ({ namespace: ns(namespace) }),
    stats: async ({ namespace }: { namespace: string }) => entryTablesOf(format()).stats(ns(namespace)),
    shardCounts: async ({ namespace, shards }: { namespace: string; shards: string[] }) => {
      const name = ns(namespace);
      return { shards: await mapLimit(shards, SHARD_CONCURRENCY, (shard) => format().shardCount(name, shard)) };
    },
    versions: async ({ namespace, hash }: { namespace: string; hash: string }) => {
      const name = ns(namespace);
      const versions = await format().versions(name, hash);
      const r = retention();
      const { policy } = await r.getPolicy();
      return { hash, versions: versions.map((v) => ({ ...v, ...r.expiryOf(policy, name, v.stored_at) })), count: versions.length };
    },
    entry: async ({ namespace, ref, allowExpired }: { namespace: string; ref: string; allowExpired: boolean }) => {
      try {
        return await entryView(format(), namespace, ref, allowExpired);
      } catch (err) {
        if (!(err instanceof CacheError && err.code === 'not_found')) throw err;
        // Missed here: say which namespaces hold it, as the CLI does.
        throw withNamespacesHolding(err, await namespacesHolding(format(), namespace, (ns) => format().parseLookup(ns, ref)));
      }
    },
    listKeys: async (input: { prefix: string; cursor?: string; limit?: number; delimiter?: boolean }) =>
      format().listKeys(input.prefix, { cursor: input.cursor, limit: input.limit, delimiter: input.delimiter ? '/' : undefined }),
    entries: async (input: EntriesInput) => entriesWindow(format(), input),
    deleteEntries: async ({ namespace, selection, transferId }: { namespace: string; selection: EntrySelection; transferId: string }) =>
      session.transfer(transferId, { phase: 'delete', namespace, total: null, said: (outcome) => bulkSummary('deleted', outcome, `from namespace ${namespace}`) }, ({ signal, onProgress }) =>
        deleteEntries(format(), namespace, selection, { signal, onProgress }),
      ),
    saveEntries: async ({ namespace, selection, includeExpired }: { namespace: string; selection: EntrySelection; includeExpired: boolean }) => {
      const choose = session.options.chooseSaveFolder;
      if (!choose) throw new CacheError('invalid_input', 'this window cannot choose a folder; download the entries instead');
      const folder = await choose(`Save entries of ${ns(namespace)} into`);
      if (!folder) return { done: 0, failed: 0, failures: [], skippedExpired: 0, gone: 0, folder: null };
      return saveEntriesToFolder(format(), namespace, selection, includeExpired, folder, suggestedFileName);
    },
    describeKey: async ({ key }: { key: string }): Promise<KeyInfo> => format().describeKey(key),
    delete: async ({ namespace, ref, unversioned, shown }: { namespace: string; ref: string; unversioned?: true; shown?: { versions: number; version: number; storedAt: string } }) => {
      const lookup = await format().parseLookup(namespace, ref);
      const wholeHash = 'hash' in lookup && lookup.version === undefined && lookup.sha256 === undefined;
      if (unversioned && shown) throw new CacheError('invalid_input', 'delete: content no version uses has no versions to have been shown');
      if ((unversioned || shown) && !wholeHash) throw new CacheError('invalid_input', `delete: ${unversioned ? 'content no version uses' : 'an entry as shown'} is named by its hash alone`);
      return format().delete(ns(namespace), { ...lookup, ...(unversioned && { unversioned }), ...(shown && { seen: { ...shown, as: 'shown' as const } }) });
    },
    storeBytes: async ({ namespace, name, base64, as, options, opened }: { namespace: string; name: string; base64: string; as: StoreAs; options: StoreOptions; opened?: string }) => {
      session.assertDroppedHere(opened);
      // Buffer.from skips what is not base64 and drops a cut tail without a word: only text that encodes back to itself is taken.
      const bytes = Buffer.from(base64, 'base64');
      if (bytes.toString('base64') !== base64) throw new CacheError('invalid_input', 'content must be base64 (padded, whole groups of four characters)');
      return format().store(ns(namespace), storeInput({ kind: 'bytes', bytes }, name, as, options));
    },
    hashFile: async ({ namespace, path: file, transferId, as, options, opened }: { namespace: string; path: string; transferId: string; as: StoreAs; options: StoreOptions; opened?: string }) => {
      session.assertDroppedHere(opened); // before the open layout judges choices made for another
      format().checkStoreInput({ as, options });
      const chosen = await session.readableFile(file);
      session.assertDroppedHere(opened);
      return session.transfer(transferId, { phase: 'hash', namespace, subject: path.basename(file), total: chosen.size }, (transfer) => hashReport(format(), namespace, storeInput({ kind: 'file', path: chosen.path }, '', as, options), transfer));
    },
    storeFile: async ({ namespace, path: file, transferId, as, options, opened }: { namespace: string; path: string; transferId: string; as: StoreAs; options: StoreOptions; opened?: string }) => {
      session.assertDroppedHere(opened);
      const chosen = await session.readableFile(file);
      session.assertDroppedHere(opened);
      return session.transfer(transferId, { phase: 'store', namespace, subject: path.basename(file), total: chosen.size }, (transfer) => format().store(ns(namespace), storeInput({ kind: 'file', path: chosen.path }, path.basename(file), as, options), transfer));
    },
    cancel: async ({ transferId }: { transferId: string }) => session.cancel(transferId),
    operations: async () => session.operations(),
    storePaths: async ({ namespace, dropId, files, as, options, opened }: { namespace: string; dropId: string; files: { path: string; name: string }[]; as: StoreAs; options: StoreOptions; opened?: string }) => {
      session.assertDroppedHere(opened);
      const name = ns(namespace);
      format().checkStoreInput({ as, options });
      session.drops.assertOpen(dropId);
      const items = await Promise.all(files.map((file) => batchItemOf(session, file)));
      // A path the operator never chose refuses the whole batch: nothing of it is stored.
      const refused = items.find((item): item is { name: string; error: ErrorInfo } => 'error' in item && item.error.code === 'access_denied');
      if (refused) throw new CacheError('access_denied', refused.error.message);
      session.assertDroppedHere(opened);
      return session.drops.store(dropId, format(), name, { as, options }, items);
    },
    cancelDrop: async ({ dropId }: { dropId: string }) => session.drops.cancel(dropId),
    saveEntry: async ({ namespace, ref, allowExpired }: { namespace: string; ref: string; allowExpired: boolean }) => {
      const choose = session.options.chooseSavePath;
      if (!choose) throw new CacheError('invalid_input', 'this window cannot choose a file; download the content instead');
      const record = await format().record(ns(namespace), await format().parseLookup(namespace, ref));
      if (!allowExpired) await retention().assertLive(record.namespace, record); // before any dialog: nothing to save
      const target = await choose(suggestedFileName(record));
      if (!target) return { saved: false };
      // Written next to the target and renamed, so a failed save never leaves a half file. Opened
      // before any byte: a stream opening it itself could create it after a failure's cleanup.
      const tmp = `${target}.partial`;
      const file = await open(tmp, 'wx');
      let bytes = 0;
      try {
        const { content } = await format().retrieve(record.namespace, { cacheId: record.cache_id });
        const counted = async function* () {
          for await (const chunk of content) {
            bytes += chunk.byteLength;
            yield chunk;
          }
        };
        await pipeline(counted, file.createWriteStream());
        await rename(tmp, target);
      } catch (err) {
        await file.close().catch(() => undefined); // still open when the retrieve failed
        await rm(tmp, { force: true });
        throw err;
      }
      return { saved: true, path: target, bytes };
    },
    verify: async ({ namespace, sample, repair, transferId }: { namespace?: string; sample?: number; repair: boolean; transferId: string }) =>
      session.transfer(transferId, { phase: 'verify', namespace: namespace ?? null, subject: repair ? 'repair' : '', total: null, said: verifySaid }, (control) => session.verify({ namespace: namespace === undefined ? undefined : ns(namespace), sample, repair }, control)),
    policy: async () => (await retention().getPolicy()).policy,
    setPolicy: async ({ namespace, ttl, keepVersions }: { namespace?: string; ttl?: string; keepVersions?: string }) => {
      // Every value is parsed before anything is written: a bad one changes nothing.
      const change = { namespace: namespace === undefined ? undefined : ns(namespace), ttl_seconds: ruleValue(ttl, parseAge), keep_versions: ruleValue(keepVersions, parseKeepVersions) };
      return (await retention().setPolicy(change)).policy;
    },
    prunePlan: async ({ namespace }: { namespace: string }) => {
      const name = ns(namespace);
      const r = retention();
      const plan = await r.planPrune({ namespace: name });
      const planId = randomUUID();
      // By the store's description, not its format: a plan kept must not keep a closed store (and its entry tables) alive.
      shownPlans.set(planId, { store: format().storage.description, namespace: name, versions: new Set(plan.versions.map(versionOf)) });
      for (const old of [...shownPlans.keys()].slice(0, -PLANS_KEPT)) shownPlans.delete(old);
      return { ...planView(name, plan, ruleFor((await r.getPolicy()).policy, name)), planId };
    },
    prune: async ({ namespace, transferId, planId }: { namespace: string; transferId: string; planId: string }) => {
      const name = ns(namespace);
      const shown = shownPlans.get(planId);
      if (!shown || shown.store !== format().storage.description || shown.namespace !== name) {
        throw new CacheError('not_found', `the plan this prune was confirmed on is no longer kept (a plan prunes once; main keeps the ${PLANS_KEPT} newest shown, and none from before it restarted) or was for another store or namespace: nothing was pruned; look at the plan again`);
      }
      shownPlans.delete(planId);
      return session.transfer(transferId, { phase: 'prune', namespace: name, total: null, said: pruneSaid }, async ({ signal, onProgress }) => {
        const r = retention();
        // Planned again, so a version changed since (deleted, stored again, its policy changed) is judged as it is now; of
        // those, only the ones shown go: a version that came to qualify meanwhile was never confirmed.
        const fresh = await r.planPrune({ namespace: name }, { signal });
        const plan = { ...fresh, versions: fresh.versions.filter((v) => shown.versions.has(versionOf(v))) };
        let done = 0;
        const summary = await r.prune(plan, {
          signal,
          onProgress: (progress) => onProgress((done = progress.done), progress.total),
          onWaiting: (ns, until) => onProgress(done, plan.versions.length, { note: `waiting for another prune of ${ns} to finish (if it was killed, its hold runs out by ${until.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z')})` }),
        });
        return { namespace: name, planned: plan.versions.length, ...summary, unreadableRefs: plan.unreadableRefs, notConfirmed: fresh.versions.length - plan.versions.length };
      });
    },
    profiles: async () => session.profilesView(),
    saveProfile: async ({ profile, ...options }: { profile: never; id?: string; keepKeyId: boolean; allowPlaintextSecret: boolean; attemptId?: string }) => session.saveProfile(profile, options),
    removeProfile: async ({ id }: { id: string }) => {
      if (id === session.activeProfileId) throw new CacheError('invalid_input', 'switch to another profile before removing this one');
      return { removed: await session.profiles.remove(id) };
    },
    connect: async ({ id, attemptId }: { id: string; attemptId?: string }) => session.connect(id, attemptId),
  };
}

/** The error code a payload field's refusal has, where it is not invalid_input. */
const FIELD_CODES: Record<string, 'invalid_namespace' | 'invalid_hash' | 'invalid_key'> = { namespace: 'invalid_namespace', hash: 'invalid_hash', prefix: 'invalid_key' };

/** What a schema refused, as the caller sees it: the first field at fault, with the code that field has everywhere. */
export function schemaRefusal(route: string, error: ZodError): { code: ErrorCode; message: string } {
  const issue = error.issues[0];
  const field = issue?.path.join('.') || 'payload';
  // zod calls Infinity (JSON's 1e400) and NaN "received number" against "expected number".
  const nonFinite = issue?.code === 'invalid_type' && issue.expected === 'number' && 'received' in issue && (issue.received === 'Infinity' || issue.received === 'NaN');
  return { code: FIELD_CODES[field] ?? 'invalid_input', message: `${route}: ${field}: ${nonFinite ? 'expected a finite number' : (issue?.message ?? 'invalid')}` };
}

export type Dispatch = (method: unknown, payload: unknown) => Promise<Result<unknown>>;

/** Methods after which a namespace's entries may differ (verify only when it repairs, but it is rare enough to list again anyway). */
const CHANGES_ENTRIES: ReadonlySet<MethodName> = new Set(['delete', 'storeBytes', 'storeFile', 'storePaths', 'prune', 'verify', 'deleteEntries'] as MethodName[]);

/**
 * Whether a call's answer says a namespace's entries changed: something was stored, deleted, pruned
 * or repaired, or a cancel stopped it part-way. A refused or failed call, or a verify that repaired
 * nothing, changed nothing to tell windows about.
 */
function changedEntries(method: MethodName, payload: { repair?: boolean }, result: Result<unknown>): boolean {
  if (!CHANGES_ENTRIES.has(method)) return false;
  if (!result.ok) return result.error.code === 'cancelled' && (method !== 'verify' || payload.repair === true);
  const value = result.value as Partial<VerifyResult & PruneResult & BulkOutcome & BatchStoreResult>;
  switch (method) {
    case 'verify':
      return (value.repaired?.length ?? 0) > 0;
    case 'prune':
      return (value.pruned ?? 0) > 0;
    case 'deleteEntries':
      return (value.done ?? 0) > 0;
    case 'storePaths':
      return storedAny(value as BatchStoreResult);
    default:
      return true;
  }
}

const storedAny = (result: BatchStoreResult): boolean => result.outcomes.some((o) => 'stored' in o);

/**
 * After a call that may have changed entries (the bridge's upload and batch are `storeFile` and
 * `storePaths` by another road): the entries browser lists the namespace again, even after a call
 * that failed part-way; and when the answer says entries changed, every window and bridge client
 * hears which namespace (null: any), so a list on show follows stores from any client.
 */
export function afterEntriesCall(session: AppSession, method: MethodName, input: { namespace?: string; repair?: boolean }, result: Result<unknown>): void {
  if (!CHANGES_ENTRIES.has(method)) return;
  entryTablesOfOpenStore(session)?.changed(input.namespace);
  if (changedEntries(method, input, result)) session.emit({ type: 'entriesChanged', namespace: input.namespace ?? null });
}

/** The open store's entry tables; null with no store open. */
export function entryTablesOfOpenStore(session: AppSession): EntryTables | null {
  try {
    return entryTablesOf(session.format);
  } catch {
    return null;
  }
}

/** A thrown error as a Result: typed codes pass through, anything else is logged here and hidden. */
export function errorResult(err: unknown, what: string): Result<never> {
  if (err instanceof CacheError) return { ok: false, error: err.toInfo() };
  // Logged in main only: the renderer gets a code and a sentence, never a stack.
  console.error(`cache-admin: ${what} failed: ${(err as Error)?.message ?? String(err)}`);
  return { ok: false, error: { code: 'internal', message: `${what} failed unexpectedly` } };
}

/**
 * Validates a method call against the contract and runs it. Anything that is not a valid call is
 * answered with a typed error and never reaches the core; no stack trace leaves this function.
 */
export function createDispatcher(session: AppSession): Dispatch {
  const table = handlers(session);
  return async (method, payload) => {
    if (!isMethodName(method)) return { ok: false, error: { code: 'invalid_input', message: 'unknown method' } };
    let parsed;
    try {
      parsed = methods[method].input.safeParse(payload ?? {});
    } catch {
      // zod can throw on objects built to break it (a null-prototype `constructor`): still bad input.
      return { ok: false, error: { code: 'invalid_input', message: `${method}: the payload is not valid` } };
    }
    if (!parsed.success) return { ok: false, error: schemaRefusal(method, parsed.error) };
    let result: Result<unknown>;
    try {
      const handler = table[method] as (input: unknown) => Promise<unknown>;
      result = { ok: true, value: await handler(parsed.data) };
    } catch (err) {
      result = errorResult(err, method);
    }
    afterEntriesCall(session, method, parsed.data as { namespace?: string; repair?: boolean }, result);
    return result;
  };
}

/** A verify's outcome in a line, for the windows that did not start it: problems found are never just "finished". */
function verifySaid({ checked, problems, repaired }: VerifyResult): string {
  const kinds = [...new Set(problems.map((p) => p.kind))].join(', ');
  const found = problems.length ? `${counted(problems.length, 'problem', 'problems')} (${kinds})` : 'no problems';
  return `${found} in ${counted(checked, 'key', 'keys')} checked${repaired?.length ? `, ${counted(repaired.length, 'repair', 'repairs')} made` : ''}`;
}

function pruneSaid({ pruned, contentRemoved, bytesFreed, skipped, notConfirmed }: PruneResult): string {
  const later = notConfirmed ? `; ${counted(notConfirmed, 'version qualifies', 'versions qualify')} now that the plan confirmed did not list, left for the next prune` : '';
  return `pruned ${counted(pruned, 'version', 'versions')} (${counted(contentRemoved, 'hash', 'hashes')} gone entirely, ${formatBytes(bytesFreed)} freed)${skipped ? `, ${formatCount(skipped)} already gone` : ''}${later}`;
}
