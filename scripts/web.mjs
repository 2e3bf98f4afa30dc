// `npm run web`: the bridge bundled to plain JavaScript (build-app.mjs), built first if stale.
import { pathToFileURL } from 'node:url';
import { BRIDGE_BUNDLE, ensureAppBuilt } from './build-app.mjs';

await ensureAppBuilt();
await import(pathToFileURL(BRIDGE_BUNDLE).href);
