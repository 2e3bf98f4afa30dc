import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { CacheService, type CacheServiceOptions } from './cache-service';
import { type Detection, LAYOUT_LABELS, detectFormat } from './formats/detect';
import { CacheError } from '../../src-shared/errors';
import type { FormatName, StoreFormat } from './formats/format';
import { MgraphFormat } from './formats/mgraph/mgraph-format';
import { NativeFormat } from './formats/native/native-format';
import { LocalFolderStorage, sameFolderName, type RootIdentity } from './storage/local';
import { MemoryStorage } from './storage/memory';
import type { S3Config } from './storage/s3';
import type { StorageBackend } from './storage/types';

export const APP_FOLDER_NAME = 'cache-admin';

/** The app's data folder, where Electron's app.getPath('userData') would put it on each OS. */
export function appDataDir(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): string {
  if (platform === 'win32') return path.join(env.APPDATA ?? path.join(os.homedir(), 'AppData', 'Roaming'), APP_FOLDER_NAME);
  if (platform === 'darwin') return path.join(os.homedir(), 'Library', 'Application Support', APP_FOLDER_NAME);
  return path.join(env.XDG_CONFIG_HOME || path.join(os.homedir(), '.config'), APP_FOLDER_NAME);
}

/** `$CACHE_ADMIN_STORE`, else `store/` in the app's data folder. */
export function defaultStoreDir(env: NodeJS.ProcessEnv = process.env): string {
  const chosen = env.CACHE_ADMIN_STORE;
  if (chosen === undefined) return path.join(appDataDir(env), 'store');
  // Set from an unset variable in a script: storing into the default store instead would misfile.
  if (chosen.trim() === '') throw new CacheError('invalid_input', 'CACHE_ADMIN_STORE is set but empty (an unset variable?): nothing was opened; unset it to use the default store');
  return chosen;
}

/**
 * A local store folder that is not there (a mistyped --store or $CACHE_ADMIN_STORE): commands that
 * read a store, and the bridge, refuse it rather than read it as an empty store or make it. The
 * app's own store folder (the default) is made on first run, so it may be named before it exists.
 */
export async function missingStoreFolder(location: StoreLocation, env: NodeJS.ProcessEnv = process.env): Promise<string | null> {
  if (location.kind !== 'local' || sameFolderName(path.resolve(location.dir), path.resolve(appDataDir(env), 'store'))) return null;
  const { dir } = location;
  return fs.stat(dir).then(
    () => null,
    (err: NodeJS.ErrnoException) => (err.code === 'ENOENT' || err.code === 'ENOTDIR' ? dir : null), // what else stat says (denied), opening the store reports
  );
}

export type StoreLocation =
  | { kind: 'memory' }
  /** blockingIo: small file operations as direct system calls (the CLI; see LocalFolderStorage). */
  | { kind: 'local'; dir: string; blockingIo?: boolean; knownRoot?: RootIdentity | null }
  | { kind: 's3'; config: S3Config };

export async function openBackend(location: StoreLocation): Promise<StorageBackend> {
  switch (location.kind) {
    case 'memory':
      return new MemoryStorage();
    case 'local':
      // A new store folder is made only inside a folder that exists; the app's own data folder is ours to make.
      if (path.resolve(location.dir) === path.join(appDataDir(), 'store')) await fs.mkdir(appDataDir(), { recursive: true });
      return LocalFolderStorage.open(location.dir, { blockingIo: location.blockingIo, knownRoot: location.knownRoot });
    case 's3': {
      // Loaded on demand: the AWS SDK costs a local-folder CLI run a third of its start-up time.
      const { S3Storage } = await import('./storage/s3');
      return S3Storage.open(location.config);
    }
  }
}

export async function openCache(location: StoreLocation, options: CacheServiceOptions = {}): Promise<CacheService> {
  return new CacheService(await openBackend(location), options);
}

/** `maxEntryBytes` and `now` apply to either layout (each has its own default size limit); the rest to native stores. */
export interface OpenFormatOptions extends CacheServiceOptions {
  /** Forces the layout; otherwise it is detected from the store's keys (an empty store is native). */
  format?: FormatName;
}

/** A store opened in its layout, and why that layout (for `capabilities` and the connection bar). */
export interface OpenedStore {
  format: StoreFormat;
  detection: Detection;
}

/**
 * The layout over an open backend: forced by `format`, else detected from a few listings. A forced
 * layout picks one of the layouts a store holds, or the layout of an empty store; a store holding
 * only the other layout is refused, as it would show none of its entries and take a second layout's
 * keys beside them.
 */
export async function formatOf(storage: StorageBackend, options: OpenFormatOptions = {}): Promise<OpenedStore> {
  const forced = options.format;
  const detected = await detectFormat(storage, { lookFor: forced });
  const other = forced && Object.keys(detected.found).find((f): f is FormatName => f !== forced);
  if (forced && other && !detected.found[forced]) {
    throw new CacheError(
      'invalid_input',
      `this store holds ${LAYOUT_LABELS[other]} (found ${detected.found[other]!.join(', ')}) and none of ${LAYOUT_LABELS[forced]} in the ${detected.probed} top-level folders looked into: opened as ${LAYOUT_LABELS[forced]} it would show none of its entries and write a second layout beside them; open it with its layout detected from its keys`,
    );
  }
  if (!forced && detected.found.native && detected.found.mgraph) {
    throw new CacheError(
      'invalid_input',
      `this store holds both layouts (${LAYOUT_LABELS.native}: found ${detected.found.native.join(', ')}; ${LAYOUT_LABELS.mgraph}: found ${detected.found.mgraph.join(', ')}): choose the one to open (--format native or --format mgraph; in the app, the store's layout), as the other's entries are not shown`,
    );
  }
  if (detected.nested) {
    const { folder, format, found } = detected.nested;
    throw new CacheError(
      'invalid_input',
      `no store is here, but ${folder} holds one (${LAYOUT_LABELS[format]}: found ${found.join(', ')}): open ${folder} as the store instead; opened here it would list ${folder} as a namespace and file new keys beside that store`,
    );
  }
  const detection = forced ? { ...detected, format: forced, reason: `${forced}, as chosen (not detected)` } : detected;
  const { format: _forced, ...cacheOptions } = options;
  const format = detection.format === 'mgraph' ? new MgraphFormat(storage, { maxEntryBytes: options.maxEntryBytes, now: options.now }) : new NativeFormat(new CacheService(storage, cacheOptions));
  return { format, detection };
}

/** Opens a store in its layout: the one place the CLI, the bridge and the app open stores. */
export async function openStore(location: StoreLocation, options: OpenFormatOptions = {}): Promise<OpenedStore> {
  const storage = await openBackend(location);
  try {
    return await formatOf(storage, options);
  } catch (err) {
    await storage.close();
    throw err;
  }
}
