/** The bundled bridge's entry file. */
export const BRIDGE_BUNDLE: string;
/** What the app is built from and what it consists of, relative to the repository. */
export function appBuild(root: string): { name: string; inputs: string[]; outputs: string[] };
/** Builds the app unless it was built from exactly today's sources; resolves to whether it built. */
export function ensureAppBuilt(root?: string): Promise<boolean>;
