/** The Electron binary under root, or why it is missing and the one command that installs it. */
export function electronRuntime(root: string, env?: NodeJS.ProcessEnv): { binary: string; missing?: undefined; fix?: undefined } | { binary?: undefined; missing: string; fix: string };
