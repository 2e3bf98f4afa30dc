import { stat } from 'node:fs/promises';
import type { CacheAdminEvent, Capabilities, ProfileSummary, ProfilesView } from '../../src-shared/contract';
import { CacheError } from '../../src-shared/errors';
import { CacheService, type CacheServiceOptions } from '../core/cache-service';
import { openBackend, type StoreLocation } from '../core/open-store';
import type { StorageBackend } from '../core/storage/types';
import type { ProfileStore } from '../profiles/profiles';

/** A store given on the command line (`npm run web -- --store DIR`): active, but not saved as a profile. */
export const COMMAND_LINE_PROFILE = 'command-line';

export interface SessionOptions {
  profiles: ProfileStore;
  /** Overrides the saved active profile for this run. */
  commandLine?: StoreLocation;
  cacheOptions?: CacheServiceOptions;
  /** How a location becomes a backend (tests wrap it to count storage calls). */
  openBackend?: (location: StoreLocation) => Promise<StorageBackend>;
  /** Asks the operator where to save content (Electron's save dialog); absent where main has no UI. */
  chooseSavePath?: (suggestedName: string) => Promise<string | null>;
}

/**
 * What main holds for the windows it serves: the active store, the profiles and the running
 * transfers. The dispatcher calls into it; Electron IPC and the bridge forward its events.
 */
export class AppSession {
  private active: { profile: ProfileSummary; cache: CacheService } | null = null;
  private readonly transfers = new Map<string, AbortController>();
  private readonly listeners = new Set<(event: CacheAdminEvent) => void>();

  constructor(readonly options: SessionOptions) {}

  get profiles(): ProfileStore {
    return this.options.profiles;
  }

  /** Opens the command-line store or the saved active profile (falling back to the default folder). */
  async start(): Promise<void> {
    const { commandLine } = this.options;
    if (commandLine) {
      const location = commandLine.kind === 'local' ? commandLine.dir : commandLine.kind === 's3' ? `s3://${commandLine.config.bucket}/${commandLine.config.prefix ?? ''}` : 'memory';
      const profile: ProfileSummary = { id: COMMAND_LINE_PROFILE, name: 'Command line', kind: commandLine.kind, location, secret: 'none' };
      await this.open(profile, commandLine);
      return;
    }
    const { active } = await this.profiles.view();
    await this.connect(active);
  }

  /** The saved profiles plus the command-line store when that is what this run uses. */
  async profilesView(): Promise<ProfilesView> {
    const view = await this.profiles.view();
    const active = this.active?.profile;
    if (!active) return view;
    return { ...view, active: active.id, profiles: active.id === COMMAND_LINE_PROFILE ? [active, ...view.profiles] : view.profiles };
  }

  async connect(id: string): Promise<Capabilities> {
    if (id === COMMAND_LINE_PROFILE && this.active?.profile.id === id) return this.capabilities();
    const { profile, location } = await this.profiles.location(id);
    await this.open(profile, location);
    await this.profiles.setActive(id);
    return this.capabilities();
  }

  private async open(profile: ProfileSummary, location: StoreLocation): Promise<void> {
    // Open the new store before closing the old one: a profile that cannot connect changes nothing.
    const storage = await (this.options.openBackend ?? openBackend)(location);
    const previous = this.active;
    this.active = { profile, cache: new CacheService(storage, this.options.cacheOptions) };
    await previous?.cache.storage.close();
    this.emit({ type: 'connected', capabilities: this.capabilities() });
  }

  get cache(): CacheService {
    if (!this.active) throw new CacheError('storage_unreachable', 'no store is connected');
    return this.active.cache;
  }

  get activeProfileId(): string | null {
    return this.active?.profile.id ?? null;
  }

  capabilities(): Capabilities {
    const { profile, cache } = this.active ?? {};
    if (!profile || !cache) throw new CacheError('storage_unreachable', 'no store is connected');
    return { profile: profile.id, store: cache.storage.description, ...cache.storage.capabilities };
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

  /** Size of a regular file main is asked to read; folders and devices are refused. */
  async fileSize(file: string): Promise<number> {
    let info;
    try {
      info = await stat(file);
    } catch {
      throw new CacheError('not_found', `cannot read ${file}`);
    }
    if (!info.isFile()) throw new CacheError('invalid_input', `${file} is not a regular file`);
    return info.size;
  }

  async close(): Promise<void> {
    for (const controller of this.transfers.values()) controller.abort();
    await this.active?.cache.storage.close();
    this.active = null;
  }
}
