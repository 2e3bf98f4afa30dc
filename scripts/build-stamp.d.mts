/** The repository's top-level files (configuration, package.json and its lock), Markdown aside. */
export function topLevelFiles(root: string): string[];
/** SHA-256 over each input's path and bytes; folders are read recursively, test files left out. */
export function sourceDigest(root: string, inputs: string[]): string;
/** Runs `build` unless the stamp matches the inputs' digest and every output exists; resolves to whether it built. */
export function buildIfStale(options: { root: string; name: string; inputs: string[]; outputs: string[]; build: () => Promise<void> }): Promise<boolean>;
/** Bundles TypeScript entry points for Node with esbuild (dependencies stay in node_modules). */
export function bundleForNode(root: string, entryPoints: Record<string, string>, outdir: string): Promise<void>;
