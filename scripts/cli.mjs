// `npm run cli`: the bundled CLI (see build-cli.mjs). Same code as src-main/cli/main.ts.
import { pathToFileURL } from 'node:url';
import { CLI_BUNDLE, ensureCliBuilt } from './build-cli.mjs';
import { runFromCallersFolder } from './callers-folder.mjs';

await ensureCliBuilt();
runFromCallersFolder('cli');
await import(pathToFileURL(CLI_BUNDLE).href);
