/** The bundled CLI's entry file. */
export const CLI_BUNDLE: string;
/** What the CLI bundle is built from and what it consists of, relative to the repository. */
export function cliBuild(root: string): { name: string; inputs: string[]; outputs: string[] };
/** Builds the CLI bundle unless it was built from exactly today's sources; resolves to whether it built. */
export function ensureCliBuilt(root?: string): Promise<boolean>;
