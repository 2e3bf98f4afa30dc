/**
 * `npm run <script>` runs in the project's folder, wherever it was typed: paths the operator gives
 * (`store photo.jpg`, `--out saved.txt`, `--store ./mine`) mean the folder they typed it in, which
 * npm passes as INIT_CWD. Only for that script itself, not for a process some other script started.
 */
export function runFromCallersFolder(script) {
  if (process.env.npm_lifecycle_event === script && process.env.INIT_CWD) process.chdir(process.env.INIT_CWD);
}
