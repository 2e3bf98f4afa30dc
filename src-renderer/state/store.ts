import { createStore, type StoreApi } from 'zustand/vanilla';
import type {
  CacheAdminApi,
  Capabilities,
  EntryListItem,
  EntryView,
  KeyInfo,
  MethodInput,
  MethodResults,
  NamespaceCounts,
  NamespaceStatsView,
  PolicyView,
  ProfilesView,
  PrunePlanView,
  PruneResult,
  RehashProgress,
  Result,
  OperationEnd,
  RunningOperation,
  StoredEntry,
  VerifyResult,
  VersionItem,
} from '../../src-shared/contract';
import { bulkSummary } from '../../src-shared/bulk-summary';
import type { ErrorInfo } from '../../src-shared/errors';
import { METHOD_NAMES } from '../../src-shared/channels';
import type { CacheAdminClient, StoreChoice } from '../api/client';
import { counted, formatBytes, formatCount } from '../lib/format';
import { describeOperation, endedText } from '../lib/operations';
import { entryRefOf, parseLookup } from '../lib/lookup';
import { MAX_PICKED, blockLoader, emptyEntries, rowAt, selectedCount, selectionOf, type EntriesBrowser } from './entries-browser';
import { createDropRunner, isBulkDrop, type Drop } from './drops';
import { FOLLOW_COST_FACTOR, FOLLOW_EVERY_MS, paced } from './paced';
import { heatmapSlice, type HeatmapActions, type HeatmapState } from './heatmap';


/** The namespace on show in this window, kept across a reload (sessionStorage: this tab only), so a reload reopens it. */
const NAMESPACE_KEY = 'cache-admin-namespace';
function rememberedNamespace(): string | null {
  try {
    return sessionStorage.getItem(NAMESPACE_KEY);
  } catch {
    return null; // storage refused (a sandboxed page): a reload opens the store's first namespace
  }
}
function rememberNamespace(namespace: string): void {
  try {
    sessionStorage.setItem(NAMESPACE_KEY, namespace);
  } catch {
    // as above
  }
}

export type Load<T> = { status: 'idle' } | { status: 'loading'; data?: T } | { status: 'ready'; data: T } | { status: 'error'; error: ErrorInfo; data?: T };

export interface Transfer {
  id: string;
  name: string;
  /** Where the drop goes, fixed when it was dropped: later clicks never move it. */
  namespace: string;
  /** The store (profile name) that was connected when it was dropped. */
  store: string;
  /** How it is stored (`as`, the layout's options), fixed when it was dropped. */
  choice: StoreChoice;
  /** The operator asked to cancel: main's answer decides what the row says. */
  cancelling?: boolean;
  /** The cancel arrived after the version was committed: it was stored. */
  storedBeforeCancel?: boolean;
  size: number;
  phase: 'queued' | 'hashing' | 'storing' | 'done' | 'failed' | 'cancelled';
  bytesDone: number;
  /** Bytes per second over the current phase. */
  rate: number;
  phaseStartedAt: number;
  existing?: { cache_id: string; version: number } | null;
  result?: StoredEntry;
  error?: ErrorInfo;
}

/** `recounting`: it changed since these counts, which are being read again. */
export type NamespaceRow = { name: string; recounting?: boolean } & Partial<Omit<NamespaceCounts, 'name'>>;


export type Tab = 'browse' | 'layout' | 'stats' | 'verify' | 'retention';

export interface VerifyRun {
  status: 'idle' | 'running' | 'done' | 'error';
  checked: number;
  /** Keys listed so far: the keys checked are of these. */
  listed: number;
  /** Big content being re-hashed now (the keys checked stand still meanwhile). */
  rehashing?: RehashProgress;
  transferId?: string;
  scope?: string;
  report?: VerifyResult;
  error?: ErrorInfo;
}
export interface PruneRun {
  status: 'idle' | 'running' | 'done' | 'error';
  /** The plan's versions dealt with so far (pruned, or found gone), of `total` (main's progress events). */
  done: number;
  total?: number | null;
  /** Why it does not move now: waiting for another prune of the namespace. */
  note?: string;
  transferId?: string;
  namespace?: string;
  result?: PruneResult;
  error?: ErrorInfo;
}

/** The retention tab of the open namespace: the store's policy, what it would prune now, and a prune run. */
export interface RetentionView {
  policy: Load<PolicyView>;
  plan: Load<PrunePlanView>;
  prune: PruneRun;
}
export type Theme = 'system' | 'light' | 'dark';

export interface AppState extends HeatmapState {
  capabilities: Load<Capabilities>;
  profiles: Load<ProfilesView>;
  /** While counts load, rows carry only a name. */
  namespaces: Load<NamespaceRow[]>;
  namespace: string;
  namespaceFilter: string;
  entries: EntriesBrowser;
  lookupInput: string;
  /** What the last lookup asked for (the box may hold other text since): what the entry panel is about. */
  lookedUp: string;
  lookupError: string | null;
  entry: Load<EntryView>;
  versions: Load<{ hash: string; versions: VersionItem[] }>;
  transfers: Transfer[];
  /** Multi-file drops (a folder, or BULK_MIN_FILES files or more): each one progress view, stored by main in batches. */
  drops: Drop[];
  stats: Load<NamespaceStatsView>;
  keyInfo: Load<KeyInfo>;
  verify: VerifyRun;
  /** What main runs that this page did not start, with how far it has got: it can be followed and stopped here. */
  elsewhere: ElsewhereOperation[];
  /** The selected entries being deleted: how many have settled (deleted, gone or failed) of how many picked. */
  entryDeletion: { transferId: string; namespace: string; settled: number; total: number | null } | null;
  retention: RetentionView;
  tab: Tab;
  theme: Theme;
  notice: string | null;
  /** Bumped on every store switch; answers to requests from an older epoch are dropped. */
  storeEpoch: number;
  /** A store being opened: shown at once, with a Cancel. */
  connecting: { name: string; attemptId: string } | null;
  /** Set when a call finds the open store missing or unreachable: drops are refused until the operator reconnects or picks another store. */
  storeProblem: ErrorInfo | null;
  /** Set when main refuses this page for good (a restarted bridge's new token) or is gone (the bridge stopped): nothing it asks will work until a printed URL is opened. */
  accessRefused: ErrorInfo | null;
  /** How the next drops are stored. */
  storeChoice: StoreChoice;
}

