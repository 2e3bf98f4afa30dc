import { randomUUID } from 'node:crypto';
import type { CacheAdminEvent, CancelOutcome, Capabilities, OperationEnd, ProfileSummary, ProfilesView, RehashProgress, RunningOperation, StoredEntry } from '../../src-shared/contract';
import { CacheError } from '../../src-shared/errors';
import type { CacheServiceOptions } from '../core/cache-service';
import type { FormatName, FormatVerifyReport, StoreFormat } from '../core/formats/format';
import { LocalFolderStorage } from '../core/storage/local';
import { connectTimeoutMs } from '../core/storage/s3';
import { type WireVerifyOptions, verifyInWorker, workerConfigOf } from '../cli/store-files';
import { formatOf, openBackend, type OpenedStore, type StoreLocation } from '../core/open-store';
import type { StorageBackend } from '../core/storage/types';
import type { VerifyProgress } from '../core/verify';
import { COMMAND_LINE_NAME, DEFAULT_PROFILE_ID, type ProfileInput, type ProfileStore } from '../profiles/profiles';
import { Drops } from './bulk-store';
import type { PathGrants, ReadableFile } from './path-grants';

/** A store given on the command line (`npm run web -- --store DIR`): active, but not saved as a profile. */
export const COMMAND_LINE_PROFILE = 'command-line';
/** How long closing waits for cancelled transfers to clean up (a read that ignores the cancel must not hold the app open). */
const CLOSE_WAIT_MS = 5000;
/** Outcomes kept for cancels that arrive late (or early): far more than transfers run at once. */
const REMEMBERED_OUTCOMES = 1000;

export interface SessionOptions {
  profiles: ProfileStore;
  /** Overrides the saved active profile for this run. */
  commandLine?: StoreLocation;
  /** The layout of the command-line store (`--format`); detected when absent. */
  commandLineFormat?: FormatName;
  cacheOptions?: CacheServiceOptions;
  /** How a location becomes a backend (tests wrap it to count storage calls). */
  openBackend?: (location: StoreLocation) => Promise<StorageBackend>;
  /** Asks the operator where to save content (Electron's save dialog); absent where main has no UI. */
  chooseSavePath?: (suggestedName: string) => Promise<string | null>;
  /** Asks the operator for a folder to save several entries into (Electron's open dialog); absent where main has no UI. */
  chooseSaveFolder?: (title: string) => Promise<string | null>;
  /** The files the operator chose (Electron drops and dialogs); absent, windows send files as uploads only. */
  pathGrants?: PathGrants;
  /** Default connectTimeoutMs(): 20 s, or `$CACHE_ADMIN_CONNECT_TIMEOUT_MS` (tests). */
  connectTimeoutMs?: number;
  /** The bundled store worker, for drops into and verifies of a local folder (see Drops, verify); absent, they run in main's thread. */
  storeWorker?: URL;
}

/** How far a transfer is: done of `total` (a total learned as it goes), and what it waits on now. */
export type OnProgress = (done: number, total?: number, detail?: { note?: string; rehashing?: RehashProgress }) => void;

/** What a transfer is, for its progress events and the list of operations every window sees. */
export interface TransferWork {
  phase: RunningOperation['kind'] | 'connect';
  /** The namespace it works in (null: the whole store, or none). */
  namespace: string | null;
  /** See RunningOperation.subject. */
  subject?: string;
  /** Its total, when known at the start (a file's size). */
  total: number | null;
}

interface RunningTransfer {
  controller: AbortController;
  work: TransferWork;
  startedAt: number;
  /** The last progress sent: a window opened meanwhile starts from it. */
  done: number;
  total: number | null;
  /** Settles (never rejects) once the transfer has ended and its outcome is recorded. */
  settled: Promise<void>;
}

/**
 * What main holds for the windows it serves: the active store, the profiles and the running
 * transfers. The dispatcher calls into it; Electron IPC and the bridge forward its events.
 */
export class AppSession {
  /** `opened`: this opening of the store (Capabilities.opened), new with every activation. */
  private active: { profile: ProfileSummary; store: OpenedStore; opened: string } | null = null;
  private commandLineStore: OpenedStore | null = null;
  private readonly transfers = new Map<string, RunningTransfer>();
  /** Bumped whenever an operation starts or ends (see operations()); from the clock, so a restarted bridge's lists count as newer. */
  private operationsSeq = Date.now() * 1000;
  /** The open store's operations are being stopped for a switch: none starts meanwhile. */
  private switching = false;
  /** What each recent transfer ended as; `beforeStart` marks one cancelled before it began. */
  private readonly outcomes = new Map<string, CancelOutcome & { beforeStart?: boolean }>();
  private readonly listeners = new Set<(event: CacheAdminEvent) => void>();
  /** Multi-file drops stored in batches (storePaths, the bridge's /api/batch). */
  readonly drops: Drops;

