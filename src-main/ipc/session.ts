import type { CacheAdminEvent, Capabilities, ProfileSummary, ProfilesView } from '../../src-shared/contract';
import { CacheError } from '../../src-shared/errors';
import type { CacheServiceOptions } from '../core/cache-service';
import type { FormatName, StoreFormat } from '../core/formats/format';
import { formatOf, openBackend, type OpenedStore, type StoreLocation } from '../core/open-store';
import type { StorageBackend } from '../core/storage/types';
import { DEFAULT_PROFILE_ID, type ProfileStore } from '../profiles/profiles';
import type { PathGrants, ReadableFile } from './path-grants';

/** A store given on the command line (`npm run web -- --store DIR`): active, but not saved as a profile. */
export const COMMAND_LINE_PROFILE = 'command-line';

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
  /** The files the operator chose (Electron drops and dialogs); absent, windows send files as uploads only. */
  pathGrants?: PathGrants;
}

/**
 * What main holds for the windows it serves: the active store, the profiles and the running
 * transfers. The dispatcher calls into it; Electron IPC and the bridge forward its events.
 */
export class AppSession {
  private active: { profile: ProfileSummary; store: OpenedStore } | null = null;
  private commandLineStore: OpenedStore | null = null;
  private readonly transfers = new Map<string, AbortController>();
  private readonly listeners = new Set<(event: CacheAdminEvent) => void>();

  constructor(readonly options: SessionOptions) {}

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
    return { id: COMMAND_LINE_PROFILE, name: 'Command line', kind: location.kind, location: where, secret: 'none', removable: false, format: this.options.commandLineFormat ?? 'auto' };
  }

  /** The saved profiles, plus the command-line store when this run has one. */
  async profilesView(): Promise<ProfilesView> {
    const view = await this.profiles.view();
    const extra = this.commandLineProfile;
    return { ...view, active: this.active?.profile.id ?? view.active, profiles: extra ? [extra, ...view.profiles] : view.profiles };
  }

  async connect(id: string): Promise<Capabilities> {
    const commandLine = this.commandLineProfile;
    if (id === COMMAND_LINE_PROFILE && commandLine) {
      // Kept open for the whole run, so switching back finds an in-memory store as it was left.
      this.commandLineStore ??= await this.openStore(this.options.commandLine!, commandLine);
      await this.activate({ profile: commandLine, store: this.commandLineStore });
      return this.capabilities();
    }
    const { profile, location } = await this.profiles.location(id);
    // Open the new store before closing the old one: a profile that cannot connect changes nothing.
    await this.activate({ profile, store: await this.openStore(location, profile) });
    await this.profiles.setActive(id);
    return this.capabilities();
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

  private async activate(next: { profile: ProfileSummary; store: OpenedStore }): Promise<void> {
    const previous = this.active;
    this.active = next;
    if (previous && previous.store !== this.commandLineStore) await previous.store.format.storage.close();
    this.emit({ type: 'connected', capabilities: this.capabilities() });
  }

  /** The open store, in its layout: every handler goes through this, never a layout's own class. */
  get format(): StoreFormat {
    if (!this.active) throw new CacheError('storage_unreachable', 'no store is connected');
    return this.active.store.format;
  }

  get activeProfileId(): string | null {
    return this.active?.profile.id ?? null;
  }

  capabilities(): Capabilities {
    const { profile, store } = this.active ?? {};
    if (!profile || !store) throw new CacheError('storage_unreachable', 'no store is connected');
    const { format, detection } = store;
    return {
      profile: profile.id,
      store: format.storage.description,
      ...format.storage.capabilities,
      format: format.name,
      formatReason: detection.reason,
      storeAs: [...format.capabilities.storeAs],
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
   * with the same id aborts it. Ids must be unique while running.
   */
  async transfer<T>(
    transferId: string,
    phase: 'hash' | 'store' | 'verify',
    totalBytes: number | null,
    run: (options: { signal: AbortSignal; onProgress: (bytesDone: number) => void }) => Promise<T>,
    outerSignal?: AbortSignal,
  ): Promise<T> {
    if (this.transfers.has(transferId)) throw new CacheError('invalid_input', `transfer ${transferId} is already running`);
    const controller = new AbortController();
    const onOuterAbort = () => controller.abort();
    outerSignal?.addEventListener('abort', onOuterAbort);
    this.transfers.set(transferId, controller);
    let last = 0;
    const onProgress = (bytesDone: number) => {
      const now = Date.now();
      if (now - last < 100) return;
      last = now;
      this.emit({ type: 'progress', transferId, phase, bytesDone, totalBytes });
    };
    try {
      const result = await run({ signal: controller.signal, onProgress });
      this.emit({ type: 'progress', transferId, phase, bytesDone: totalBytes ?? 0, totalBytes });
      return result;
    } catch (err) {
      if (controller.signal.aborted) throw new CacheError('cancelled', phase === 'store' ? `transfer ${transferId} was cancelled; nothing was stored` : `${phase} was cancelled`);
      throw err;
    } finally {
      this.transfers.delete(transferId);
      outerSignal?.removeEventListener('abort', onOuterAbort);
    }
  }

  cancel(transferId: string): boolean {
    const controller = this.transfers.get(transferId);
    controller?.abort();
    return controller !== undefined;
  }

  /** A file a window asks main to read: only one the operator chose, as its real path and size. */
  async readableFile(file: string): Promise<ReadableFile> {
    const grants = this.options.pathGrants;
    if (!grants) throw new CacheError('access_denied', 'this window sends files as uploads, never as paths');
    return grants.check(file);
  }

  async close(): Promise<void> {
    for (const controller of this.transfers.values()) controller.abort();
    if (this.active?.store !== this.commandLineStore) await this.active?.store.format.storage.close();
    await this.commandLineStore?.format.storage.close();
    this.active = null;
    this.commandLineStore = null;
  }
}
