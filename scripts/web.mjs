// `npm run web`: the bridge bundled to plain JavaScript (build-app.mjs), built first if stale.
import { pathToFileURL } from 'node:url';
import { BRIDGE_BUNDLE, ensureAppBuilt } from './build-app.mjs';
import { runFromCallersFolder } from './callers-folder.mjs';

await ensureAppBuilt();
runFromCallersFolder('web');
await import(pathToFileURL(BRIDGE_BUNDLE).href);
