import { createStore, type StoreApi } from 'zustand/vanilla';
import type {
  Capabilities,
  EntryListItem,
  EntryView,
  KeyInfo,
  MethodResults,
  NamespaceCounts,
  NamespaceStatsView,
  ProfilesView,
  Result,
  StoredEntry,
  VerifyResult,
  VersionItem,
} from '../../src-shared/contract';
import type { ErrorInfo } from '../../src-shared/errors';
import type { CacheAdminClient } from '../api/client';
import { counted } from '../lib/format';
import { parseLookup } from '../lib/lookup';

export type Load<T> = { status: 'idle' } | { status: 'loading'; data?: T } | { status: 'ready'; data: T } | { status: 'error'; error: ErrorInfo; data?: T };

export interface Transfer {
  id: string;
  name: string;
  /** Where the drop goes, fixed when it was dropped: later clicks never move it. */
  namespace: string;
  /** The store (profile name) that was connected when it was dropped. */
  store: string;
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

export type NamespaceRow = { name: string } & Partial<Omit<NamespaceCounts, 'name'>>;

export interface EntriesList {
  namespace: string;
  items: EntryListItem[];
  cursor?: string;
  done: boolean;
  status: 'idle' | 'loading' | 'ready' | 'error';
  error?: ErrorInfo;
}

export type Tab = 'browse' | 'layout' | 'stats' | 'verify';

export interface VerifyRun {
  status: 'idle' | 'running' | 'done' | 'error';
  checked: number;
  transferId?: string;
  scope?: string;
  report?: VerifyResult;
  error?: ErrorInfo;
}
export type Theme = 'system' | 'light' | 'dark';

export interface AppState {
  capabilities: Load<Capabilities>;
  profiles: Load<ProfilesView>;
  /** While counts load, rows carry only a name. */
  namespaces: Load<NamespaceRow[]>;
  namespace: string;
  namespaceFilter: string;
  entries: EntriesList;
  lookupInput: string;
  lookupError: string | null;
  entry: Load<EntryView>;
  versions: Load<{ hash: string; versions: VersionItem[] }>;
  transfers: Transfer[];
  stats: Load<NamespaceStatsView>;
  keyInfo: Load<KeyInfo>;
  verify: VerifyRun;
  tab: Tab;
  theme: Theme;
  notice: string | null;
  /** Bumped on every store switch; answers to requests from an older epoch are dropped. */
  storeEpoch: number;
}

export interface AppActions {
  init(): () => void;
  refreshNamespaces(): Promise<void>;
  selectNamespace(namespace: string): void;
  setNamespaceFilter(filter: string): void;
  loadMoreEntries(): Promise<void>;
  setLookupInput(input: string): void;
  lookup(input?: string): Promise<void>;
  clearLookup(): void;
  storeFiles(files: File[]): Promise<void>;
  cancelTransfer(id: string): Promise<void>;
  cancelAll(): Promise<void>;
  clearFinished(): void;
  /** Switches store; on failure nothing changes and the error is returned (the caller shows it). */
  connect(profileId: string): Promise<ErrorInfo | null>;
  /** Saves a profile and connects to it; a new profile that cannot connect is not kept. Resolves with why it failed, or null. */
  addProfile(input: Parameters<CacheAdminClient['api']['saveProfile']>[0]): Promise<ErrorInfo | null>;
  removeProfile(profileId: string): Promise<Result<MethodResults['removeProfile']>>;
  loadStats(): Promise<void>;
  describeKey(key: string): Promise<void>;
  runVerify(options: { wholeStore: boolean; sample?: number; repair: boolean }): Promise<void>;
  cancelVerify(): Promise<void>;
  saveEntry(): Promise<void>;
  /** Deletes the shown version, or every version of its hash; the bytes go with the last one. */
  deleteEntry(scope: 'version' | 'all'): Promise<void>;
  setTab(tab: Tab): void;
  setTheme(theme: Theme): void;
  notify(message: string | null): void;
}

export type AppStore = StoreApi<AppState & AppActions>;

const ENTRY_PAGE = 1000;
/** Lookup answers that mean the input itself was not understood: shown under the lookup box. */
const REFUSED_INPUT = new Set(['invalid_hash', 'invalid_cache_id', 'invalid_key', 'invalid_namespace', 'invalid_input']);
export const ACTIVE_PHASES: Transfer['phase'][] = ['queued', 'hashing', 'storing'];
/** Files hashed and stored at once: enough to overlap, few enough to keep the UI responsive. */
const TRANSFER_CONCURRENCY = 3;

function settle<T>(result: Result<T>): Load<T> {
  return result.ok ? { status: 'ready', data: result.value } : { status: 'error', error: result.error };
}

function newId(): string {
  return crypto.randomUUID().replace(/-/g, '');
}

export function createAppStore(client: CacheAdminClient, options: { theme?: Theme } = {}): AppStore {
  const store = createStore<AppState & AppActions>()((set, get) => {
    const updateTransfer = (id: string, change: Partial<Transfer> | ((t: Transfer) => Partial<Transfer>)) =>
      set((s) => ({ transfers: s.transfers.map((t) => (t.id === id ? { ...t, ...(typeof change === 'function' ? change(t) : change) } : t)) }));
    const queue: string[] = [];
    const files = new Map<string, File>();
    let running = 0;
    let entriesRequest = 0;

    async function runTransfer(id: string): Promise<void> {
      const file = files.get(id);
      const transfer = get().transfers.find((t) => t.id === id);
      if (!file || transfer?.phase !== 'queued') return;
      const { namespace } = transfer;
      updateTransfer(id, { phase: 'hashing', phaseStartedAt: Date.now(), bytesDone: 0 });
      const hashed = await client.hashFile(file, namespace, `${id}h`);
      if (!hashed.ok) return finish(id, hashed.error);
      updateTransfer(id, { existing: hashed.value.existing, phase: 'storing', phaseStartedAt: Date.now(), bytesDone: 0, rate: 0 });
      const stored = await client.storeFile(file, namespace, `${id}s`);
      if (!stored.ok) return finish(id, stored.error);
      updateTransfer(id, { phase: 'done', result: stored.value, bytesDone: stored.value.size });
      void get().refreshNamespaces();
      if (get().entries.namespace === namespace) resetEntries(namespace);
    }

    function finish(id: string, error: ErrorInfo): void {
      updateTransfer(id, (t) => (t.phase === 'cancelled' ? {} : error.code === 'cancelled' ? { phase: 'cancelled' } : { phase: 'failed', error }));
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

    function resetEntries(namespace: string): void {
      entriesRequest++;
      set({ entries: { namespace, items: [], done: false, status: 'idle' } });
      void get().loadMoreEntries();
    }

    return {
      capabilities: { status: 'idle' },
      profiles: { status: 'idle' },
      namespaces: { status: 'idle' },
      namespace: 'default',
      namespaceFilter: '',
      entries: { namespace: 'default', items: [], done: false, status: 'idle' },
      lookupInput: '',
      lookupError: null,
      entry: { status: 'idle' },
      versions: { status: 'idle' },
      transfers: [],
      stats: { status: 'idle' },
      keyInfo: { status: 'idle' },
      verify: { status: 'idle', checked: 0 },
      tab: 'browse',
      theme: options.theme ?? 'system',
      notice: null,
      storeEpoch: 0,

      init() {
        const off = client.onEvent((event) => {
          if (event.type === 'connected') {
            set({ capabilities: { status: 'ready', data: event.capabilities } });
            return;
          }
          if (event.phase === 'verify') {
            if (event.transferId === get().verify.transferId && get().verify.status === 'running') set((s) => ({ verify: { ...s.verify, checked: Math.max(s.verify.checked, event.bytesDone) } }));
            return;
          }
          const id = event.transferId.slice(0, -1);
          updateTransfer(id, (t) => {
            const seconds = (Date.now() - t.phaseStartedAt) / 1000;
            return { bytesDone: event.bytesDone, rate: seconds > 0.05 ? event.bytesDone / seconds : t.rate };
          });
        });
        set({ capabilities: { status: 'loading' }, profiles: { status: 'loading' } });
        void client.api.capabilities({}).then((r) => set({ capabilities: settle(r) }));
        void reloadProfiles();
        void get().refreshNamespaces();
        resetEntries(get().namespace);
        return off;
      },

      async refreshNamespaces() {
        const epoch = get().storeEpoch;
        set((s) => ({ namespaces: { status: 'loading', data: 'data' in s.namespaces ? s.namespaces.data : undefined } }));
        // Names first (one listing), so the list shows at once; counts follow from a full listing.
        const counting = client.api.namespaces({});
        const names = await client.api.namespaceNames({});
        if (get().storeEpoch !== epoch) return;
        const current = get().namespaces;
        if (names.ok && current.status === 'loading') {
          const known = new Map((current.data ?? []).map((n) => [n.name, n]));
          set({ namespaces: { status: 'loading', data: names.value.names.map((name) => known.get(name) ?? { name }).sort((a, b) => a.name.localeCompare(b.name)) } });
        }
        const result = await counting;
        if (get().storeEpoch !== epoch) return;
        set({ namespaces: result.ok ? { status: 'ready', data: [...result.value.namespaces].sort((a, b) => a.name.localeCompare(b.name)) } : { status: 'error', error: result.error } });
      },

      selectNamespace(namespace) {
        if (namespace === get().namespace) return;
        set({ namespace, entry: { status: 'idle' }, versions: { status: 'idle' }, stats: { status: 'idle' }, lookupError: null });
        resetEntries(namespace);
        if (get().tab === 'layout' || get().tab === 'stats') void get().loadStats();
      },

      setNamespaceFilter: (namespaceFilter) => set({ namespaceFilter }),

      async loadMoreEntries() {
        const { entries } = get();
        if (entries.status === 'loading' || entries.done) return;
        const request = entriesRequest;
        set({ entries: { ...entries, status: 'loading' } });
        // Pages of keys hold several keys per entry: keep reading until a page has entries or the end.
        let cursor = entries.cursor;
        const items: EntryListItem[] = [];
        let result;
        do {
          result = await client.api.entries({ namespace: entries.namespace, cursor, limit: ENTRY_PAGE });
          if (request !== entriesRequest) return; // the namespace changed meanwhile
          if (!result.ok) break;
          items.push(...result.value.entries);
          cursor = result.value.cursor;
        } while (items.length === 0 && cursor);
        const current = get().entries;
        if (!result.ok) set({ entries: { ...current, status: 'error', error: result.error } });
        else set({ entries: { ...current, items: [...current.items, ...items], cursor, done: cursor === undefined, status: 'ready' } });
      },

      setLookupInput: (lookupInput) => set({ lookupInput }),

      async lookup(input = get().lookupInput) {
        const target = parseLookup(input);
        if (!target.ok) {
          set({ lookupError: target.message, entry: { status: 'idle' }, versions: { status: 'idle' } });
          return;
        }
        const { storeEpoch, namespace: from } = get();
        const namespace = target.namespace ?? from;
        const current = () => get().storeEpoch === storeEpoch && get().namespace === from; // else the operator moved on meanwhile
        set({ lookupInput: input, lookupError: null, entry: { status: 'loading' }, tab: get().tab === 'stats' ? 'browse' : get().tab });
        // Main parses the input in the open layout; the versions follow from the hash it found.
        const entry = await client.api.entry({ namespace, ref: target.ref });
        if (!current()) return;
        if (!entry.ok) {
          if (REFUSED_INPUT.has(entry.error.code)) return set({ lookupError: entry.error.message, entry: { status: 'idle' }, versions: { status: 'idle' } });
          return set({ entry: settle(entry), versions: { status: 'idle' } });
        }
        const versions = await client.api.versions({ namespace, hash: entry.value.record.hash });
        if (!current()) return;
        // A storage key moves to its namespace only when the entry is there: no namespace appears from a typo.
        if (namespace !== from) get().selectNamespace(namespace);
        set({ entry: settle(entry), versions: versions.ok ? { status: 'ready', data: versions.value } : { status: 'error', error: versions.error } });
      },

      clearLookup: () => set({ lookupInput: '', lookupError: null, entry: { status: 'idle' }, versions: { status: 'idle' } }),

      async storeFiles(dropped) {
        const { namespace } = get();
        const store = storeName();
        const added: Transfer[] = dropped.map((file) => {
          const id = newId();
          files.set(id, file);
          queue.push(id);
          return { id, name: file.webkitRelativePath || file.name, namespace, store, size: file.size, phase: 'queued', bytesDone: 0, rate: 0, phaseStartedAt: Date.now() };
        });
        set((s) => ({ transfers: [...added, ...s.transfers] }));
        pump();
      },

      async cancelTransfer(id) {
        const transfer = get().transfers.find((t) => t.id === id);
        if (!transfer || transfer.phase === 'done' || transfer.phase === 'failed' || transfer.phase === 'cancelled') return;
        updateTransfer(id, { phase: 'cancelled' });
        const queued = queue.indexOf(id);
        if (queued >= 0) queue.splice(queued, 1);
        await Promise.all([client.cancel(`${id}h`), client.cancel(`${id}s`)]);
      },

      async cancelAll() {
        await Promise.all(get().transfers.map((t) => get().cancelTransfer(t.id)));
      },

      clearFinished: () => set((s) => ({ transfers: s.transfers.filter((t) => ACTIVE_PHASES.includes(t.phase)) })),

      async connect(profileId) {
        // Transfers are fixed to the store they were dropped on: never let one land in another.
        const busy = get().transfers.filter((t) => ACTIVE_PHASES.includes(t.phase)).length;
        if (busy) return { code: 'conflict', message: `${counted(busy, 'transfer is', 'transfers are')} still going into ${storeName()}: let them finish or cancel them before switching store` };
        const result = await client.api.connect({ id: profileId });
        if (!result.ok) return result.error;
        const { verify, tab } = get();
        if (verify.status === 'running' && verify.transferId) void client.cancel(verify.transferId);
        // Every panel of the previous store goes at once; answers still on their way from it are dropped.
        set((s) => ({
          storeEpoch: s.storeEpoch + 1,
          capabilities: { status: 'ready', data: result.value },
          namespaces: { status: 'loading' },
          lookupError: null,
          entry: { status: 'idle' },
          versions: { status: 'idle' },
          stats: { status: 'idle' },
          keyInfo: { status: 'idle' },
          verify: { status: 'idle', checked: 0 },
        }));
        resetEntries(get().namespace);
        void reloadProfiles();
        void get().refreshNamespaces();
        if (tab === 'layout' || tab === 'stats') void get().loadStats();
        return null;
      },

      async addProfile(input) {
        const { profiles } = get();
        const known = new Set(profiles.status === 'ready' ? profiles.data.profiles.map((p) => p.id) : []);
        const saved = await client.api.saveProfile(input);
        if (!saved.ok) return saved.error;
        const failed = await get().connect(saved.value.profile.id);
        // Main saves before it can try: forget a profile this attempt created (one it replaced is main's to restore).
        if (failed && !known.has(saved.value.profile.id) && profiles.status === 'ready') await client.api.removeProfile({ id: saved.value.profile.id });
        await reloadProfiles();
        return failed && { code: failed.code, message: `Could not connect: ${failed.message}` };
      },

      async removeProfile(profileId) {
        const result = await client.api.removeProfile({ id: profileId });
        if (result.ok) await reloadProfiles();
        return result;
      },

      async loadStats() {
        const { namespace, storeEpoch } = get();
        set({ stats: { status: 'loading' } });
        const result = await client.api.stats({ namespace });
        if (get().namespace === namespace && get().storeEpoch === storeEpoch) set({ stats: settle(result) });
      },

      async describeKey(key) {
        const { storeEpoch } = get();
        set({ keyInfo: { status: 'loading' } });
        const result = await client.api.describeKey({ key });
        if (get().storeEpoch === storeEpoch) set({ keyInfo: settle(result) });
      },

      async runVerify({ wholeStore, sample, repair }) {
        const transferId = newId();
        const namespace = wholeStore ? undefined : get().namespace;
        set({ verify: { status: 'running', checked: 0, transferId, scope: namespace ?? 'the whole store' } });
        const result = await client.api.verify({ namespace, sample, repair, transferId });
        if (get().verify.transferId !== transferId) return;
        set((s) => ({ verify: result.ok ? { ...s.verify, status: 'done', report: result.value, checked: result.value.checked } : { ...s.verify, status: 'error', error: result.error } }));
        if (repair && result.ok) void get().refreshNamespaces();
      },

      async cancelVerify() {
        const { transferId, status } = get().verify;
        if (transferId && status === 'running') await client.cancel(transferId);
      },

      async saveEntry() {
        const { entry, namespace } = get();
        if (entry.status !== 'ready') return;
        const result = await client.saveEntry(namespace, entry.data.record.cache_id);
        set({ notice: result.ok ? (result.value.saved ? `Saving ${entry.data.record.cache_id}` : null) : `Could not save: ${result.error.message}` });
      },

      async deleteEntry(scope) {
        const { entry, namespace, storeEpoch } = get();
        if (entry.status !== 'ready') return;
        const { hash, cache_id } = entry.data.record;
        const result = await client.api.delete({ namespace, ref: scope === 'all' ? hash : cache_id });
        if (get().storeEpoch !== storeEpoch) return;
        if (!result.ok) {
          set({ notice: `Could not delete: ${result.error.message}` });
          return;
        }
        const { deleted, contentRemoved } = result.value;
        set({ notice: `Deleted ${deleted.join(', ')}: ${contentRemoved ? 'its content is gone from the store' : 'the content stays for the other versions'}` });
        resetEntries(namespace);
        void get().refreshNamespaces();
        if (contentRemoved) set({ entry: { status: 'idle' }, versions: { status: 'idle' } });
        else await get().lookup(hash); // the latest remaining version
      },

      setTab(tab) {
        set({ tab });
        if ((tab === 'layout' || tab === 'stats') && get().stats.status === 'idle') void get().loadStats();
      },

      setTheme: (theme) => set({ theme }),
      notify: (notice) => set({ notice }),
    };
  });
  return store;
}
