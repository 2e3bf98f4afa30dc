// `npm run web`: the app in a browser, served on 127.0.0.1 with a per-run token.
// Raise libuv's pool before the first fs call, as the CLI does: a dropped folder keeps many small writes and flushes in flight.
process.env.UV_THREADPOOL_SIZE ??= '16';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { appDataDir, defaultStoreDir, missingStoreFolder } from '../core/open-store';
import { STORE_OPTIONS, formatChoice, maxEntryBytesOf, storeChosen, storeLocation } from '../cli/store-options';
import { storeWorkerBeside } from '../cli/store-files';
import { EXIT, exitCodeOf } from '../cli/exit-codes';
import { CacheError, isCacheError } from '../../src-shared/errors';
import { createDispatcher } from '../ipc/dispatch';
import { AppSession } from '../ipc/session';
import { ProfileStore } from '../profiles/profiles';
import { NO_KEYRING } from '../profiles/secret-box';
import { startBridge } from './server';

const USAGE = 'usage: npm run web -- [--port N] [--max-entry-size SIZE] [--store DIR | --memory | --s3-bucket B [S3 options]] [--format native|mgraph]';
export const DEFAULT_PORT = 5199;
const RENDERER_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../out/renderer');

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { ...STORE_OPTIONS, port: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, strict: true });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const port = values.port === undefined ? DEFAULT_PORT : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new CacheError('invalid_input', `--port takes 0-65535 (0 picks a free port)\n${USAGE}`);
  // Saved profiles carry their own format: --format applies to the store given here.
  if (values.format !== undefined && !storeChosen(values)) throw new CacheError('invalid_input', `--format needs --store, --memory or --s3-bucket (a saved profile has its own format)\n${USAGE}`);
  // An empty $CACHE_ADMIN_STORE is refused where it would pick the store: not beside a store given here.
  const env = storeChosen(values) && process.env.CACHE_ADMIN_STORE?.trim() === '' ? { ...process.env, CACHE_ADMIN_STORE: undefined } : process.env;
  const profiles = new ProfileStore(path.join(appDataDir(), 'profiles.json'), NO_KEYRING, defaultStoreDir(env));
  const commandLine = storeChosen(values) ? storeLocation(values, process.env) : undefined;
  const commandLineFormat = formatChoice(values);
  const maxEntryBytes = maxEntryBytesOf(values, process.env);
  // Bad input is said first (exit 2), then a store folder that is not there (exit 3): given here, or by $CACHE_ADMIN_STORE.
  const named = commandLine ?? (env.CACHE_ADMIN_STORE === undefined ? undefined : { kind: 'local' as const, dir: defaultStoreDir(env) });
  const missing = named ? await missingStoreFolder(named) : null;
  if (missing !== null) throw new CacheError('storage_unreachable', `cannot open the store: the folder ${missing} does not exist: create it first, or choose another`);
  const session = new AppSession({
    profiles,
    commandLine,
    commandLineFormat,
    cacheOptions: { maxEntryBytes },
    // The bundle (scripts/build-app.mjs) has store-worker.js beside this file; from the sources, drops stay in this thread.
    storeWorker: storeWorkerBeside(import.meta.url),
  });
  await session.start();
  const bridge = await startBridge({ session, dispatch: createDispatcher(session), staticDir: RENDERER_DIR, port }).catch((err: NodeJS.ErrnoException) => {
    throw err.code === 'EADDRINUSE' ? new Error(`port ${port} is in use: pass --port N (0 picks a free one)`) : err;
  });
  const { store, format, readOnly } = session.capabilities();
  console.log(`Cache Admin bridge (${store}, ${format} layout${readOnly ? ', read-only' : ''}): open ${bridge.url}`);
  const stop = () => {
    void bridge.close().then(() => session.close()).then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err: NodeJS.ErrnoException) => {
  console.error(`cache-admin web: ${err.message}`);
  // As the CLI exits: 2 for bad input (an unknown option too), 3 for a store that cannot be opened or any other failure.
  const badOption = typeof err.code === 'string' && err.code.startsWith('ERR_PARSE_ARGS_');
  process.exit(isCacheError(err) ? exitCodeOf(err) : badOption ? EXIT.usage : EXIT.failure);
});
