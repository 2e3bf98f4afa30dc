/** An app session as Electron runs it, on a store the test holds, for tests of the dispatcher and what it serves. */
import { mkdtempSync } from 'node:fs';
import * as path from 'node:path';
import type { StorageBackend } from '../core/storage/types';
import { createDispatcher } from '../ipc/dispatch';
import { AppSession, type SessionOptions } from '../ipc/session';
import { NO_KEYRING } from '../profiles/secret-box';
import { ProfileStore } from '../profiles/profiles';

/**
 * A started session on `storage` (null: profiles open real stores), its profiles and the app's data
 * in a fresh folder under `parent` (`home`, as a home folder holds ~/.config), and its dispatcher.
 */
export async function memorySession(parent: string, storage: StorageBackend | null, options: (home: string) => Partial<Omit<SessionOptions, 'profiles'>> = () => ({})) {
  const home = mkdtempSync(path.join(parent, 'home-'));
  const profiles = new ProfileStore(path.join(home, 'profiles.json'), NO_KEYRING, path.join(home, 'store'));
  const session = new AppSession({ profiles, commandLine: { kind: 'memory' }, openBackend: storage ? async () => storage : undefined, ...options(home) });
  await session.start();
  return { home, profiles, session, dispatch: createDispatcher(session) };
}
