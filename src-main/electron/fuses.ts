// Electron fuses: switches compiled into the Electron binary, flipped once on the copy that ships
// (`npm run fuses -- <binary>`), never on node_modules/electron, which `npm start` runs from a folder.
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { FuseV1Options, FuseVersion, flipFuses, type FuseV1Config } from '@electron/fuses';

export const APP_FUSES = {
  version: FuseVersion.V1,
  // ELECTRON_RUN_AS_NODE, NODE_OPTIONS and --inspect cannot turn the signed app into a Node that runs anyone's code.
  [FuseV1Options.RunAsNode]: false,
  [FuseV1Options.EnableNodeOptionsEnvironmentVariable]: false,
  [FuseV1Options.EnableNodeCliInspectArguments]: false,
  [FuseV1Options.EnableCookieEncryption]: true,
  // The app runs only from resources/app.asar, checked against the hash the packager embeds.
  [FuseV1Options.OnlyLoadAppFromAsar]: true,
  [FuseV1Options.EnableEmbeddedAsarIntegrityValidation]: true,
  [FuseV1Options.LoadBrowserProcessSpecificV8Snapshot]: false,
  // The renderer is served on app://, so file:// needs none of its old privileges.
  [FuseV1Options.GrantFileProtocolExtraPrivileges]: false,
} satisfies FuseV1Config;

/** Where Electron looks for the app beside a binary: resources/app.asar, or Contents/Resources/app.asar in a macOS bundle. */
export function appAsarOf(binary: string): string {
  const bundle = /^(.*?\.app)(?:[\\/]|$)/.exec(binary)?.[1];
  return bundle ? path.join(bundle, 'Contents', 'Resources', 'app.asar') : path.join(path.dirname(binary), 'resources', 'app.asar');
}

/** Flips APP_FUSES on a packaged Electron binary; refuses one without app.asar, which OnlyLoadAppFromAsar would leave unable to start. */
export async function flipAppFuses(binary: string): Promise<void> {
  const asar = appAsarOf(binary);
  if (!existsSync(asar)) throw new Error(`no ${asar}: fuses go on a packaged app's binary, whose code is in app.asar`);
  await flipFuses(binary, APP_FUSES);
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const binary = process.argv[2];
  if (!binary) {
    console.error('usage: npm run fuses -- <packaged Electron binary or .app>');
    process.exit(2);
  }
  flipAppFuses(path.resolve(binary)).then(
    () => console.log(`Cache Admin: fuses set on ${binary}`),
    (err: Error) => {
      console.error(`cache-admin: fuses: ${err.message}`);
      process.exit(2);
    },
  );
}
