/**
 * Channel names of the contract, free of any schema code so the sandboxed preload can bundle them
 * without zod. `contract.ts` checks its method table against this list.
 */
export const METHOD_NAMES = [
  'capabilities',
  'namespaces',
  'namespaceNames',
  'checkNamespace',
  'stats',
  'shardCounts',
  'versions',
  'entry',
  'listKeys',
  'entries',
  'deleteEntries',
  'saveEntries',
  'describeKey',
  'delete',
  'storeBytes',
  'hashFile',
  'storeFile',
  'cancel',
  'operations',
  'storePaths',
  'cancelDrop',
  'saveEntry',
  'verify',
  'policy',
  'setPolicy',
  'prunePlan',
  'prune',
  'profiles',
  'saveProfile',
  'removeProfile',
  'connect',
] as const;

export type ChannelMethod = (typeof METHOD_NAMES)[number];

/** `ipcRenderer.invoke(IPC_INVOKE_PREFIX + method, payload)`; events arrive on IPC_EVENT_CHANNEL. */
export const IPC_INVOKE_PREFIX = 'cache-admin:';
export const IPC_EVENT_CHANNEL = 'cache-admin:event';
/** The preload tells main the path of a File the operator dropped or picked: main reads only such paths. */
export const IPC_GRANT_CHANNEL = 'cache-admin:grant-path';