export interface AppActions extends HeatmapActions {
  init(): () => void;
  refreshNamespaces(): Promise<void>;
  selectNamespace(namespace: string): void;
  setNamespaceFilter(filter: string): void;
  /** Rows [first, last] are on show: fetches the blocks of them not fetched yet. */
  loadEntryRange(first: number, last: number): Promise<void>;
  /** Sorts or filters the entries (main does both); the selection is cleared. */
  setEntryQuery(change: Partial<Pick<EntriesBrowser, 'sort' | 'descending' | 'filter'>>): void;
  /** The index of a hash's row in the list as sorted and filtered now, fetching its block; null when it is not shown. */
  /** Where a hash is in the list as shown: null when it is not there (listed whole), undefined when that is not known now. */
  locateEntry(hash: string): Promise<number | null | undefined>;
  setEntrySelection(selection: EntriesBrowser['selection']): void;
  /** Selects rows from..to (either order), fetching the blocks between; at most MAX_PICKED. */
  selectEntryRange(from: number, to: number): Promise<void>;
  /** Lists the namespace again (changes made by other programs); `counted`: its counts are being read already (every namespace's). */
  refreshEntries(options?: { counted?: boolean }): void;
  /** Deletes every version of each selected entry; the notice says what happened. */
  deleteSelectedEntries(): Promise<void>;
  /** Stops that: entries under way finish, the rest are kept. False when main could not be asked (the notice says why). */
  stopEntryDeletion(): Promise<boolean>;
  /** Stops an operation started elsewhere; the notice says how it ended (or why it could not be asked). */
  stopElsewhere(id: string): Promise<void>;
  /** Saves the selected entries (latest versions): expired ones only with includeExpired. */
  saveSelectedEntries(includeExpired: boolean): Promise<void>;
  setLookupInput(input: string): void;
  lookup(input?: string): Promise<void>;
  clearLookup(): void;
  storeFiles(files: File[]): Promise<void>;
  cancelTransfer(id: string): Promise<void>;
  cancelAll(): Promise<void>;
  /** Stops a drop's batches; its view then says how many files main stored first. */
  cancelDrop(id: string): Promise<void>;
  /** Stores a drop's failed files again, where and as the drop was stored. */
  retryFailed(id: string): Promise<void>;
  clearFinished(): void;
  /** Switches store (or reopens the open one); on failure nothing changes and the error is returned (the caller shows it). */
  connect(profileId: string): Promise<ErrorInfo | null>;
  /** Stops the connect (or profile save) under way; the open store stays. */
  cancelConnect(): Promise<void>;
  /** Connects to a new or edited profile's store; main saves it only once that worked. Resolves with why it failed, or null. */
  saveProfile(input: Omit<MethodInput<'saveProfile'>, 'attemptId'>): Promise<ErrorInfo | null>;
  /** Null when the open layout takes this namespace name, else why not. */
  checkNamespace(name: string): Promise<ErrorInfo | null>;
  setStoreChoice(choice: StoreChoice): void;
  removeProfile(profileId: string): Promise<Result<MethodResults['removeProfile']>>;
  /** `quiet`: read again after a change, the counts on show staying until the new ones come. */
  loadStats(options?: { quiet?: boolean }): Promise<void>;
  describeKey(key: string): Promise<void>;
  runVerify(options: { wholeStore: boolean; sample?: number; repair: boolean }): Promise<void>;
  cancelVerify(): Promise<void>;
  /** Reads the policy and what it would prune in the open namespace now (a dry run). */
  loadRetention(): Promise<void>;
  /** Changes the store-wide rule or the open namespace's: values as the CLI takes them (`30d`, `none`, `default`). Null when saved, else why not. */
  setPolicy(change: { scope: 'namespace' | 'store'; ttl?: string; keepVersions?: string }): Promise<ErrorInfo | null>;
  runPrune(): Promise<void>;
  cancelPrune(): Promise<void>;
  /** Reads the shown expired version anyway: its preview, and Save, then serve it. */
  showExpiredAnyway(): Promise<void>;
  saveEntry(): Promise<void>;
  /** Deletes the shown version, or every version of its hash; the bytes go with the last one. */
  deleteEntry(scope: 'version' | 'all'): Promise<void>;
  setTab(tab: Tab): void;
  setTheme(theme: Theme): void;
  notify(message: string | null): void;
}

export type AppStore = StoreApi<AppState & AppActions>;

/** Lookup answers that mean the input itself was not understood: shown under the lookup box. */
const REFUSED_INPUT = new Set(['invalid_hash', 'invalid_cache_id', 'invalid_key', 'invalid_namespace', 'invalid_input']);
export const ACTIVE_PHASES: Transfer['phase'][] = ['queued', 'hashing', 'storing'];
/** Files hashed and stored at once: enough to overlap, few enough to keep the UI responsive. */
const TRANSFER_CONCURRENCY = 3;
/**
 * Files this big are stored without hashing them first: the store reads every byte once and its
 * result says whether the namespace held the content already, where a hash first would read (in the
 * browser: upload) every byte twice and double the time of the drop.
 */
export const HASH_FIRST_BELOW_BYTES = 64 * 1024 * 1024;
/** Calls that are not about the open store: their `storage_unreachable` says nothing about it. */
const NOT_THE_OPEN_STORE: ReadonlySet<string> = new Set(['connect', 'saveProfile', 'profiles', 'removeProfile', 'cancel']);
const DEFAULT_CHOICE: StoreChoice = { as: 'bytes' };
const NO_RETENTION: RetentionView = { policy: { status: 'idle' }, plan: { status: 'idle' }, prune: { status: 'idle', done: 0 } };

/**
 * A version listed for the hash on show that would not open (its record is damaged, or gone with
 * its listing left): the versions stay on show, and it can be deleted from the entry panel.
 */
export function unopenedVersion({ entry, versions, lookedUp }: Pick<AppState, 'entry' | 'versions' | 'lookedUp'>): VersionItem | null {
  if (entry.status !== 'error' || (entry.error.code !== 'corrupt' && entry.error.code !== 'not_found') || versions.status !== 'ready') return null;
  const asked = lookedUp.trim().toLowerCase();
  return versions.data.versions.find((v) => v.cache_id.toLowerCase() === asked) ?? null;
}

/**
 * Content a listed row shows with no version (a store stopped before its record, or one writing it):
 * the lookup of its hash finds no entry, and the entry panel offers to delete the content instead.
 */
export function unversionedContent({ entry, entries, namespace, lookedUp, versions }: Pick<AppState, 'entry' | 'entries' | 'namespace' | 'lookedUp' | 'versions'>): EntryListItem | null {
  const asked = shownEntryHash({ entry, entries, namespace, lookedUp, versions });
  if (entry.status !== 'error' || entry.error.code !== 'not_found' || asked === null) return null; // a damaged record is a version's, not content without one
  for (const block of Object.values(entries.blocks)) {
    const row = block.find((r) => r.hash === asked);
    if (row) return row.versions === 0 ? row : null;
  }
  return null;
}

/**
 * The hash the entry panel is about, in the list's namespace: the entry on show, a damaged one (by
 * hash, cache id or storage key: its versions name it), or a hash looked up that opened no entry
 * (content no version uses, records lost), whose row the list still has.
 */
export function shownEntryHash({ entry, entries, namespace, lookedUp, versions }: Pick<AppState, 'entry' | 'entries' | 'namespace' | 'lookedUp' | 'versions'>): string | null {
  if (entry.status === 'ready') return entry.data.record.namespace === entries.namespace ? entry.data.record.hash : null;
  if (entry.status !== 'error' || namespace !== entries.namespace) return null;
  const named = entryRefOf(lookedUp);
  if (entry.error.code === 'corrupt') return named?.hash ?? (versions.status === 'ready' ? versions.data.hash : null);
  if (entry.error.code !== 'not_found') return null;
  if (named?.kind === 'hash') return named.hash;
  // A listed version whose record is gone, looked up by its cache id: its entry's row (none was picked).
  return unopenedVersion({ entry, versions, lookedUp }) && versions.status === 'ready' ? versions.data.hash : null;
}

function settle<T>(result: Result<T>): Load<T> {
  return result.ok ? { status: 'ready', data: result.value } : { status: 'error', error: result.error };
}

/** The namespace list with one namespace's counts in place (or added, in name order), or without it when nothing is left under it. */
function withCounts(list: NamespaceRow[], counts: NamespaceRow, exists: boolean): NamespaceRow[] {
  const others = list.filter((n) => n.name !== counts.name);
  return exists ? [...others, counts].sort((a, b) => a.name.localeCompare(b.name)) : others;
}

function randomHex(): string {
  return crypto.randomUUID().replace(/-/g, '');
}

/** An operation main runs that this page did not start (another window's, or this page's before a reload). */
export type ElsewhereOperation = RunningOperation & { stopping?: boolean };

