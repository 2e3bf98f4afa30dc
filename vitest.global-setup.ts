// Built once before any test file runs: tests that run the bundled CLI must not build it at once.
import { ensureCliBuilt } from './scripts/build-cli.mjs';

export default async function setup(): Promise<void> {
  await ensureCliBuilt();
}