  constructor(readonly options: SessionOptions) {
    this.drops = new Drops((event) => this.emit(event), { storeWorker: options.storeWorker, maxEntryBytes: options.cacheOptions?.maxEntryBytes });
  }

  get profiles(): ProfileStore {
    return this.options.profiles;
  }

  /** Opens the command-line store or the saved active profile (falling back to the default folder). */
  async start(): Promise<void> {
    if (this.commandLineProfile) {
      await this.connect(COMMAND_LINE_PROFILE);
      return;
    }
    const { active } = await this.profiles.view();
    try {
      await this.connect(active);
    } catch (err) {
      // A saved profile that is unreachable today must not keep the app from opening.
      if (active === DEFAULT_PROFILE_ID) throw err;
      console.error(`cache-admin: profile ${active} did not connect (${(err as Error).message}); opening the default folder`);
      await this.connect(DEFAULT_PROFILE_ID);
    }
  }

  /** The store given on the command line, offered like a profile for this run (never saved). */
  private get commandLineProfile(): ProfileSummary | null {
    const location = this.options.commandLine;
    if (!location) return null;
    const where = location.kind === 'local' ? location.dir : location.kind === 's3' ? `s3://${location.config.bucket}/${location.config.prefix ?? ''}` : 'memory';
    return { id: COMMAND_LINE_PROFILE, name: COMMAND_LINE_NAME, kind: location.kind, location: where, secret: 'none', removable: false, format: this.options.commandLineFormat ?? 'auto' };
  }

  /** The saved profiles, plus the command-line store when this run has one. */
  async profilesView(): Promise<ProfilesView> {
    const view = await this.profiles.view();
    const extra = this.commandLineProfile;
    return { ...view, active: this.active?.profile.id ?? view.active, profiles: extra ? [extra, ...view.profiles] : view.profiles };
  }

  async connect(id: string, attemptId?: string): Promise<Capabilities> {
    this.assertNothingGoingIn();
    const commandLine = this.commandLineProfile;
    if (id === COMMAND_LINE_PROFILE && commandLine) {
      // Kept open for the whole run, so switching back finds an in-memory store as it was left.
      this.commandLineStore ??= await this.opening(this.options.commandLine!, commandLine, attemptId);
      await this.activate({ profile: commandLine, store: this.commandLineStore });
      return this.capabilities();
    }
    const { profile, location } = await this.profiles.location(id);
    // Open the new store before closing the old one: a profile that cannot connect changes nothing.
    const store = await this.opening(location, profile, attemptId);
    try {
      await this.activate({ profile, store });
    } catch (err) {
      await store.format.storage.close();
      throw err;
    }
    await this.profiles.setActive(id);
    return this.capabilities();
  }

  /** Connects to the store a new or edited profile describes, and saves the profile only once that worked. */
  async saveProfile(input: ProfileInput, options: { id?: string; keepKeyId?: boolean; allowPlaintextSecret: boolean; attemptId?: string }): Promise<{ profile: ProfileSummary; capabilities: Capabilities }> {
    this.assertNothingGoingIn();
    const prepared = await this.profiles.prepare(input as never, options.allowPlaintextSecret, options.id, options.keepKeyId);
    const summary = this.profiles.summary(prepared.stored);
    const store = await this.opening(prepared.location, summary, options.attemptId);
    let profile;
    try {
      this.assertNothingGoingIn();
      profile = await this.profiles.save(prepared);
    } catch (err) {
      await store.format.storage.close();
      throw err;
    }
    await this.activate({ profile, store });
    return { profile, capabilities: this.capabilities() };
  }