export function createAppStore(client: CacheAdminClient, options: { theme?: Theme } = {}): AppStore {
  const store = createStore<AppState & AppActions>()((set, get) => {
    // Every id this page sends starts with its own prefix: what main runs under any other id was
    // started elsewhere (another window, or this page before a reload).
    const page = randomHex().slice(0, 8);
    const newId = () => page + randomHex().slice(8);
    const updateTransfer = (id: string, change: Partial<Transfer> | ((t: Transfer) => Partial<Transfer>)) =>
      set((s) => ({ transfers: s.transfers.map((t) => (t.id === id ? { ...t, ...(typeof change === 'function' ? change(t) : change) } : t)) }));
    const queue: string[] = [];
    const files = new Map<string, File>();
    let running = 0;

    /**
     * Remembers that main refused this page, or is gone (any call, the open store's or not), once; a
     * bridge gone and then back refusing this page's token is said as the refusal (open its new URL).
     */
    const refused = (error: ErrorInfo) => {
      const said = get().accessRefused;
      if (!said || (said.code === 'disconnected' && error.code !== 'disconnected')) set({ accessRefused: error });
    };
    function heard<T>(result: Result<T>): Result<T> {
      if (!result.ok && (result.error.code === 'unauthorized' || result.error.code === 'disconnected')) refused(result.error);
      else answered();
      return result;
    }
    /** The bridge answers again (it was out of reach a moment: a sleep, a network change): "stopped" is no longer true. */
    function answered(): void {
      if (get().accessRefused?.code === 'disconnected') set({ accessRefused: null });
    }
    /** Remembers that the open store is missing or unreachable when a call on it says so. */
    function watched<T>(call: () => Promise<Result<T>>): Promise<Result<T>> {
      const epoch = get().storeEpoch;
      return call().then((result) => {
        if (!result.ok && result.error.code === 'storage_unreachable' && get().storeEpoch === epoch && !get().storeProblem) set({ storeProblem: result.error });
        return heard(result);
      });
    }
    const api = Object.fromEntries(
      METHOD_NAMES.map((method) => {
        const call = client.api[method] as (input: unknown) => Promise<Result<unknown>>;
        return [method, NOT_THE_OPEN_STORE.has(method) ? (input: unknown) => call(input).then(heard) : (input: unknown) => watched(() => call(input))];
      }),
    ) as CacheAdminApi;

    /** The hash a lookup that opened no entry names: as typed, or, for a storage key, as main reads the key; none to list versions of otherwise. */
    async function missedHash(ref: string, isKey: boolean, code: 'corrupt' | 'not_found'): Promise<string | undefined> {
      if (isKey) {
        const described = await api.describeKey({ key: ref });
        return described.ok ? described.value.hash : undefined;
      }
      const named = entryRefOf(ref);
      // A SHA-256 that matched nothing may share its first 16 digits with other content: not its versions.
      return named && (code === 'corrupt' || named.kind !== 'sha256') ? named.hash : undefined;
    }

    async function runTransfer(id: string): Promise<void> {
      const file = files.get(id);
      const transfer = get().transfers.find((t) => t.id === id);
      if (!file || transfer?.phase !== 'queued') return;
      const { namespace, choice } = transfer;
      if (file.size < HASH_FIRST_BELOW_BYTES) {
        updateTransfer(id, { phase: 'hashing', phaseStartedAt: Date.now(), bytesDone: 0 });
        const hashed = await watched(() => client.hashFile(file, namespace, `${id}h`, choice));
        if (!hashed.ok) return finish(id, hashed.error);
        // Cancelled while hashing: main's answer to the cancel says what the row shows; nothing is sent.
        if (get().transfers.find((t) => t.id === id)?.cancelling) return;
        updateTransfer(id, { existing: hashed.value.existing });
      }
      updateTransfer(id, { phase: 'storing', phaseStartedAt: Date.now(), bytesDone: 0, rate: 0 });
      const stored = await watched(() => client.storeFile(file, namespace, `${id}s`, choice));
      if (!stored.ok) return finish(id, stored.error);
      recordStored(id, stored.value);
    }

    /** The version main stored: it stands even when a cancel was asked for meanwhile (it arrived too late). */
    function recordStored(id: string, result: StoredEntry): void {
      const transfer = get().transfers.find((t) => t.id === id);
      if (!transfer || transfer.phase === 'done') return;
      updateTransfer(id, { phase: 'done', result, bytesDone: result.size, storedBeforeCancel: transfer.cancelling ?? false, cancelling: false });
      changed(transfer.namespace); // counts and the list move with what was stored (or was not)
    }

    function finish(id: string, error: ErrorInfo): void {
      const transfer = get().transfers.find((t) => t.id === id);
      if (!transfer || !ACTIVE_PHASES.includes(transfer.phase)) return;
      updateTransfer(id, error.code === 'cancelled' ? { phase: 'cancelled', cancelling: false } : { phase: 'failed', error, cancelling: false });
      if (error.code === 'cancelled') changed(transfer.namespace); // counts and the list move with what was stored (or was not)
    }

    /**
     * A lookup that opened no entry (a damaged or missing version, content without one) looked up again
     * after a change: a repair, a store or a delete elsewhere may have mended or taken it. Its Delete
     * offer stood after a repair, and deleted the version the repair had just restored.
     */
    async function reloadDamagedLookup(): Promise<void> {
      const { entry, versions, lookedUp, namespace, storeEpoch } = get();
      const target = parseLookup(lookedUp);
      if (entry.status !== 'error' || !target.ok) return;
      const at = target.namespace ?? namespace;
      const next = await api.entry({ namespace: at, ref: target.ref });
      const hash = next.ok ? next.value.record.hash : versions.status === 'ready' ? versions.data.hash : null;
      const listed = hash === null ? null : await api.versions({ namespace: at, hash });
      if (get().storeEpoch !== storeEpoch || get().entry !== entry || get().lookedUp !== lookedUp) return; // the operator moved on meanwhile
      set({ entry: settle(next), versions: listed?.ok && (next.ok || listed.value.versions.length > 0) ? { status: 'ready', data: listed.value } : { status: 'idle' } });
    }

    /** The entry on show read again after a change from elsewhere: its versions now, or that it is gone. */
    async function reloadShownEntry(): Promise<void> {
      const { entry, storeEpoch, entryDeletion } = get();
      // This window's bulk delete sees to the entry on show when it ends (a miss would show beside "Deleted 10 entries").
      if (entry.status !== 'ready' || entryDeletion?.namespace === entry.data.record.namespace) return;
      const { namespace, cache_id, hash } = entry.data.record;
      const [next, versions] = await Promise.all([api.entry({ namespace, ref: cache_id, allowExpired: entry.data.expired && !entry.data.withheld }), api.versions({ namespace, hash })]);
      if (get().storeEpoch !== storeEpoch || get().entry !== entry) return; // the operator moved on meanwhile
      set({ entry: settle(next), versions: next.ok ? settle(versions) : { status: 'idle' } });
    }

    // What changed is followed by one run at a time: the counts of the namespaces that changed, each
    // from its own `stats` (not a count of the whole store); the list on show, listed again; their
    // heatmaps; the entry on show. Changes come from this window (its stores, drops, deletes) and
    // from main, which announces what any window or client stores, deletes, prunes or repairs (a
    // script's upload too). Runs are paced by what they cost: a count of a 70,000-entry namespace
    // takes about a second of the bridge's time, and a stream of uploads into it must not be slowed
    // much by a window that watches.
    const countsDue = new Set<string>();
    const changedIn = new Set<string>();
    let changedAnywhere = false;
    const follow = paced(async () => {
      const counts = [...new Set([...countsDue, ...changedIn])];
      const changes = new Set(changedIn);
      const anywhere = changedAnywhere;
      countsDue.clear();
      changedIn.clear();
      changedAnywhere = false;
      const { entries, entry, storeEpoch } = get();
      const work: Promise<unknown>[] = [];
      if (anywhere) work.push(get().refreshNamespaces());
      else
        work.push(
          (async () => {
            for (const namespace of counts) {
              const result = await api.stats({ namespace });
              if (get().storeEpoch !== storeEpoch) return;
              if (!result.ok) {
                markRecounting([namespace], false); // the counts stand as they were: nothing says they are being read
                continue;
              }
              const { name, entries, versions, bytes, objects } = result.value;
              // Changed again since this count began: still said to be updating, until the next run.
              const recounting = countsDue.has(name) || changedIn.has(name) || undefined;
              set((s) => (s.namespaces.status === 'ready' ? { namespaces: { status: 'ready', data: withCounts(s.namespaces.data, { name, entries, versions, bytes, recounting }, objects > 0) } } : {}));
            }
          })(),
        );
      // Listed again by main, which paces that listing by its own cost.
      if (anywhere || changes.has(entries.namespace)) resetEntries(entries.namespace, 'changed');
      for (const namespace of anywhere ? [entries.namespace] : changes) get().forgetHeatmap(namespace);
      if (entry.status === 'ready' && (anywhere || changes.has(entry.data.record.namespace))) work.push(reloadShownEntry());
      const looked = parseLookup(get().lookedUp);
      if (entry.status === 'error' && (anywhere || changes.has((looked.ok && looked.namespace) || get().namespace))) work.push(reloadDamagedLookup());
      // The Stats tab follows its namespace's counts as the sidebar does; read when next opened if it is not on show.
      if (anywhere || counts.includes(get().namespace)) {
        if (get().tab === 'stats') work.push(get().loadStats({ quiet: true }));
        else if (get().stats.status !== 'idle') set({ stats: { status: 'idle' } });
      }
      await Promise.all(work);
    }, FOLLOW_EVERY_MS, FOLLOW_COST_FACTOR);
    /** Says on the namespace rows that their counts are being read again (or no longer). */
    function markRecounting(namespaces: string[], recounting: boolean): void {
      const { namespaces: shown } = get();
      // A drop says so once per batch: the rows change (and render) only when one is not marked yet.
      if (shown.status !== 'ready' || !shown.data.some((n) => namespaces.includes(n.name) && Boolean(n.recounting) !== recounting)) return;
      set({ namespaces: { status: 'ready', data: shown.data.map((n) => (namespaces.includes(n.name) ? { ...n, recounting } : n)) } });
    }
    /** `namespace`'s entries changed (null: any namespace's): counts, list, heatmap and entry follow. */
    const changed = (namespace: string | null) => {
      if (namespace === null) changedAnywhere = true;
      else changedIn.add(namespace);
      if (namespace !== null) markRecounting([namespace], true);
      follow();
    };
    /** Only `namespace`'s counts are due (this window's own action has seen to its list). */
    const recount = (namespace: string) => {
      countsDue.add(namespace);
      markRecounting([namespace], true);
      follow();
    };
    const drops = createDropRunner({
      client,
      drops: () => get().drops,
      setDrops: (update) => set((s) => ({ drops: update(s.drops) })),
      stored: changed,
    });

    /**
     * The operations main runs now, as it lists them. How one ended is said in the notice when it is
     * a verify, prune or delete, or when this page asked to stop it; another window's files stored
     * (each its own transfer) are that window's to report.
     */
    let operationsSeq = -1;
    function followOperations({ seq, operations, ended }: { seq: number; operations: RunningOperation[]; ended?: OperationEnd }): void {
      if (seq <= operationsSeq) return; // older than the list already shown
      operationsSeq = seq;
      const before = get().elsewhere;
      const gone = ended && before.find((o) => o.id === ended.id && (o.stopping || (o.kind !== 'hash' && o.kind !== 'store')));
      const stopping = new Set(before.filter((b) => b.stopping).map((b) => b.id));
      const elsewhere = operations.filter((o) => !o.id.startsWith(page)).map((o) => (stopping.has(o.id) ? { ...o, stopping: true } : o));
      set(gone ? { elsewhere, notice: `${describeOperation(gone).title} (started in another window or before a reload): ${endedText(ended)}` } : { elsewhere });
    }

    async function syncOperations(): Promise<void> {
      const listed = await client.api.operations({});
      if (listed.ok) followOperations(listed.value);
    }

    function pump(): void {
      while (running < TRANSFER_CONCURRENCY && queue.length) {
        const id = queue.shift()!;
        running++;
        void runTransfer(id).finally(() => {
          running--;
          files.delete(id);
          pump();
        });
      }
    }

    /** The connected store as the operator named it: its profile's name, else where it is. */
    function storeName(): string {
      const { profiles, capabilities } = get();
      const active = profiles.status === 'ready' ? profiles.data.profiles.find((p) => p.id === profiles.data.active) : undefined;
      return active?.name ?? (capabilities.status === 'ready' ? capabilities.data.store : '');
    }

    async function reloadProfiles(): Promise<void> {
      set({ profiles: settle(await client.api.profiles({})) });
    }

    /**
     * Why the store cannot be switched now: transfers still going into the open one, or this page's
     * prune, delete or verify of it, which a switch stops part-way (it did, without a word).
     */
    function busyWork(): ErrorInfo | null {
      const busy = get().transfers.filter((t) => ACTIVE_PHASES.includes(t.phase)).length + get().drops.filter((d) => d.status === 'running' || d.status === 'cancelling').length;
      const them = busy === 1 ? 'it' : 'them';
      if (busy) return { code: 'conflict', message: `${counted(busy, 'transfer is', 'transfers are')} still going into ${storeName()}: let ${them} finish or cancel ${them} before switching store` };
      const { retention, entryDeletion, verify } = get();
      const running = [
        ...(retention.prune.status === 'running' ? [`the prune of ${retention.prune.namespace}`] : []),
        ...(entryDeletion ? [`the delete of picked entries in ${entryDeletion.namespace}`] : []),
        ...(verify.status === 'running' ? [`the verify of ${verify.scope}`] : []),
      ];
      const those = running.length === 1 ? 'it' : 'them';
      return running.length ? { code: 'conflict', message: `${running.join(' and ')} ${running.length === 1 ? 'is' : 'are'} still running in ${storeName()}: let ${those} finish or stop ${those} before switching store (a switch would stop ${those} part-way)` } : null;
    }

    /** Runs one connect attempt, shown at once as "Connecting…" with a Cancel, and switches every panel when it worked. */
    async function connecting<T>(name: string, attempt: (attemptId: string) => Promise<Result<T>>, capabilitiesOf: (value: T) => Capabilities): Promise<Result<T>> {
      const attemptId = newId();
      set({ connecting: { name, attemptId } });
      const result = await attempt(attemptId);
      if (get().connecting?.attemptId === attemptId) set({ connecting: null });
      if (result.ok) switched(capabilitiesOf(result.value));
      return result;
    }

    /**
     * Until the operator picks one, the namespace on show is a stand-in (default at start, the
     * previous store's after a switch): when the store's names come, one the store holds is shown
     * instead (default if it holds one, else its first; default in an empty store), so the app never opens on a namespace
     * that is not there, and drops never go into one the operator did not pick in this store.
     */
    let namespaceIsStandIn = true;
    /**
     * Namespaces this page has had main list afresh in the store open. Main keeps a namespace's list
     * between pages, and sees only its own changes: the first view of each in a page (after a reload,
     * say) is listed again, so another program's stores and deletes show without a Refresh.
     */
    const listedAfresh = new Set<string>();
    /** The newest lookup: an older one's answer, arriving after it, is dropped (the entry on show is the last asked for). */
    let lookupsStarted = 0;
    /** Stats reads started: each knows whether a newer one began after it. */
    let statsAsked = 0;

    function switched(capabilities: Capabilities): void {
      // Main has stopped the previous store's verify, prune or delete (from any window) before it switched; this
      // window's own are stopped here too, as their panels go: a reconnect to the same store keeps them running in main.
      const { verify, retention, entryDeletion, tab } = get();
      for (const id of [verify.status === 'running' && verify.transferId, retention.prune.status === 'running' && retention.prune.transferId, entryDeletion?.transferId]) if (id) void client.cancel(id);
      // Changes in the previous store.
      countsDue.clear();
      changedIn.clear();
      listedAfresh.clear();
      changedAnywhere = false;
      // Every panel of the previous store goes at once; answers still on their way from it are dropped.
      set((s) => ({
        storeEpoch: s.storeEpoch + 1,
        capabilities: { status: 'ready', data: capabilities },
        storeProblem: null,
        storeChoice: DEFAULT_CHOICE,
        namespaces: { status: 'loading' },
        // What was said or typed about the previous store (a delete done, a refusal, a key) is not about this one.
        notice: null,
        lookupInput: '',
        lookedUp: '',
        lookupError: null,
        entry: { status: 'idle' },
        versions: { status: 'idle' },
        stats: { status: 'idle' },
        keyInfo: { status: 'idle' },
        verify: { status: 'idle', checked: 0, listed: 0 },
        entryDeletion: null,
        retention: NO_RETENTION,
      }));
      resetEntries(get().namespace, 'plain');
      namespaceIsStandIn = true;
      void reloadProfiles();
      void get().refreshNamespaces();
      // The layout tab counts shards itself (the heatmap): a full stats listing beside it would double the work.
      if (tab === 'stats') void get().loadStats();
      if (tab === 'retention') void get().loadRetention();
    }

    const entryBlocks = blockLoader(api, get, set);

    /**
     * The list is fetched afresh: the same namespace keeps its sort, filter, selection and count until
     * main answers; another namespace or store (`plain`) starts plain. `refresh` has main list it again.
     * `changed` (this window stored into it) keeps the rows on show until main answers.
     */
    function resetEntries(namespace: string, how: 'keep' | 'changed' | 'refresh' | 'plain' = 'keep'): void {
      const { entries } = get();
      // Not the stand-in a page starts on (it may show another once the store's names come: refreshNamespaces).
      if (how === 'keep' && !listedAfresh.has(namespace) && !namespaceIsStandIn) how = 'refresh';
      if (how === 'refresh' || how === 'plain') listedAfresh.add(namespace); // 'plain': a store just opened lists afresh anyway
      if (how === 'changed' && entries.namespace === namespace && entries.status === 'ready') {
        // Stored into the list on show: its rows stay, said to be the last full listing (the count
        // hides), until main's answers replace them. Emptied at every store, a stream of them kept
        // the list blank, each answer arriving after the next store had moved on.
        set((s) => ({ entries: { ...s.entries, listing: s.entries.listing ?? { listed: s.entries.knownTotal ?? 0, waitsForAll: false, previous: true } } }));
        void entryBlocks.first(false);
        return;
      }
      const generation = entries.generation + 1;
      set({ entries: entries.namespace === namespace && how !== 'plain' ? { ...entries, blocks: {}, status: 'idle', generation } : emptyEntries(namespace, generation) });
      void entryBlocks.first(how === 'refresh');
    }

    return {
      capabilities: { status: 'idle' },
      profiles: { status: 'idle' },
      namespaces: { status: 'idle' },
      namespace: 'default',
      namespaceFilter: '',
      entries: emptyEntries('default'),
      lookupInput: '',
      lookedUp: '',
      lookupError: null,
      entry: { status: 'idle' },
      versions: { status: 'idle' },
      transfers: [],
      drops: [],
      stats: { status: 'idle' },
      keyInfo: { status: 'idle' },
      verify: { status: 'idle', checked: 0, listed: 0 },
      elsewhere: [],
      entryDeletion: null,
      retention: NO_RETENTION,
      tab: 'browse',
      theme: options.theme ?? 'system',
      notice: null,
      storeEpoch: 0,
      connecting: null,
      storeProblem: null,
      accessRefused: null,
      storeChoice: DEFAULT_CHOICE,

      init() {
        // The event stream, or a call this page did not make itself (the bridge client's own), heard it first.
        const offRefused = client.onRefused?.(refused);
        const off = client.onEvent((event) => {
          answered(); // the event stream is open again
          if (event.type === 'connected') {
            const shown = get().capabilities;
            const elsewhere = shown.status === 'ready' && (shown.data.profile !== event.capabilities.profile || shown.data.store !== event.capabilities.store);
            // Another window (or bridge tab) switched the store all windows share: this one follows, and says so.
            if (elsewhere && !get().connecting) {
              // Main stopped this page's verify and prune of the previous store before it switched (their
              // answers, cancelled, may come before this event or after it): said, not just cleared.
              const { verify, retention } = get();
              const stoppedBySwitch = (run: { status: string; error?: ErrorInfo }) => run.status === 'running' || (run.status === 'error' && run.error?.code === 'cancelled');
              const stopped = [
                ...(stoppedBySwitch(verify) ? [`the verify of ${verify.scope} this page ran was stopped after ${verify.checked.toLocaleString('en-US')} keys checked`] : []),
                ...(stoppedBySwitch(retention.prune) ? [`the prune of ${retention.prune.namespace} this page ran was stopped after ${retention.prune.done.toLocaleString('en-US')} versions (what it pruned stays pruned)`] : []),
              ];
              switched(event.capabilities);
              set({ notice: `Another window switched to ${event.capabilities.store}: every panel here now shows that store${stopped.length ? `; ${stopped.join('; ')}` : ''}.` });
              return;
            }
            set({ capabilities: { status: 'ready', data: event.capabilities } });
            return;
          }
          if (event.type === 'operations') return followOperations(event);
          if (event.type === 'entriesChanged') {
            // Null also when the page heard nothing for a while (the bridge's events reconnected): what runs may have changed too.
            if (event.namespace === null) void syncOperations();
            return changed(event.namespace);
          }
          const other = get().elsewhere.find((o) => o.id === event.transferId);
          if (other) {
            set((s) => ({ elsewhere: s.elsewhere.map((o) => (o === other ? { ...o, done: Math.max(o.done, event.bytesDone), total: event.totalBytes } : o)) }));
            return;
          }
          if (event.phase === 'verify') {
            if (event.transferId === get().verify.transferId && get().verify.status === 'running') {
              set((s) => ({ verify: { ...s.verify, checked: Math.max(s.verify.checked, event.bytesDone), listed: Math.max(s.verify.listed, event.totalBytes ?? 0), rehashing: event.rehashing } }));
            }
            return;
          }
          if (event.phase === 'delete') {
            const deletion = get().entryDeletion;
            if (event.transferId === deletion?.transferId) set({ entryDeletion: { ...deletion, settled: Math.max(deletion.settled, event.bytesDone), total: event.totalBytes ?? deletion.total } });
            return;
          }
          if (event.phase === 'prune') {
            if (event.transferId === get().retention.prune.transferId && get().retention.prune.status === 'running') {
              set((s) => ({ retention: { ...s.retention, prune: { ...s.retention.prune, done: Math.max(s.retention.prune.done, event.bytesDone), total: event.totalBytes, note: event.note } } }));
            }
            return;
          }
          if (drops.onProgress(event)) return;
          const id = event.transferId.slice(0, -1);
          updateTransfer(id, (t) => {
            // A late event of the hash (h) must not move the store's bar (s), nor the other way round.
            if (event.transferId !== `${id}${t.phase === 'hashing' ? 'h' : 's'}`) return {};
            const seconds = (Date.now() - t.phaseStartedAt) / 1000;
            return { bytesDone: event.bytesDone, rate: seconds > 0.05 ? event.bytesDone / seconds : t.rate };
          });
        });
        set({ capabilities: { status: 'loading' }, profiles: { status: 'loading' } });
        void api.capabilities({}).then((r) => set({ capabilities: settle(r) }));
        void syncOperations();
        void reloadProfiles();
        void get().refreshNamespaces();
        resetEntries(get().namespace);
        return () => {
          off();
          offRefused?.();
        };
      },

      async refreshNamespaces() {
        const epoch = get().storeEpoch;
        set((s) => ({ namespaces: { status: 'loading', data: 'data' in s.namespaces ? s.namespaces.data : undefined } }));
        // Names first (one listing), so the list shows at once; counts follow from a full listing.
        const counting = api.namespaces({});
        const names = await api.namespaceNames({});
        if (get().storeEpoch !== epoch) return;
        const current = get().namespaces;
        if (names.ok && current.status === 'loading') {
          const known = new Map((current.data ?? []).map((n) => [n.name, n]));
          const sorted = [...names.value.names].sort((a, b) => a.localeCompare(b));
          set({ namespaces: { status: 'loading', data: sorted.map((name) => known.get(name) ?? { name }) } });
          if (namespaceIsStandIn) {
            // The namespace last open in this store, else the one open before, else default (as at start), else the first.
            const reopened = [rememberedNamespace(), get().namespace, 'default'].find((name) => name !== null && sorted.includes(name));
            if (reopened !== get().namespace) get().selectNamespace(reopened ?? sorted[0] ?? 'default');
            else if (!listedAfresh.has(reopened)) resetEntries(reopened, 'refresh'); // the stand-in stays: its first view, listed afresh
          }
        }
        if (names.ok) namespaceIsStandIn = false;
        const result = await counting;
        if (get().storeEpoch !== epoch) return;
        set({ namespaces: result.ok ? { status: 'ready', data: [...result.value.namespaces].sort((a, b) => a.name.localeCompare(b.name)) } : { status: 'error', error: result.error } });
      },

      selectNamespace(namespace) {
        namespaceIsStandIn = false;
        rememberNamespace(namespace);
        if (namespace === get().namespace) return;
        set((s) => ({ namespace, entry: { status: 'idle' }, versions: { status: 'idle' }, stats: { status: 'idle' }, keyInfo: { status: 'idle' }, lookupError: null, retention: { ...NO_RETENTION, prune: s.retention.prune.status === 'running' ? s.retention.prune : NO_RETENTION.prune } }));
        resetEntries(namespace);
        if (get().tab === 'stats') void get().loadStats();
        if (get().tab === 'retention') void get().loadRetention();
      },

      setNamespaceFilter: (namespaceFilter) => set({ namespaceFilter }),

      async loadEntryRange(first, last) {
        await entryBlocks.loadRange(first, last);
      },

      setEntryQuery(change) {
        set((s) => ({ entries: { ...s.entries, ...change, selection: { all: false, hashes: [] } } }));
        resetEntries(get().entries.namespace);
      },

      locateEntry: (hash) => entryBlocks.locate(hash),

      async selectEntryRange(from, to) {
        const [first, last] = from <= to ? [from, to] : [to, from];
        if (last - first + 1 > MAX_PICKED) return set({ notice: `At most ${formatCount(MAX_PICKED)} entries can be picked as a range: Ctrl+A selects every entry the filter shows` });
        await entryBlocks.loadRange(first, last);
        const { entries } = get();
        const hashes = Array.from({ length: last - first + 1 }, (_, i) => rowAt(entries, first + i)?.hash).filter((h): h is string => h !== undefined);
        set({ entries: { ...entries, selection: { all: false, hashes } } });
      },

      setEntrySelection: (selection) => set((s) => ({ entries: { ...s.entries, selection } })),

      // Changes made by other programs: the namespace's counts and heatmap are read again with its list.
      refreshEntries: ({ counted = false } = {}) => {
        const { namespace } = get().entries;
        resetEntries(namespace, 'refresh');
        if (!counted) recount(namespace);
        get().forgetHeatmap(namespace);
      },

      async deleteSelectedEntries() {
        const { entries, storeEpoch, entry, lookedUp } = get();
        const selection = selectionOf(entries);
        if (!selection || get().entryDeletion) return;
        const transferId = newId();
        set({ entryDeletion: { transferId, namespace: entries.namespace, settled: 0, total: null } });
        const result = await api.deleteEntries({ namespace: entries.namespace, selection, transferId }).finally(() => get().entryDeletion?.transferId === transferId && set({ entryDeletion: null }));
        if (get().storeEpoch !== storeEpoch) return;
        // Stopped part-way, main says how many went and how many are kept.
        const failed = (error: ErrorInfo) => (error.code === 'cancelled' ? `Deleting in namespace ${entries.namespace} ${error.message}` : `Nothing was deleted: ${error.message}`);
        set((s) => ({ notice: result.ok ? bulkSummary('Deleted', result.value, `from namespace ${entries.namespace}`) : failed(result.error), entries: { ...s.entries, selection: { all: false, hashes: [] } } }));
        resetEntries(entries.namespace, 'refresh'); // this window's change: listed at once, not paced
        recount(entries.namespace);
        get().forgetHeatmap(entries.namespace);
        // The entry on show may be gone: looked up again, it goes from the panel as after a single
        // delete (not "Nothing found" beside "Deleted 10 entries").
        if (entry.status !== 'ready' || entry.data.record.namespace !== entries.namespace) return;
        const { hash } = entry.data.record;
        const still = await api.entry({ namespace: entries.namespace, ref: hash });
        // The panel may have followed main's news of the delete to this entry's own miss: that goes too.
        const shown = get().entry;
        const followedToMiss = shown.status === 'error' && shown.error.code === 'not_found' && get().lookedUp === lookedUp;
        if (get().storeEpoch !== storeEpoch || (shown !== entry && !followedToMiss)) return; // the operator moved on meanwhile
        if (!still.ok && still.error.code === 'not_found') set({ entry: { status: 'idle' }, versions: { status: 'idle' } });
        else await get().lookup(hash);
      },

      async stopEntryDeletion() {
        const deletion = get().entryDeletion;
        if (!deletion) return true;
        const asked = await client.cancel(deletion.transferId);
        if (!asked.ok) set({ notice: `Could not stop deleting: ${asked.error.message}` });
        return asked.ok;
      },

      async stopElsewhere(id) {
        const operation = get().elsewhere.find((o) => o.id === id);
        if (!operation || operation.stopping) return;
        set((s) => ({ elsewhere: s.elsewhere.map((o) => (o.id === id ? { ...o, stopping: true } : o)) }));
        // How it ended comes with main's list of what runs (the notice says it); only a refusal is said here.
        const asked = await client.cancel(id);
        if (asked.ok) return;
        set((s) => ({ notice: `Could not stop ${describeOperation(operation).title.toLowerCase()}: ${asked.error.message}`, elsewhere: s.elsewhere.map((o) => (o.id === id ? { ...o, stopping: false } : o)) }));
      },

      async saveSelectedEntries(includeExpired) {
        const { entries } = get();
        const selection = selectionOf(entries);
        if (!selection) return;
        const result = await client.saveEntries(entries.namespace, selection, includeExpired);
        if (!result.ok) return set({ notice: `Nothing was saved: ${result.error.message}` });
        const { value } = result;
        // The bridge streams a download: how many go into it only its summary can say, so no number is claimed.
        if (value === 'download') {
          const left = `${includeExpired ? '' : 'expired, '}missing or corrupt`;
          // Content over CHECKED_WHOLE_BYTES streams unchecked into its member: found corrupt at its end, it can only cut the download.
          return set({
            notice: `Downloading a tar file of the ${counted(selectedCount(entries), 'entry', 'entries')} picked: any ${left} are left out, and named in its cache-admin-summary.json; content over 16 MiB found corrupt as it is sent stops the download, which the browser then shows as failed`,
          });
        }
        set({ notice: value.folder === null ? null : bulkSummary('Saved', value, `of namespace ${entries.namespace} into ${value.folder}`) });
      },

      // The error was about the text it replaces: it goes as the operator edits (it stayed above every tab until the next lookup).
      setLookupInput: (lookupInput) => set({ lookupInput, lookupError: null }),

      async lookup(input = get().lookupInput) {
        const target = parseLookup(input);
        if (!target.ok) {
          lookupsStarted++;
          set({ lookupError: target.message, entry: { status: 'idle' }, versions: { status: 'idle' } });
          return;
        }
        const { storeEpoch, namespace: from } = get();
        const namespace = target.namespace ?? from;
        const asked = ++lookupsStarted;
        const current = () => asked === lookupsStarted && get().storeEpoch === storeEpoch && get().namespace === from; // else the operator moved on meanwhile
        // Shown where the entry panel is (a miss too): Layout opens its tree at the entry; from any other tab it was hidden.
        set({ lookupInput: input, lookedUp: input, lookupError: null, entry: { status: 'loading' }, tab: get().tab === 'layout' ? 'layout' : 'browse' });
        // Main parses the input in the open layout; the versions follow from the hash it found.
        const entry = await api.entry({ namespace, ref: target.ref });
        if (!current()) return;
        if (!entry.ok) {
          if (REFUSED_INPUT.has(entry.error.code)) return set({ lookupError: entry.error.message, entry: { status: 'idle' }, versions: { status: 'idle' } });
          const failed = { entry: { status: 'error' as const, error: entry.error }, versions: get().versions, lookedUp: input };
          if (unopenedVersion(failed)) return set({ entry: failed.entry });
          set({ entry: failed.entry, versions: { status: 'idle' } });
          // A hash whose newest record is damaged or gone keeps its versions in reach: the others open
          // from the list, and the broken one, picked there, offers its delete.
          const { code } = entry.error;
          if (code !== 'corrupt' && code !== 'not_found') return;
          const hash = await missedHash(target.ref, target.namespace !== undefined, code);
          if (!hash || !current()) return;
          const listed = await api.versions({ namespace, hash });
          if (!current()) return;
          const found = listed.ok && listed.value.versions.length > 0;
          // A storage key of a damaged entry (or one with versions) moves to its namespace, as a healthy one does: the entry is there.
          if (namespace !== from && (found || code === 'corrupt')) {
            get().selectNamespace(namespace);
            set({ entry: failed.entry });
          }
          if (found) set({ versions: { status: 'ready', data: listed.value } });
          return;
        }
        const versions = await api.versions({ namespace, hash: entry.value.record.hash });
        if (!current()) return;
        // A storage key moves to its namespace only when the entry is there: no namespace appears from a typo.
        if (namespace !== from) get().selectNamespace(namespace);
        set({ entry: settle(entry), versions: versions.ok ? { status: 'ready', data: versions.value } : { status: 'error', error: versions.error } });
      },

      clearLookup: () => {
        lookupsStarted++;
        set({ lookupInput: '', lookedUp: '', lookupError: null, entry: { status: 'idle' }, versions: { status: 'idle' } });
      },

      async storeFiles(dropped) {
        const { namespace, storeProblem, accessRefused, storeChoice, capabilities } = get();
        if (accessRefused) {
          set({ notice: `Nothing was stored: ${accessRefused.message}.` });
          return;
        }
        if (storeProblem) {
          set({ notice: `Nothing was stored: ${storeName()} is missing or unreachable (${storeProblem.message}). Reconnect, or pick another store.` });
          return;
        }
        if (capabilities.status === 'ready' && capabilities.data.readOnly) {
          set({ notice: `Nothing was stored: ${capabilities.data.store} is open read-only (its credentials may read but not write).` });
          return;
        }
        const store = storeName();
        // Fixed with the drop, as its namespace is: a store switched since (from any window) refuses it.
        const choice = { ...storeChoice, ...(capabilities.status === 'ready' && { opened: capabilities.data.opened }) };
        if (isBulkDrop(dropped)) return drops.start(dropped, { namespace, store, choice });
        const added: Transfer[] = dropped.map((file) => {
          const id = newId();
          files.set(id, file);
          queue.push(id);
          return { id, name: file.webkitRelativePath || file.name, namespace, store, choice, size: file.size, phase: 'queued', bytesDone: 0, rate: 0, phaseStartedAt: Date.now() };
        });
        set((s) => ({ transfers: [...added, ...s.transfers] }));
        pump();
      },

      async cancelTransfer(id) {
        const transfer = get().transfers.find((t) => t.id === id);
        if (!transfer || !ACTIVE_PHASES.includes(transfer.phase) || transfer.cancelling) return;
        const queued = queue.indexOf(id);
        if (queued >= 0) {
          queue.splice(queued, 1); // never sent: nothing can have been stored
          updateTransfer(id, { phase: 'cancelled' });
          return;
        }
        updateTransfer(id, { cancelling: true });
        // Main answers once the transfer has ended: stopped before commit, stored first, or failed
        // (its own answer says how). While hashing, the store is cancelled too: it is then never sent.
        // Once storing, only the store is asked: a hash never sent would answer "cancelled" for it.
        const sent = transfer.phase === 'hashing' ? [`${id}h`, `${id}s`] : [`${id}s`];
        const outcomes = await Promise.all(sent.map((transferId) => client.cancel(transferId)));
        const stored = outcomes.find((o) => o.ok && o.value.stored);
        if (stored?.ok && stored.value.stored) recordStored(id, stored.value.stored);
        else if (outcomes.every((o) => o.ok) && outcomes.some((o) => o.ok && o.value.cancelled)) finish(id, { code: 'cancelled', message: 'nothing was stored' });
      },

      async cancelAll() {
        await Promise.all([...get().transfers.map((t) => get().cancelTransfer(t.id)), ...get().drops.map((d) => drops.cancel(d.id))]);
      },

      cancelDrop: (id) => drops.cancel(id),
      retryFailed: (id) => drops.retryFailed(id),

      clearFinished: () => {
        const finished = new Set(get().drops.filter((d) => d.status === 'done' || d.status === 'cancelled').map((d) => d.id));
        drops.forget(finished);
        set((s) => ({ transfers: s.transfers.filter((t) => ACTIVE_PHASES.includes(t.phase)), drops: s.drops.filter((d) => !finished.has(d.id)) }));
      },

      async connect(profileId) {
        // Transfers are fixed to the store they were dropped on: never let one land in another; work under way is not stopped unasked.
        const busy = busyWork();
        if (busy) return busy;
        const { profiles } = get();
        const name = (profiles.status === 'ready' && profiles.data.profiles.find((p) => p.id === profileId)?.name) || profileId;
        const result = await connecting(name, (attemptId) => client.api.connect({ id: profileId, attemptId }), (capabilities) => capabilities);
        return result.ok ? null : result.error;
      },

      async cancelConnect() {
        const attempt = get().connecting;
        if (attempt) await client.cancel(attempt.attemptId);
      },

      async saveProfile(input) {
        const busy = busyWork();
        if (busy) return busy;
        const saved = await connecting(input.profile.name, (attemptId) => client.api.saveProfile({ ...input, attemptId }), (value) => value.capabilities);
        if (saved.ok) return null;
        // A profile refused as it was typed says why; one that did not connect says so.
        return REFUSED_INPUT.has(saved.error.code) ? saved.error : { code: saved.error.code, message: `Could not connect: ${saved.error.message}` };
      },

      async checkNamespace(name) {
        const result = await api.checkNamespace({ namespace: name });
        return result.ok ? null : result.error;
      },

      setStoreChoice: (storeChoice) => set({ storeChoice }),

      async removeProfile(profileId) {
        const result = await client.api.removeProfile({ id: profileId });
        if (result.ok) await reloadProfiles();
        return result;
      },

      async loadStats({ quiet = false } = {}) {
        const { namespace, storeEpoch } = get();
        const asked = ++statsAsked;
        if (!quiet) set({ stats: { status: 'loading' } });
        const result = await api.stats({ namespace });
        // Only the newest read is shown: a slower older one (a quiet follow) would put back counts before a change.
        if (asked === statsAsked && get().namespace === namespace && get().storeEpoch === storeEpoch) set({ stats: settle(result) });
      },

      async describeKey(key) {
        const { storeEpoch, namespace } = get();
        set({ keyInfo: { status: 'loading' } });
        const result = await api.describeKey({ key });
        if (get().storeEpoch === storeEpoch && get().namespace === namespace) set({ keyInfo: settle(result) });
      },

      async runVerify({ wholeStore, sample, repair }) {
        const transferId = newId();
        const namespace = wholeStore ? undefined : get().namespace;
        set({ verify: { status: 'running', checked: 0, listed: 0, transferId, scope: namespace ?? 'the whole store' } });
        const result = await api.verify({ namespace, sample, repair, transferId });
        if (get().verify.transferId !== transferId) return;
        set((s) => ({ verify: result.ok ? { ...s.verify, status: 'done', report: result.value, checked: result.value.checked } : { ...s.verify, status: 'error', error: result.error } }));
        if (repair && result.ok) changed(namespace ?? null);
      },

      async cancelVerify() {
        const { transferId, status } = get().verify;
        if (transferId && status === 'running') await client.cancel(transferId);
      },

      async loadRetention() {
        const { namespace, storeEpoch } = get();
        const current = () => get().namespace === namespace && get().storeEpoch === storeEpoch;
        set((s) => ({ retention: { ...s.retention, policy: { status: 'loading' }, plan: { status: 'loading' } } }));
        const [policy, plan] = await Promise.all([api.policy({}), api.prunePlan({ namespace })]);
        if (current()) set((s) => ({ retention: { ...s.retention, policy: settle(policy), plan: settle(plan) } }));
      },

      async setPolicy({ scope, ttl, keepVersions }) {
        const { namespace } = get();
        const result = await api.setPolicy({ namespace: scope === 'namespace' ? namespace : undefined, ttl, keepVersions });
        if (!result.ok) return result.error;
        // What is expired now, and the badges of what is shown (the list's too), follow the new rule;
        // a finished prune's result was about the plan before it.
        resetEntries(get().entries.namespace);
        if (get().retention.prune.status !== 'running') set((s) => ({ retention: { ...s.retention, prune: NO_RETENTION.prune } }));
        await get().loadRetention();
        // The entry on show read again (expired or not now), where it is: a lookup would move the operator to Browse.
        const { entry } = get();
        if (entry.status === 'ready' && entry.data.record.namespace === namespace) await reloadShownEntry();
        return null;
      },

      async runPrune() {
        const { namespace, storeEpoch, retention } = get();
        // The plan shown is the one confirmed: main prunes its versions only.
        if (retention.prune.status === 'running' || retention.plan.status !== 'ready') return;
        const { planId } = retention.plan.data;
        const transferId = newId();
        set((s) => ({ retention: { ...s.retention, prune: { status: 'running', done: 0, transferId, namespace } } }));
        const result = await api.prune({ namespace, transferId, planId });
        if (get().storeEpoch !== storeEpoch || get().retention.prune.transferId !== transferId) return;
        set((s) => ({ retention: { ...s.retention, prune: result.ok ? { ...s.retention.prune, status: 'done', result: result.value, done: result.value.pruned } : { ...s.retention.prune, status: 'error', error: result.error } } }));
        // Cancelled part-way too: some versions may be gone, so every count and list is read again.
        recount(namespace);
        if (get().entries.namespace === namespace) resetEntries(namespace, 'refresh'); // this window's change: listed at once, not paced
        get().forgetHeatmap(namespace);
        if (get().namespace === namespace) {
          set({ entry: { status: 'idle' }, versions: { status: 'idle' } });
          await get().loadRetention();
        }
      },

      async cancelPrune() {
        const { transferId, status } = get().retention.prune;
        if (transferId && status === 'running') await client.cancel(transferId);
      },

      async showExpiredAnyway() {
        const { entry, namespace, storeEpoch } = get();
        if (entry.status !== 'ready') return;
        const result = await api.entry({ namespace, ref: entry.data.record.cache_id, allowExpired: true });
        if (get().storeEpoch === storeEpoch && get().entry === entry) set({ entry: settle(result) });
      },

      async saveEntry() {
        const { entry, namespace } = get();
        if (entry.status !== 'ready') return;
        const { cache_id } = entry.data.record;
        // An expired version shown anyway (no longer withheld) is saved anyway too.
        const result = await client.saveEntry(namespace, cache_id, entry.data.expired && !entry.data.withheld);
        if (!result.ok && result.error.code === 'corrupt') {
          // Say so where the entry is shown too: its content must not be trusted.
          set((s) => ({ notice: `Nothing was saved: ${result.error.message}`, entry: s.entry.status === 'ready' && s.entry.data.record.cache_id === cache_id ? { status: 'ready', data: { ...s.entry.data, preview: '', previewVerified: false, contentProblem: 'corrupt' } } : s.entry }));
          return;
        }
        if (!result.ok) {
          set({ notice: `Could not save: ${result.error.message}` });
          if (result.error.code === 'not_found') changed(namespace); // gone, or its content lost, since it was shown: the panel follows the store
          return;
        }
        const { saved, path } = result.value;
        // Main wrote the file (the desktop app), or the browser downloads it (the bridge) and shows how that ends.
        set({ notice: !saved ? null : path ? `Saved ${cache_id} to ${path}` : `Downloading ${cache_id}: the browser shows how the download ends` });
      },

      async deleteEntry(scope) {
        const { entry, versions, namespace, storeEpoch } = get();
        const unopened = unopenedVersion(get());
        const unversioned = unversionedContent(get());
        const target =
          entry.status === 'ready' ? entry.data.record : unopened && versions.status === 'ready' ? { hash: versions.data.hash, cache_id: unopened.cache_id } : unversioned && { hash: unversioned.hash, cache_id: unversioned.hash };
        if (!target) return;
        const { hash, cache_id } = target;
        // All versions: those on show, and no other (main refuses if one was stored or deleted since).
        const shownVersions = versions.status === 'ready' ? versions.data.versions : [];
        const newest = shownVersions[shownVersions.length - 1];
        const shown = newest && { versions: shownVersions.length, version: newest.version, storedAt: newest.stored_at };
        if (scope === 'all' && !shown) return;
        const result = await api.delete(unversioned ? { namespace, ref: hash, unversioned: true } : scope === 'all' ? { namespace, ref: hash, shown } : { namespace, ref: cache_id });
        if (get().storeEpoch !== storeEpoch) return;
        if (!result.ok) {
          set({ notice: `Could not delete: ${result.error.message}` });
          // Gone already, or changed by another program since it was shown: the entry, list and counts follow the store.
          if (result.error.code === 'not_found' || result.error.code === 'conflict') changed(namespace);
          // The versions on show too, where no entry opened (a damaged one picked): else "Delete all N" asked about the old N again.
          if (result.error.code === 'conflict' && scope === 'all' && entry.status !== 'ready') {
            const listed = await api.versions({ namespace, hash });
            if (get().storeEpoch === storeEpoch && listed.ok) set({ versions: { status: 'ready', data: listed.value } });
          }
          return;
        }
        const { deleted, contentRemoved, bytesFreed } = result.value;
        const freed = bytesFreed > 0 ? `, ${formatBytes(bytesFreed)} freed` : '';
        const notice =
          deleted.length === 0 ? `Deleted the content of ${hash}, which no version used${freed}` : `Deleted ${deleted.join(', ')}: ${contentRemoved ? 'no version of it is left' : 'the other versions stay'}${freed}`;
        set({ notice });
        resetEntries(namespace, 'refresh'); // this window's change: listed at once, not paced
        recount(namespace);
        get().forgetHeatmap(namespace);
        if (contentRemoved) {
          // The entry is gone: it leaves the selection too (else a bulk Delete… offered it, and deleted nothing).
          set((s) => ({ entry: { status: 'idle' }, versions: { status: 'idle' }, entries: { ...s.entries, selection: { ...s.entries.selection, hashes: s.entries.selection.hashes.filter((h) => h !== hash) } } }));
          return;
        }
        await get().lookup(hash); // the latest remaining version
        // A layout that numbers versions by position (the service's) moves the later ones down: the
        // operator about to act on "v3" is told it is v2 now.
        const after = get().versions;
        if (versions.status !== 'ready' || after.status !== 'ready' || get().notice !== notice) return;
        const renumbered = after.data.versions.flatMap((v) => {
          const was = versions.data.versions.find((old) => old.cache_id === v.cache_id)?.version;
          return was !== undefined && was !== v.version ? [`v${was} is now v${v.version}`] : [];
        });
        if (renumbered.length > 0) set({ notice: `${notice}, numbered anew: ${renumbered.slice(0, 3).join(', ')}${renumbered.length > 3 ? ', …' : ''}` });
      },

      setTab(tab) {
        set({ tab });
        if (tab === 'stats' && get().stats.status === 'idle') void get().loadStats();
        if (tab === 'retention') void get().loadRetention();
      },

      setTheme: (theme) => set({ theme }),
      notify: (notice) => set({ notice }),
      ...heatmapSlice(set, get, api),
    };
  });
  return store;
}
