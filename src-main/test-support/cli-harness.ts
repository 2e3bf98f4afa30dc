import { execFile } from 'node:child_process';
import { CLI_BUNDLE } from '../../scripts/build-cli.mjs';
import { PassThrough, Readable } from 'node:stream';
import * as path from 'node:path';
import { runCli } from '../cli/cli';

export const REPO_ROOT = path.resolve(import.meta.dirname, '../..');
export const CLI_ENTRY = path.join(REPO_ROOT, 'src-main/cli/main.ts');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  stdoutBytes: Buffer;
}

/** Runs the CLI in this process with captured streams (fast; same code path as the binary). */
export async function cli(args: string[], options: { stdin?: Uint8Array; env?: NodeJS.ProcessEnv; stderrIsTTY?: boolean } = {}): Promise<CliResult> {
  const stdout = new PassThrough();
  const stderr = Object.assign(new PassThrough(), { isTTY: options.stderrIsTTY === true }); // a terminal gets the progress line
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on('data', (c: Buffer) => out.push(c));
  stderr.on('data', (c: Buffer) => err.push(c));
  const code = await runCli(args, {
    stdin: Readable.from(options.stdin ? [Buffer.from(options.stdin)] : []),
    stdout,
    stderr,
    env: options.env ?? {},
  });
  const stdoutBytes = Buffer.concat(out);
  return { code, stdout: stdoutBytes.toString(), stderr: Buffer.concat(err).toString(), stdoutBytes };
}

/** Runs the CLI as a real process: exit codes and stdio as scripts see them. */
export function cliProcess(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', CLI_ENTRY, ...args],
      { cwd: REPO_ROOT, env: { ...process.env, ...env }, encoding: 'buffer', maxBuffer: 1 << 28 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout: stdout.toString(), stderr: stderr.toString(), stdoutBytes: stdout });
      },
    );
  });
}

export interface BundledCliOptions {
  env?: NodeJS.ProcessEnv;
  /** Run as this user (needs root): tests of permissions, which root never hits. */
  uid?: number;
  /** Kill it after this many ms (a hang then shows as exit code null). */
  timeout?: number;
}

/**
 * Runs the bundled CLI (built once by the test setup) as a real process: starts in ~0.1 s, and
 * bulk stores run in its worker threads.
 */
export function bundledCli(args: string[], options: BundledCliOptions = {}): Promise<Omit<CliResult, 'code'> & { code: number | null }> {
  return new Promise((resolve) => {
    const ids = options.uid === undefined ? {} : { uid: options.uid, gid: options.uid };
    execFile(process.execPath, [CLI_BUNDLE, ...args], { env: { ...process.env, ...options.env }, encoding: 'buffer', maxBuffer: 1 << 28, timeout: options.timeout, ...ids }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
      resolve({ code, stdout: stdout.toString(), stderr: stderr.toString(), stdoutBytes: stdout });
    });
  });
}