  /**
   * Opens a store within the connect time limit, cancellable with `attemptId`. A store that
   * answers after the limit or the cancel is closed as soon as it does.
   */
  private async opening(location: StoreLocation, profile: ProfileSummary, attemptId?: string): Promise<OpenedStore> {
    const limit = this.options.connectTimeoutMs ?? connectTimeoutMs();
    const opening = this.openStore(location, profile);
    let timer: NodeJS.Timeout | undefined;
    const run = async ({ signal }: { signal: AbortSignal }) => {
      const stopped = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new CacheError('storage_unreachable', `${profile.name} (${profile.location}) did not answer within ${Math.round(limit / 100) / 10} s; the store that was open stays open`)), limit);
        signal.addEventListener('abort', () => reject(new CacheError('cancelled', `connecting to ${profile.name} was cancelled; the store that was open stays open`)));
      });
      return Promise.race([opening, stopped]);
    };
    try {
      return await (attemptId ? this.transfer(attemptId, { phase: 'connect', namespace: null, total: null }, run) : run({ signal: new AbortController().signal }));
    } catch (err) {
      void opening.then((late) => late.format.storage.close(), () => undefined);
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  /** The store in its layout: the profile's forced format, else detected from its keys. */
  private async openStore(location: StoreLocation, profile: ProfileSummary): Promise<OpenedStore> {
    const storage = await (this.options.openBackend ?? openBackend)(location);
    try {
      return await formatOf(storage, { ...this.options.cacheOptions, format: profile.format === 'auto' ? undefined : profile.format });
    } catch (err) {
      await storage.close();
      throw err;
    }
  }

  /**
   * Refuses a switch while files are being stored or hashed into the open store, from any window
   * or bridge client: they would go on into a store no window shows (its connection closed).
   */
  private assertNothingGoingIn(): void {
    const busy = [...this.transfers.values()].filter((t) => t.work.phase === 'store' || t.work.phase === 'hash').length + this.drops.running;
    if (busy === 0 || !this.active) return;
    const { name } = this.active.profile;
    throw new CacheError('conflict', `${busy === 1 ? '1 transfer is' : `${busy} transfers are`} still going into ${name} (from this or another window): let ${busy === 1 ? 'it' : 'them'} finish or cancel ${busy === 1 ? 'it' : 'them'} before switching store`);
  }

  private async activate(next: { profile: ProfileSummary; store: OpenedStore }): Promise<void> {
    this.assertNothingGoingIn();
    const previous = this.active;
    if (previous && previous.store !== next.store) {
      // A verify, prune or bulk delete of the previous store (from any window) stops before the switch, while every
      // window still shows that store; none starts meanwhile.
      this.switching = true;
      try {
        await this.stopAll((t) => t.work.phase !== 'connect');
      } finally {
        this.switching = false;
      }
    }
    // The same store under the same profile is the same opening: drops on it go on.
    const same = previous && previous.store === next.store && previous.profile.id === next.profile.id;
    this.active = { ...next, opened: same ? previous.opened : randomUUID() };
    if (previous && previous.store !== this.commandLineStore && previous.store !== next.store) await previous.store.format.storage.close();
    this.emit({ type: 'connected', capabilities: this.capabilities() });
  }

  /** The open store, in its layout: every handler goes through this, never a layout's own class. */
  get format(): StoreFormat {
    if (!this.active) throw new CacheError('storage_unreachable', 'no store is connected');
    return this.active.store.format;
  }

  /** Verifies the open store: a local folder's in a worker thread (verifyInWorker), any other here. */
  async verify(options: WireVerifyOptions, control: { signal: AbortSignal; onProgress: OnProgress }): Promise<FormatVerifyReport> {
    const { format } = this;
    const { storeWorker, cacheOptions } = this.options;
    const onProgress = ({ checked, listed, rehashing }: Omit<VerifyProgress, 'phase'>) => control.onProgress(checked, listed, { rehashing });
    if (storeWorker && format.storage instanceof LocalFolderStorage) {
      return verifyInWorker(storeWorker, await workerConfigOf(format, format.storage, cacheOptions?.maxEntryBytes), options, { signal: control.signal, onProgress });
    }
    return format.verify({ ...options, signal: control.signal, onProgress });
  }

  get activeProfileId(): string | null {
    return this.active?.profile.id ?? null;
  }

  /**
   * Refuses to store or hash what was dropped on another opening of the store than the one open now
   * (`opened`: Capabilities.opened when it was dropped; a window switched store, reconnected or edited
   * the open profile since), or while a switch is under way: filed in the store open now, it would land
   * where the operator did not drop it. Called first, so no other answer hides this one, and again right
   * before the work is registered, with no wait between, so no switch slips in after the check.
   */
  assertDroppedHere(opened: string | undefined): void {
    if (this.switching) throw new CacheError('conflict', 'the store is being switched: nothing of this drop was stored; drop it again once it has');
    if (this.droppedHere(opened)) return;
    const open = this.active ? ` (${this.active.profile.name} is open now)` : '';
    throw new CacheError('conflict', `this was dropped on another store than the one open now${open}: a window switched store since, so nothing of it was stored here; drop it again to store it here`);
  }

  /** Whether a drop made on `opened` (absent: not said) goes into the store open now (see assertDroppedHere). */
  droppedHere(opened: string | undefined): boolean {
    return !this.switching && (opened === undefined || opened === this.active?.opened);
  }

  capabilities(): Capabilities {
    const { profile, store } = this.active ?? {};
    if (!profile || !store) throw new CacheError('storage_unreachable', 'no store is connected');
    const { format, detection } = store;
    return {
      profile: profile.id,
      opened: this.active!.opened,
      store: format.storage.description,
      ...format.storage.capabilities,
      format: format.name,
      formatReason: detection.reason,
      storeAs: [...format.capabilities.storeAs],
      storeOptions: Object.fromEntries(Object.entries(format.capabilities.storeOptions).map(([name, values]) => [name, values && [...values]])),
      unlisted: [...format.capabilities.unlisted],
      listedTime: format.capabilities.listedTime,
    };
  }

  onEvent(listener: (event: CacheAdminEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(event: CacheAdminEvent): void {
    for (const listener of this.listeners) listener(event);
  }

  /**
   * Runs one cancellable transfer: progress goes out as events (at most every 100 ms), `cancel`
   * with the same id aborts it. Ids must be unique while running. A result the run returns stands
   * even when a cancel arrived meanwhile: it was stored, and saying otherwise would be false.
   */
  async transfer<T>(
    transferId: string,
    work: TransferWork & { said?: (result: T) => string },
    run: (options: { signal: AbortSignal; onProgress: OnProgress }) => Promise<T>,
    outerSignal?: AbortSignal,
  ): Promise<T> {
    const { phase, total: totalBytes } = work;
    if (this.transfers.has(transferId)) throw new CacheError('invalid_input', `transfer ${transferId} is already running`);
    if (this.switching && phase !== 'connect') throw new CacheError('conflict', 'the store is being switched (its verify, prune and delete are stopping): nothing was started; try again once it has');
    if (this.outcomes.get(transferId)?.beforeStart) {
      this.outcomes.delete(transferId);
      throw this.cancelledError(transferId, phase);
    }
    const controller = new AbortController();
    let settle!: () => void;
    const settled = new Promise<void>((resolve) => (settle = resolve));
    const onOuterAbort = () => controller.abort();
    outerSignal?.addEventListener('abort', onOuterAbort);
    const running: RunningTransfer = { controller, work, startedAt: Date.now(), done: 0, total: totalBytes, settled };
    this.transfers.set(transferId, running);
    if (phase !== 'connect') this.emit({ type: 'operations', ...this.operations(true) });
    let last = 0;
    let allReadSent = false;
    let noted = false;
    /** `total`: a total the run learns as it goes (a verify's keys listed so far). */
    const onProgress: OnProgress = (bytesDone, total, { note, rehashing } = {}) => {
      const now = Date.now();
      running.done = bytesDone;
      running.total = total ?? totalBytes;
      // The first that says all was read goes at once (the store may write on for a while); a file
      // growing past its size is throttled as before. A note (why it waits) goes at once, and so does its end.
      const allRead = totalBytes !== null && bytesDone >= totalBytes && !allReadSent;
      if ((now - last < 100 && !allRead && noted === (note !== undefined)) || phase === 'connect') return;
      allReadSent ||= allRead;
      noted = note !== undefined;
      last = now;
      this.emit({ type: 'progress', transferId, phase, bytesDone, totalBytes: running.total, ...(note !== undefined && { note }), ...(rehashing && { rehashing }) });
    };
    let ended: OperationEnd = { id: transferId, outcome: 'finished' };
    try {
      const result = await run({ signal: controller.signal, onProgress });
      // What it came to, for the windows that did not start it (another window, this one reloaded).
      if (work.said) ended = { ...ended, message: work.said(result) };
      this.remember(transferId, phase === 'store' ? { cancelled: false, stored: result as StoredEntry } : { cancelled: false });
      if (phase !== 'connect') this.emit({ type: 'progress', transferId, phase, bytesDone: totalBytes ?? running.done, totalBytes: running.total });
      return result;
    } catch (err) {
      // A cancel ends a run in `cancelled`, or in an untyped abort error of some library. A typed
      // failure is what happened (a full disk after the last point a cancel is honoured): said as it is.
      const typedFailure = err instanceof CacheError && !isCancelled(err);
      const cancelled = controller.signal.aborted && !typedFailure;
      this.remember(transferId, { cancelled });
      ended = cancelled || isCancelled(err) ? { id: transferId, outcome: 'stopped', message: (err as Error).message } : { id: transferId, outcome: 'failed', message: (err as Error).message };
      if (cancelled && !isCancelled(err)) throw this.cancelledError(transferId, phase);
      throw err;
    } finally {
      this.transfers.delete(transferId);
      outerSignal?.removeEventListener('abort', onOuterAbort);
      if (phase !== 'connect') this.emit({ type: 'operations', ...this.operations(true), ended });
      settle();
    }
  }

  /**
   * What runs now for any window or client, oldest first (connects are each window's own), and the
   * list's number: `changed` when one started or ended. A window keeps the highest numbered list it
   * has, whichever way it came (its events and its calls travel apart over the bridge).
   */
  operations(changed = false): { seq: number; operations: RunningOperation[] } {
    if (changed) this.operationsSeq++;
    const operations: RunningOperation[] = [];
    for (const [id, { work, startedAt, done, total }] of this.transfers) {
      if (work.phase === 'connect') continue;
      operations.push({ id, kind: work.phase, namespace: work.namespace, subject: work.subject ?? '', startedAt, done, total });
    }
    return { seq: this.operationsSeq, operations };
  }

  /** Stops the transfers `which` picks and waits (a few seconds at most) for them to remove what they had written. */
  private async stopAll(which: (transfer: RunningTransfer) => boolean): Promise<void> {
    const stopping = [...this.transfers.values()].filter(which);
    for (const { controller } of stopping) controller.abort();
    await Promise.race([Promise.all(stopping.map((r) => r.settled)), new Promise((resolve) => setTimeout(resolve, CLOSE_WAIT_MS).unref())]);
  }

  private cancelledError(transferId: string, phase: string): CacheError {
    if (phase === 'store') return new CacheError('cancelled', `transfer ${transferId} was cancelled; nothing was stored`);
    // Said after "Deleting in namespace <ns>", as a delete stopped part-way says what it did.
    if (phase === 'delete') return new CacheError('cancelled', 'stopped as asked before it began: nothing was deleted');
    return new CacheError('cancelled', `${phase} was cancelled`);
  }

  private remember(transferId: string, outcome: CancelOutcome & { beforeStart?: boolean }): void {
    this.outcomes.delete(transferId);
    this.outcomes.set(transferId, outcome);
    if (this.outcomes.size > REMEMBERED_OUTCOMES) this.outcomes.delete(this.outcomes.keys().next().value!);
  }

  /**
   * Stops a transfer and says what really happened once it has ended: cancelled with nothing
   * stored, or stored (the store committed before the cancel reached it). A transfer that has not
   * started yet never will.
   */
  async cancel(transferId: string): Promise<CancelOutcome> {
    const running = this.transfers.get(transferId);
    if (running) {
      running.controller.abort();
      await running.settled;
    }
    const outcome = this.outcomes.get(transferId);
    if (outcome) return outcome.stored ? { cancelled: false, stored: outcome.stored } : { cancelled: outcome.cancelled };
    this.remember(transferId, { cancelled: true, beforeStart: true });
    return { cancelled: true };
  }

  /** A file a window asks main to read: only one the operator chose, as its real path and size. */
  async readableFile(file: string): Promise<ReadableFile> {
    const grants = this.options.pathGrants;
    if (!grants) throw new CacheError('access_denied', 'this window sends files as uploads, never as paths');
    return grants.check(file);
  }

  /** Cancels what is running and waits (a few seconds at most) for it to remove what it had written. */
  async close(): Promise<void> {
    await this.stopAll(() => true);
    await this.drops.close();
    if (this.active?.store !== this.commandLineStore) await this.active?.store.format.storage.close();
    await this.commandLineStore?.format.storage.close();
    this.active = null;
    this.commandLineStore = null;
  }
}

function isCancelled(err: unknown): boolean {
  return err instanceof CacheError && err.code === 'cancelled';
}
