import type { PreloadApi, Result } from '../../src-shared/contract';
import type { CacheAdminClient } from './client';

/** Pasted text has no file on disk, and main reads only files the operator chose there. */
const NOT_ON_DISK: Result<never> = { ok: false, error: { code: 'invalid_input', message: 'the desktop app stores files from disk only: save the pasted text to a file and drop it' } };

/** Electron: the preload's object; dropped files go to main as paths and main streams them. */
export function preloadClient(preload: PreloadApi): CacheAdminClient {
  // Each call asks for the path again: that is also what lets main read it (see PathGrants).
  const withPath = <T,>(file: File, call: (path: string) => Promise<Result<T>>): Promise<Result<T>> => {
    const path = preload.pathForFile(file);
    return path ? call(path) : Promise.resolve(NOT_ON_DISK);
  };
  return {
    api: preload,
    onEvent: (listener) => preload.onEvent(listener),
    hashFile: (file, namespace, transferId, choice) => withPath(file, (path) => preload.hashFile({ namespace, path, transferId, ...choice })),
    storeFile: (file, namespace, transferId, choice) => withPath(file, (path) => preload.storeFile({ namespace, path, transferId, ...choice })),
    storeBatch: (files, namespace, dropId, choice) => {
      const paths = files.map(({ file, name }) => ({ path: preload.pathForFile(file), name }));
      return paths.every((p) => p.path) ? preload.storePaths({ namespace, dropId, files: paths, ...choice }) : Promise.resolve(NOT_ON_DISK);
    },
    cancel: (transferId) => preload.cancel({ transferId }),
    saveEntry: (namespace, ref, allowExpired) => preload.saveEntry({ namespace, ref, allowExpired }),
    saveEntries: (namespace, selection, includeExpired) => preload.saveEntries({ namespace, selection, includeExpired }),
  };
}
