/** The bundled CLI's entry file. */
export const CLI_BUNDLE: string;
/** Builds the CLI bundle unless it is newer than every source. */
export function ensureCliBuilt(): Promise<void>;
