import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';

/** What `npm run cli` runs, minus npm's own start-up. */
export const CLI = [path.resolve(import.meta.dirname, '../scripts/cli.mjs')];

export interface BenchRow {
  name: string;
  ours: string;
  reference: string;
  /** ours / reference in the unit the target is stated in. */
  ratio: number | null;
  target: string;
  pass: boolean | null;
  note?: string;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Runs a command to completion and returns its wall time in ms (throws on a non-zero exit). */
export async function timeCommand(command: string, args: string[], options: { cwd?: string; stdin?: string; env?: NodeJS.ProcessEnv } = {}): Promise<number> {
  return (await runTimed(command, args, options)).ms;
}

/** Like timeCommand, also returning what the command wrote to stderr (and to stdout, when asked). */
export function runTimed(command: string, args: string[], options: { cwd?: string; stdin?: string; env?: NodeJS.ProcessEnv; stdout?: boolean } = {}): Promise<{ ms: number; stderr: string; stdout: string }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(command, args, { cwd: options.cwd, env: { ...process.env, ...options.env }, stdio: 'pipe' });
    let stderr = '';
    let stdout = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.stdout.on('data', (c: Buffer) => void (options.stdout && (stdout += c.toString())));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve({ ms: performance.now() - started, stderr, stdout });
      else reject(new Error(`${command} ${args.join(' ')} exited ${code}: ${stderr.slice(0, 500)}`));
    });
    // A command that never reads its stdin may exit before we close it: its exit code decides, not EPIPE.
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.stdin ?? '');
  });
}

/**
 * Writes every dirty page to disk before a timed command (untimed), so no command pays for the
 * write-back of the one before it, whether it flushes or not.
 */
export function settleWrites(): void {
  spawnSync('sync');
}

/** `cache-admin store <folder>` into a new store, the whole command timed (rows 1 and 11), after earlier writes settled. */
export function timeCliStore(store: string, folder: string): Promise<number> {
  settleWrites();
  return timeCommand(process.execPath, [...CLI, '--store', store, '--json', 'store', folder]);
}

/**
 * Runs ours and the reference `runs` times, who goes first alternating: file creation on this disk
 * slows down for a while after many writes or deletions, which hits whichever runs first most.
 */
export async function alternating(runs: number, reference: (run: number) => Promise<void>, ours: (run: number) => Promise<void>): Promise<void> {
  for (let run = 0; run < runs; run++) {
    if (run % 2 === 0) {
      await reference(run);
      await ours(run);
    } else {
      await ours(run);
      await reference(run);
    }
  }
}

/** The value at quantile q (0..1) of already collected samples. */
export function percentile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

export function hasCommand(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`]).status === 0;
}

export function machineFacts(): string {
  return `${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown'}), ${Math.round(os.totalmem() / 1024 ** 3)} GiB, Node ${process.version}, ${os.platform()} ${os.release()}`;
}

export function formatTable(rows: BenchRow[]): string {
  const header = ['what', 'ours', 'reference', 'ratio', 'target', 'result'];
  const body = rows.map((r) => [
    r.name,
    r.ours,
    r.reference,
    r.ratio === null ? '-' : `${r.ratio.toFixed(2)}x`,
    r.target,
    r.pass === null ? `skipped${r.note ? `: ${r.note}` : ''}` : r.pass ? 'pass' : 'FAIL',
  ]);
  const lines = [header, header.map(() => '---'), ...body].map((cells) => `| ${cells.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`);
  return lines.join('\n');
}

/** `npm run web` on a fresh store folder, as an operator starts it; resolves with its base URL, token and a stop. */
export async function startWebBridge(work: string, store: string): Promise<{ base: string; token: string; stop: () => Promise<void> }> {
  await fs.mkdir(store, { recursive: true }); // the bridge opens no folder that is not there
  const child = spawn(process.execPath, [path.resolve(import.meta.dirname, '../scripts/web.mjs'), '--store', store, '--port', '0'], {
    env: { ...process.env, XDG_CONFIG_HOME: await fs.mkdtemp(path.join(work, 'config-')) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const url = await new Promise<URL>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      const match = /http:\/\/127\.0\.0\.1:\d+\/\?token=\S+/.exec(out);
      if (match) resolve(new URL(match[0]));
    });
    child.on('exit', (code) => reject(new Error(`npm run web exited with ${code}: ${stderr}`)));
  });
  return {
    base: url.origin,
    token: url.searchParams.get('token')!,
    stop: async () => {
      child.kill('SIGTERM');
      if (child.exitCode === null) await new Promise((r) => child.once('exit', r));
    },
  };
}

/**
 * The least an upload's receiver can do: read an HTTP request body into one reused buffer and
 * answer 200 (Python's `recv_into`, no parsing beyond `Content-Length`, nothing hashed or
 * written). Timing curl into it beside `openssl dgst` of the same file shows what sending the
 * bytes and hashing them cost together on this machine's cores, before any store does anything.
 */
const RECEIVE_ONLY = `
import socket
server = socket.create_server(('127.0.0.1', 0))
print(server.getsockname()[1], flush=True)
buffer = memoryview(bytearray(4 << 20))
while True:
    conn, _ = server.accept()
    head = b''
    while b'\\r\\n\\r\\n' not in head:
        head += conn.recv(4096)
    head, body = head.split(b'\\r\\n\\r\\n', 1)
    length = next(int(line.split(b':')[1]) for line in head.split(b'\\r\\n') if line.lower().startswith(b'content-length:'))
    received = len(body)
    while received < length:
        n = conn.recv_into(buffer)
        if not n:
            break
        received += n
    conn.sendall(b'HTTP/1.1 200 OK\\r\\nContent-Length: 0\\r\\nConnection: close\\r\\n\\r\\n')
    conn.close()
`;

export async function startReceiveOnlyReader(): Promise<{ url: string; stop: () => void }> {
  const child = spawn('python3', ['-c', RECEIVE_ONLY], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.once('data', (c: Buffer) => resolve(Number(c.toString().trim())));
    child.once('exit', (code) => reject(new Error(`the receive-only reader exited with ${code}`)));
  });
  return { url: `http://127.0.0.1:${port}/`, stop: () => child.kill() };
}
