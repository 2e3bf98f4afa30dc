import type { PreloadApi } from '../../src-shared/contract';
import type { CacheAdminClient } from './client';

/** Electron: the preload's object; dropped files go to main as paths and main streams them. */
export function preloadClient(preload: PreloadApi): CacheAdminClient {
  return {
    api: preload,
    onEvent: (listener) => preload.onEvent(listener),
    hashFile: (file, namespace, transferId, choice) => preload.hashFile({ namespace, path: preload.pathForFile(file), transferId, ...choice }),
    storeFile: (file, namespace, transferId, choice) => preload.storeFile({ namespace, path: preload.pathForFile(file), transferId, ...choice }),
    cancel: (transferId) => preload.cancel({ transferId }),
    saveEntry: (namespace, ref) => preload.saveEntry({ namespace, ref }),
  };
}
