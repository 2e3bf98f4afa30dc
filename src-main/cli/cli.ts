import { createWriteStream } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import type { Readable, Writable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import packageJson from '../../package.json' with { type: 'json' };
import { DEFAULT_NAMESPACE, MAX_VERIFY_SAMPLE, parseVersion } from '../../src-shared/domain';
import { CacheError, fileSystemError, isCacheError } from '../../src-shared/errors';
import { printable, shownName } from '../../src-shared/printable';
import type { Detection } from '../core/formats/detect';
import { CHECKED_WHOLE_BYTES, type FormatHashResult, type FormatLookup, type FormatRecord, type FormatStoreInput, type FormatStoreResult, type StoreFormat, contentProblemOf, namespacesAtTop, namespacesHolding, withNamespacesHolding } from '../core/formats/format';
import { type StoreLocation, missingStoreFolder, openStore } from '../core/open-store';
import { assertWritable } from '../core/storage/read-only';
import type { ContentSource } from '../core/storage/types';
import { interruptible } from './interruptible';
import { EXIT, exitCodeOf } from './exit-codes';
import { ProgressLine } from './progress';
import { type FileToStore, LOCAL_SMALL_FILES, REMOTE_SMALL_FILES, type StoreChoice, type StoreOutcome, StorePool, WORKER_MIN_FILES, asCacheError, expandPaths, statRoots, storeFiles } from './store-files';
import { STORE_OPTIONS, formatChoice, maxEntryBytesOf, storeLocation, usageError } from './store-options';
import { RETENTION_OPTIONS, RETENTION_USAGE, cmdPolicy, cmdPrune, expiredKeys, expiryFields, refuseExpired, withExpiry } from './retention';

/** Usage errors that show the whole usage text after their one line. */
class UsageTextError extends CacheError {
  constructor(message: string) {
    super('invalid_input', message);
  }
}

export interface CliIo {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
  /** The store worker's script, when this process can start worker threads (the CLI binary). */
  storeWorker?: URL;
  /** Standard input is /dev/null: closed (`<&-`, Node opens /dev/null in its place) or redirected from it. */
  stdinIsNull?: boolean;
}

const USAGE = `usage: cache-admin [--store DIR | --memory | --s3-bucket B [S3 options]] [--format native|mgraph] [--ns NAMESPACE] [--json] <command> [args]
Layout: detected from the store's keys (an empty store is native); --format native|mgraph forces it
  (mgraph: the Python cache service's own layout; an empty store is then created in it)
Limits: --max-entry-size SIZE (e.g. 512M; default 64G, 256M in the service layout) refuses bigger content before it is stored
S3 options: --s3-prefix P --s3-endpoint URL --s3-region R --s3-path-style --s3-checksum when_required|when_supported --profile NAME
  (credentials: the AWS SDK's usual chain: environment, shared config/credentials files, SSO)
commands:
  capabilities                               the layout open and what the store supports (conditional writes)
  hash <path...|-> [--as bytes|string|json]  print the cache hash without storing (several: "<hash>  <path>" lines)
  store <path...|-> [--as bytes|json|string] [--strategy S]
                                             store files (folders recursively); --as string and --strategy
                                             (direct, temporal, temporal_latest, temporal_versioned, key_based)
                                             in the service layout
  get <hash|cache_id> [--version N] [--out FILE|- [--force]] [--allow-expired]
  info <hash|cache_id> [--version N]
  versions <hash|cache_id>
  namespaces
  stats
  ls [prefix] [--delimiter] [--limit N] [--cursor KEY]
                                             storage keys from the store's root (with --ns: under that namespace;
                                             a prefix NS/… that names nothing there is taken as written)
  delete <hash|cache_id> [--version N]
  verify [--sample N] [--repair]             check every byte and reference (all namespaces unless --ns)
${RETENTION_USAGE}
cache-admin --version prints the program's version.
Exit codes: 0 done, 1 not found (verify: problems found; prune: versions left alone), 2 invalid input or usage, 3 other failures,
  130 stopped by Ctrl+C, 143 by TERM`;


const OPTIONS = {
  ns: { type: 'string' },
  json: { type: 'boolean' },
  as: { type: 'string' },
  version: { type: 'string' },
  out: { type: 'string' },
  force: { type: 'boolean' },
  delimiter: { type: 'boolean' },
  limit: { type: 'string' },
  cursor: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  sample: { type: 'string' },
  repair: { type: 'boolean' },
  strategy: { type: 'string' },
  ...STORE_OPTIONS,
  ...RETENTION_OPTIONS,
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];


export async function runCli(argv: string[], io: CliIo): Promise<number> {
  // Output that cannot be written: a reader that went away (`ls | head -1`) ends a command that only
  // reads, quietly with 0; a command that changes the store does its work to the end (stopped
  // half-way it would leave some of it undone) and is judged by it. Any other failure (a full disk)
  // fails the command, once its work is done.
  let outputLost = null as NodeJS.ErrnoException | null; // set by the listener below
  let changesStore = false;
  io.stdout.on('error', (err: NodeJS.ErrnoException) => void (outputLost ??= err));
  // Notes and errors that find no reader (`2>&1 | head -1`) are dropped: they never stop the command.
  io.stderr.on('error', () => undefined);
  const write = (text: string) => {
    if (!outputLost) io.stdout.write(text);
    else if (!changesStore) throw outputLost;
  };
  try {
    // Alone, the program's version (for a bug report); with a command, --version N names an entry's version.
    if (argv.length === 1 && argv[0] === '--version') {
      write(`cache-admin ${packageJson.version}\n`);
      return EXIT.ok;
    }
    let parsed;
    try {
      parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true, tokens: true });
    } catch (err) {
      throw new UsageTextError((err as Error).message.replace(/\n/g, ' ')); // one line: Node's own message spans several
    }
    // parseArgs keeps the last of a repeated option: `--store A --store B` would act on B without a word.
    const given = parsed.tokens.filter((t) => t.kind === 'option').map((t) => t.name);
    const twice = given.find((name, i) => given.indexOf(name) !== i);
    if (twice) throw new UsageTextError(`--${twice} is given more than once: give it once`);
    const { values, positionals } = parsed;
    const [command, ...args] = positionals;
    if (values.help || !command) {
      if (!command && !values.help) throw new UsageTextError('no command given');
      write(`${USAGE}\n`);
      return EXIT.ok;
    }
    if (!Object.hasOwn(COMMANDS, command)) throw new UsageTextError(`unknown command "${command}"`);
    const handler = COMMANDS[command as CommandName];
    refuseOptionsNotTaken(command as CommandName, given);
    changesStore = changesTheStore(command, args, values);
    // Validate what can be validated before the store is opened, so bad input creates nothing.
    const location = storeLocation(values, io.env);
    const maxEntryBytes = maxEntryBytesOf(values, io.env);
    // A CLI run owns its process: direct system calls beat thread-pool trips for bulk stores.
    const { format, detection } = await openStore(location.kind === 'local' ? { ...location, blockingIo: true } : location, { format: formatChoice(values), maxEntryBytes });
    try {
      // Namespace rules are the layout's (the service's allow upper case and "_"); opening wrote nothing.
      const ns = format.parseNamespace(values.ns ?? DEFAULT_NAMESPACE);
      if (NEEDS_A_STORE.has(command)) await refuseMissingStoreFolder(location, io.env);
      const ctx: Ctx = { format, detection, location, maxEntryBytes, ns, values, args, io, write };
      // stats without --ns reads the default namespace, which a store of other namespaces may lack.
      if (NAMESPACE_WIDE.has(command) && (values.ns !== undefined || command === 'stats')) await noteEmptyNamespace(ctx, values.ns === undefined);
      try {
        const code = await handler(ctx);
        await new Promise((resolve) => io.stdout.write('', resolve)); // its last line written, or failed
        if (!outputLost || outputLost.code === 'EPIPE') return code;
        // Said, but the command's own failure (prune that left versions alone, paths not stored) keeps its code.
        const failed = reportOutputLost(outputLost, changesStore && code === EXIT.ok, io);
        return code === EXIT.ok ? failed : code;
      } catch (err) {
        if (values.ns === undefined && LOOKUPS.has(command) && err instanceof CacheError && err.code === 'not_found') throw await withNamespaceHint(ctx, err);
        throw err;
      }
    } finally {
      await format.storage.close();
    }
  } catch (err) {
    if (!changesStore && (outputLost ?? (err as NodeJS.ErrnoException))?.code === 'EPIPE') return EXIT.ok;
    if (outputLost && err === outputLost) return reportOutputLost(outputLost, false, io);
    return reportError(err, io);
  }
}


/** A count option, written in digits as a person writes one (`1e2`, `0x10`, `2.0` and ` 5` are refused, as `--version` and `--keep-versions` refuse them). */
function wholeNumberOption(name: string, text: string | undefined, max: number): number | undefined {
  if (text === undefined) return undefined;
  const n = /^[0-9]{1,10}$/.test(text) ? Number(text) : NaN;
  if (!(n >= 1 && n <= max)) throw usageError(`--${name} takes a whole number from 1 to ${max.toLocaleString('en-US')}`);
  return n;
}
function reportOutputLost({ code, message }: NodeJS.ErrnoException, workDone: boolean, io: CliIo): number {
  const what = workDone ? 'the command did its work, but what it printed is lost' : 'the output is incomplete';
  return reportError(new CacheError(code === 'ENOSPC' ? 'no_space' : 'io_error', `could not write to standard output (${message}): ${what}`), io);
}

/** Whether the command changes the store: a lost reader does not stop it half-way. */
function changesTheStore(command: string, args: string[], values: Values): boolean {
  if (command === 'store' || command === 'delete') return true;
  if (command === 'prune') return values['dry-run'] !== true;
  if (command === 'policy') return args[0] === 'set';
  return command === 'verify' && values.repair === true;
}

const COLLISION_WARNING = 'conditional writes: not supported: concurrent writers may collide on version numbers';

/**
 * An error's line on stderr. Controls are escaped (a name cannot start a line or send an escape), but
 * backslashes are not doubled as in listings: a message quotes a bad value JSON-style ("a\tb"), and
 * doubling showed it escaped twice.
 */
function errorLine(code: string, message: string): string {
  return `cache-admin: ${code}: ${shownName(message)}\n`;
}

/** One line on stderr, and the exit code for it. */
function reportError(err: unknown, io: CliIo): number {
  const error = asCacheError(err);
  io.stderr.write(`${errorLine(error.code, error.message)}${error instanceof UsageTextError ? `${USAGE}\n` : ''}`);
  return exitCodeOf(error);
}



interface Ctx {
  format: StoreFormat;
  /** Which layout is open, and why. */
  detection: Detection;
  location: StoreLocation;
  /** --max-entry-size, when given (each layout has its own default). */
  maxEntryBytes: number | undefined;
  ns: string;
  values: Values;
  args: string[];
  io: CliIo;
  write: (text: string) => void;
}

function one(args: string[], what: string): string {
  if (args.length !== 1) throw usageError(`expected exactly one ${what}`);
  return args[0]!;
}

type StoreAs = NonNullable<FormatStoreInput['as']>;

/** `layout`: the open store's, when it takes fewer than every kind (string is the service layout's). */
function storeAs(value: string | undefined, allowed: readonly StoreAs[], layout?: string): StoreAs {
  const as = value ?? 'bytes';
  if ((allowed as readonly string[]).includes(as)) return as as StoreAs;
  const known = (['bytes', 'string', 'json'] as const).includes(as as StoreAs);
  throw usageError(known && layout ? `--as ${as} is not taken by this store's layout (${layout}): it takes ${allowed.join(', ')}` : `--as takes ${allowed.join(', ')}`);
}

/** A hash, cache id, SHA-256 or entry key argument (as the layout reads them) plus an optional --version. */
async function lookupOf(ctx: Ctx): Promise<FormatLookup> {
  const lookup = await ctx.format.parseLookup(ctx.ns, one(ctx.args, 'hash or cache id'));
  if (ctx.values.version === undefined) return lookup;
  const version = parseVersion(ctx.values.version);
  if ('cacheId' in lookup || (lookup.version !== undefined && lookup.version !== version)) throw usageError('--version disagrees with the cache id');
  return { ...lookup, version };
}

function sourceOf(arg: string, io: CliIo): { source: ContentSource; name: string } {
  if (arg === '-') return { source: { kind: 'stream', stream: io.stdin }, name: 'stdin' };
  return { source: { kind: 'file', path: arg }, name: path.basename(arg) };
}

/** One store result as a text line; `name` stands in where the layout records no source name. */
function storeLine(r: FormatStoreResult, name: string): string {
  const what = r.deduplicated ? 'new version of content already stored' : 'new content';
  return `${r.cache_id}  ${r.size} bytes  ${printable(r.source || name) || '-'}  (${what})\n`;
}

async function cmdHash(ctx: Ctx): Promise<number> {
  const as = storeAs(ctx.values.as, ['bytes', 'string', 'json']);
  checkPaths('hash', ctx.args);
  // Several paths: a line each, "<hash>  <path>" as sha256sum prints them; one path: the hash alone.
  const several = ctx.args.length > 1;
  let firstFailure: CacheError | null = null;
  for (const arg of ctx.args) {
    try {
      const result = await hashOne(ctx, arg, as);
      ctx.write(ctx.values.json ? `${JSON.stringify({ path: arg, ...result })}\n` : several ? `${result.hash}  ${printable(arg)}\n` : `${result.hash}\n`);
    } catch (err) {
      // One path that cannot be hashed stops none of the others; the command exits as the first failure did.
      if (!several) throw err;
      const error = asCacheError(err);
      const said = error.message.includes(arg) ? error.message : `${arg}: ${error.message}`; // named once, whichever check failed
      ctx.io.stderr.write(errorLine(error.code, said));
      // --json: one object per path, as store --json writes them.
      if (ctx.values.json) ctx.write(`${JSON.stringify({ path: arg, error: { code: error.code, message: said } })}\n`);
      firstFailure ??= error;
    }
  }
  return firstFailure ? exitCodeOf(firstFailure) : EXIT.ok;
}

/** The paths store and hash read: at least one, none empty (an unset variable), and - (standard input) alone. */
function checkPaths(command: 'store' | 'hash', args: string[]): void {
  if (args.length === 0) throw usageError(`${command} needs at least one path, or - for standard input`);
  if (args.includes('')) throw usageError(`a path given is empty (an unset variable?): nothing was ${command === 'store' ? 'stored' : 'hashed'}`);
  if (args.includes('-') && args.length > 1) throw usageError('- (standard input) cannot be combined with paths');
}

async function hashOne(ctx: Ctx, arg: string, as: StoreAs): Promise<FormatHashResult> {
  const { source, name } = sourceOf(arg, ctx.io);
  const waiting = arg !== '-' && (await fs.stat(arg).catch(() => null))?.isFIFO() ? waitingNote(ctx.io, arg) : null;
  try {
    const result = await ctx.format.hash({ source, name, as }, { onProgress: waiting?.arrived });
    // Hashing stores nothing, so nothing is refused; but a closed stdin should not pass for empty input unremarked.
    if ((arg === '-' || STDIN_PATHS.includes(arg)) && ctx.io.stdinIsNull) ctx.io.stderr.write('cache-admin: note: standard input is closed or /dev/null: this is the hash of empty content\n');
    return result;
  } finally {
    waiting?.arrived();
  }
}

/** How long a pipe may stay silent before the CLI says what it waits for. */
export const PIPE_NOTE_AFTER_MS = 1000;

/** A named pipe is read as it is written: if nothing comes for a moment, say what the command waits for. */
function waitingNote(io: CliIo, file: string): { arrived: () => void } {
  const timer = setTimeout(() => io.stderr.write(`cache-admin: note: waiting for a writer on ${printable(file)}… (Ctrl+C stops)\n`), PIPE_NOTE_AFTER_MS);
  timer.unref();
  return { arrived: () => clearTimeout(timer) };
}

/** A store held up by another process's delete says so (else it sat silent up to 30 s behind a killed one), once per delete, on a line of its own. */
function noteWaiting(io: CliIo, progress: ProgressLine | null): (why: string) => void {
  const said = new Set<string>();
  return (why) => {
    if (said.has(why)) return;
    said.add(why);
    progress?.done(); // the status line is drawn again after it
    io.stderr.write(`cache-admin: note: ${why}\n`);
  };
}

async function cmdStore(ctx: Ctx): Promise<number> {
  const { format } = ctx;
  const as = storeAs(ctx.values.as, format.capabilities.storeAs, format.name);
  const input = { as, options: ctx.values.strategy === undefined ? undefined : { strategy: ctx.values.strategy } };
  // The layout refuses what it cannot store (--strategy on a native store) before anything is read.
  format.checkStoreInput(input);
  checkPaths('store', ctx.args);
  assertWritable(format.storage, 'store');
  const progress = !ctx.values.json && ctx.io.stderr.isTTY ? new ProgressLine(ctx.io.stderr) : null;
  if (!format.storage.capabilities.conditionalWrites) ctx.io.stderr.write(`cache-admin: warning: ${COLLISION_WARNING}\n`);
  // In JSON each result names its path as given (- for standard input), as a failure's or a skip's line does, so a script can join them to its input.
  const line: StoreLine = (r, name, given) => (ctx.values.json ? `${JSON.stringify({ path: given, ...r })}\n` : storeLine(r, name));
  // Ctrl+C (or TERM) cancels the stores under way, which remove what they had written.
  return interruptible(
    (signal) => storeAll(ctx, format, input, line, progress, signal),
    () => ctx.io.stdin.destroy(), // a read waiting on a pipe ends now
  );
}

/** One store result as output: `name` shown where the layout records none, `given` the path as the command line or the folder walk gave it. */
type StoreLine = (r: FormatStoreResult, name: string, given: string) => string;

// Said of both layouts: the service's refuses empty content whichever way it comes.
const STORE_EMPTY = "to store empty content, pipe it: printf '' | cache-admin store - (the native layout takes it; the service's layout stores no empty content)";
/** Names scripts give standard input. */
const STDIN_PATHS = ['/dev/stdin', '/dev/fd/0', '/proc/self/fd/0'];

async function storeAll(ctx: Ctx, format: StoreFormat, input: StoreChoice, line: StoreLine, progress: ProgressLine | null, signal: AbortSignal): Promise<number> {
  if (ctx.args.includes('-')) {
    if (ctx.io.stdinIsNull) {
      throw usageError(`- reads standard input, and it is closed or /dev/null: nothing was read, so nothing was stored (${STORE_EMPTY})`);
    }
    const { source, name } = sourceOf('-', ctx.io);
    ctx.write(line(await format.store(ctx.ns, { ...input, source, name }, { onProgress: (n) => progress?.bytes(n), signal, onWaiting: noteWaiting(ctx.io, progress) }), name, '-'));
    progress?.done();
    return EXIT.ok;
  }
  const roots = await statRoots(ctx.args);
  const nothing = roots.find((r) => r.isNullDevice);
  if (nothing) {
    const why = STDIN_PATHS.includes(nothing.arg) ? ': standard input is closed or /dev/null' : ' (/dev/null)';
    throw usageError(`${nothing.arg} reads as nothing${why}, so nothing was stored (${STORE_EMPTY})`);
  }
  // A folder may hold many files: start the workers while it is walked, where the layout lets several threads write.
  const { location } = ctx;
  const parallel = location.kind === 'local' && format.capabilities.parallelWriters && ctx.io.storeWorker && roots.some((r) => r.isFolder);
  const pool = parallel ? new StorePool(ctx.io.storeWorker!, { dir: location.dir, format: format.name, maxEntryBytes: ctx.maxEntryBytes }) : null;
  const waiting = roots.length === 1 && roots[0]!.isPipe ? waitingNote(ctx.io, roots[0]!.arg) : null;
  const report = new StoreReport(ctx, line, progress);
  try {
    const { files, passedOver } = expandPaths(roots, location.kind === 'local' ? location.dir : undefined);
    report.expect(files.length + passedOver.length);
    for (const item of passedOver) report.outcome(item.index, item.path, item.outcome);
    const onOutcome = (file: FileToStore, outcome: StoreOutcome) => report.outcome(file.index, file.path, outcome);
    if (pool && files.length >= WORKER_MIN_FILES) await pool.storeFiles(ctx.ns, input, files, onOutcome, signal);
    else {
      await storeFiles(format, ctx.ns, input, files, onOutcome, {
        signal,
        small: location.kind === 'local' ? LOCAL_SMALL_FILES : REMOTE_SMALL_FILES,
        onBytes: files.length === 1 ? (n) => (waiting?.arrived(), progress?.bytes(n)) : undefined,
        onWaiting: noteWaiting(ctx.io, progress),
      });
    }
  } finally {
    waiting?.arrived();
    await pool?.close();
  }
  progress?.done();
  return report.finish();
}

/**
 * Reports a store's outcomes in input order, each as soon as every earlier one is known: a result
 * on stdout; a failure on stderr (and in --json on stdout too); a skipped entry as a note. A failure
 * stops nothing: the command ends with a count and the exit code of the first failure.
 */
class StoreReport {
  private readonly waiting = new Map<number, { path: string; outcome: StoreOutcome }>();
  private next = 0;
  private total = 0;
  private bytes = 0;
  private stored = 0;
  private failed = 0;
  /** Of those failed, how many a Ctrl+C stopped: said once at the end, not a line each (the first kept for a single path). */
  private cancelled = 0;
  private firstCancelled = '';
  private firstFailure: CacheError | null = null;

  constructor(
    private readonly ctx: Ctx,
    private readonly line: StoreLine,
    private readonly progress: ProgressLine | null,
  ) {}

  expect(total: number): void {
    this.total = total;
  }

  outcome(index: number, file: string, outcome: StoreOutcome): void {
    this.waiting.set(index, { path: file, outcome });
    let text = '';
    for (let ready = this.waiting.get(this.next); ready; ready = this.waiting.get(this.next)) {
      this.waiting.delete(this.next++);
      text += this.print(ready.path, ready.outcome);
    }
    if (text) this.ctx.write(text);
    if (this.total > 1) this.progress?.files({ done: this.next, total: this.total, stored: this.stored, failed: this.failed }, this.bytes);
  }

  /** Writes notes and errors to stderr; returns what goes to stdout. */
  private print(file: string, outcome: StoreOutcome): string {
    const json = this.ctx.values.json;
    if ('result' in outcome) {
      this.stored++;
      this.bytes += outcome.result.size;
      return this.line(outcome.result, file, file);
    }
    if ('skipped' in outcome) {
      this.ctx.io.stderr.write(`cache-admin: note: skipped ${printable(file)}: ${outcome.skipped}\n`);
      return json ? `${JSON.stringify({ path: file, skipped: outcome.skipped })}\n` : '';
    }
    const error = asCacheError(outcome.error);
    this.failed++;
    this.firstFailure ??= error;
    const message = error.message.includes(file) ? error.message : `${file}: ${error.message}`;
    const line = errorLine(error.code, message);
    if (error.code !== 'cancelled') this.ctx.io.stderr.write(line);
    else if (this.cancelled++ === 0) this.firstCancelled = line;
    return json ? `${JSON.stringify({ path: file, error: { code: error.code, message } })}\n` : '';
  }

  /** The exit code; after failures among several files, one last line says how many. */
  finish(): number {
    if (!this.firstFailure) return EXIT.ok;
    const attempted = this.stored + this.failed;
    if (attempted === 1) this.ctx.io.stderr.write(this.firstCancelled);
    else {
      const named = this.failed - this.cancelled;
      const which = this.cancelled === 0 ? 'each named above' : `${named ? `${named} named above, ` : ''}${this.cancelled} cancelled before ${this.cancelled === 1 ? 'it was' : 'they were'} stored${this.ctx.values.json ? ': each named in the output' : ''}`;
      this.ctx.io.stderr.write(`cache-admin: ${this.firstFailure.code}: ${this.failed} of ${attempted} paths not stored (${which})\n`);
    }
    return exitCodeOf(this.firstFailure);
  }
}

async function cmdGet(ctx: Ctx): Promise<number> {
  const { out, force: forced } = ctx.values;
  // An unset variable ($OUT) must not send the bytes to the terminal, or a script's pipe, unasked.
  if (out?.trim() === '') throw usageError('--out was given an empty value (an unset variable?): nothing was written (- writes to standard output)');
  if (forced && (out === undefined || out === '-')) throw usageError('--force goes with --out FILE: it lets get replace that file');
  const lookup = await lookupOf(ctx);
  if (out === undefined || out === '-') {
    const { record, content } = await ctx.format.retrieve(ctx.ns, lookup);
    await refuseExpired(ctx, record, content);
    noteEncoding(ctx, record);
    let written = 0;
    const counted = async function* (chunks: AsyncIterable<Uint8Array>) {
      for await (const chunk of chunks) {
        yield chunk;
        written += chunk.byteLength;
      }
    };
    try {
      await pipeline(counted(heldWhileSmall(content, CHECKED_WHOLE_BYTES)), ctx.io.stdout, { end: false });
    } catch (err) {
      if (!isCacheError(err) || err.code !== 'corrupt') throw err;
      // The core says what it released; what reached the pipe is this command's to tell.
      const stdout = written === 0 ? 'nothing of it went to standard output' : `its first ${written.toLocaleString('en-US')} bytes had gone to standard output before the damage showed (content over ${CHECKED_WHOLE_BYTES >> 20} MiB streams as it is checked): they are not the content, discard them`;
      throw new CacheError('corrupt', `${err.message}; ${stdout}`, { cause: err });
    }
    return EXIT.ok;
  }
  const force = forced === true;
  // Written beside the target and renamed, so an interrupted get (Ctrl+C, TERM) leaves no partial file.
  const temp = path.join(path.dirname(path.resolve(out)), `.${path.basename(out)}.${randomBytes(4).toString('hex')}.part`);
  return interruptible(async (signal) => {
    try {
      // A missing or expired entry is said before anything about the file.
      const { record, content } = await ctx.format.retrieve(ctx.ns, lookup, { signal });
      await refuseExpired(ctx, record, content);
      const there = await fs.lstat(out).catch(() => null);
      const refused = there?.isDirectory()
        ? new CacheError('invalid_input', `cannot write ${out}: it is a folder (give a file name in it)`)
        : there && !there.isFile()
          ? new CacheError('conflict', `cannot write ${out}: it is ${there.isSymbolicLink() ? 'a symbolic link (give the path it points to)' : 'not a file (a device, pipe or socket): get without --out writes to standard output'}`)
          : there && !force
            ? alreadyThere(out)
            : await insideStore(ctx.location, out);
      if (refused) {
        (content as { destroy?: () => void }).destroy?.();
        throw refused;
      }
      noteEncoding(ctx, record);
      const file = createWriteStream(temp, { flags: 'wx' });
      await pipeline(content, file, { signal });
      if (force) await fs.rename(temp, out);
      else await placeWithoutReplacing(temp, out);
      // A script asked for JSON learns what was written where (the bytes, decoded, may differ from the stored size).
      if (ctx.values.json) ctx.write(`${JSON.stringify({ out: path.resolve(out), cache_id: record.cache_id, hash: record.hash, version: record.version, bytes: file.bytesWritten })}\n`);
    } catch (err) {
      await fs.rm(temp, { force: true });
      if (signal.aborted) throw new CacheError('cancelled', `get was cancelled: ${out} was not written`);
      if (isCacheError(err) && err.code === 'corrupt') throw new CacheError('corrupt', `${err.message}; ${out} was not written`, { cause: err });
      throw isCacheError(err) ? err : fileSystemError(err, `cannot write ${out}`);
    }
    return EXIT.ok;
  });
}

/**
 * Content held back until it ends, so a corrupt one (checked as it ends) fails before a pipe gets
 * a byte of it; past `limit` bytes, what was held and the rest go on as they come.
 */
async function* heldWhileSmall(content: AsyncIterable<Uint8Array>, limit: number): AsyncIterable<Uint8Array> {
  let held: Uint8Array[] | null = [];
  let size = 0;
  for await (const chunk of content) {
    if (!held) {
      yield chunk;
      continue;
    }
    held.push(chunk);
    size += chunk.byteLength;
    if (size > limit) {
      yield* held;
      held = null;
    }
  }
  if (held) yield* held;
}

function noteEncoding(ctx: Ctx, record: FormatRecord): void {
  if (record.content_encoding) ctx.io.stderr.write(`cache-admin: note: ${record.cache_id} is stored ${record.content_encoding}-encoded; written decoded, as the service serves it\n`);
}

/** A file written into a local store's folder could replace stored content (or pass for it). */
async function insideStore(location: StoreLocation, out: string): Promise<CacheError | null> {
  if (location.kind !== 'local') return null;
  const [root, folder] = await Promise.all([location.dir, path.dirname(path.resolve(out))].map((p) => fs.realpath(p).catch(() => null)));
  if (!root || !folder || (folder !== root && !folder.startsWith(root + path.sep))) return null;
  return new CacheError('invalid_input', `cannot write ${out}: it is inside the store folder ${location.dir}, where it could replace stored content`);
}

function alreadyThere(out: string): CacheError {
  return new CacheError('conflict', `cannot write ${out}: it already exists (--force replaces it)`);
}

/** Renames `temp` to `out` unless something is at `out` by now (a hard link fails on an existing name; rename would replace it). */
async function placeWithoutReplacing(temp: string, out: string): Promise<void> {
  try {
    await fs.link(temp, out);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw alreadyThere(out);
    // A file system without hard links (FAT, some network shares): the check before the download stands.
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw err;
    await fs.rename(temp, out);
    return;
  }
  await fs.rm(temp);
}

async function cmdInfo(ctx: Ctx): Promise<number> {
  const record = await ctx.format.record(ctx.ns, await lookupOf(ctx));
  // The native fields first, as scripts know them; then what the layout adds.
  const info = {
    cache_id: record.cache_id,
    hash: record.hash,
    sha256: record.sha256,
    version: record.version,
    namespace: record.namespace,
    size: record.size,
    content_type: record.content_type,
    source: record.source,
    stored_at: record.stored_at,
    keys: record.keys.map((k) => k.key),
    format: record.format,
    latest_version: record.latest_version,
    data_type: record.data_type,
    content_encoding: record.content_encoding,
    details: record.details,
    key_roles: record.keys,
    child_data: record.child_data,
    ...(await expiryFields(ctx, record)),
    // Only when the version cannot be served: it can still be inspected and deleted.
    ...(await contentProblemOf(ctx.format, record).then((problem) => (problem ? { content_problem: problem } : {}))),
  };
  if (ctx.values.json) {
    ctx.write(`${JSON.stringify(info)}\n`);
    return EXIT.ok;
  }
  const { keys: _keys, details, key_roles, child_data, ...fields } = info;
  const field = (name: string, value: unknown) => ctx.write(`${name.padEnd(12)} ${value === null ? '-' : printable(String(value))}\n`);
  for (const [name, value] of [...Object.entries(fields), ...Object.entries(details)]) field(name, value);
  for (const k of key_roles) field('key', `${k.key}  (${k.role})`);
  for (const c of child_data) field('child data', `${c.key}  ${c.size} bytes`);
  return EXIT.ok;
}

async function cmdVersions(ctx: Ctx): Promise<number> {
  const lookup = await ctx.format.parseLookup(ctx.ns, one(ctx.args, 'hash or cache id'));
  // A cache id, version or SHA-256 must name an entry that is there, not only its hash's first 16 characters.
  const plainHash = !('cacheId' in lookup) && lookup.version === undefined && lookup.sha256 === undefined;
  const hash = plainHash ? lookup.hash : (await ctx.format.record(ctx.ns, lookup)).hash;
  const versions = await withExpiry(ctx, await ctx.format.versions(ctx.ns, hash));
  if (versions.length === 0) {
    // Said as a lookup of it says it (content no version uses, say), where it is more than not there.
    await ctx.format.record(ctx.ns, { hash });
    throw new CacheError('not_found', `${hash} is not in namespace ${ctx.ns}`);
  }
  if (ctx.values.json) {
    ctx.write(`${JSON.stringify({ hash, versions, count: versions.length, format: ctx.format.name })}\n`);
  } else {
    for (const v of versions) ctx.write(`${v.version}  ${v.cache_id}  ${v.stored_at}  ${v.size ?? '-'}  ${printable(v.source)}${v.expired ? '  expired' : ''}\n`);
  }
  return EXIT.ok;
}

async function cmdNamespaces(ctx: Ctx): Promise<number> {
  if (ctx.args.length) throw usageError('namespaces takes no arguments');
  const namespaces = await ctx.format.namespaces();
  if (ctx.values.json) ctx.write(`${JSON.stringify({ namespaces, format: ctx.format.name })}\n`);
  else for (const n of namespaces) ctx.write(`${n.name}  ${n.entries} entries  ${n.versions} versions  ${n.bytes} bytes\n`);
  // Nothing printed would not say which store was looked at (the default one, when none is given).
  if (namespaces.length === 0) ctx.io.stderr.write(`cache-admin: note: no namespace in ${printable(ctx.format.storage.description)}\n`);
  return EXIT.ok;
}

async function cmdStats(ctx: Ctx): Promise<number> {
  if (ctx.args.length) throw usageError('stats takes no arguments (use --ns)');
  const { name, ...counts } = await ctx.format.stats(ctx.ns);
  const stats = { namespace: name, ...counts, format: ctx.format.name };
  if (ctx.values.json) ctx.write(`${JSON.stringify(stats)}\n`);
  else {
    const { shards, ...totals } = stats;
    for (const [k, v] of Object.entries(totals)) ctx.write(`${k.padEnd(10)}${v}\n`);
    ctx.write(`${'shards'.padEnd(10)}${Object.keys(shards).length} first-level shard folders in use\n`);
  }
  return EXIT.ok;
}

async function cmdLs(ctx: Ctx): Promise<number> {
  if (ctx.args.length > 1) throw usageError('ls takes at most one prefix');
  // Both layouts keep a namespace under its own top-level folder.
  const given = ctx.args[0] ?? '';
  let prefix = ctx.values.ns === undefined ? given : `${ctx.ns}/${given}`;
  const delimiter = ctx.values.delimiter ? ('/' as const) : undefined;
  const limit = wholeNumberOption('limit', ctx.values.limit, 1000);
  // A prefix that starts with the namespace (a key as ls prints them, pasted back) and names nothing
  // under it is taken as written: one LIST more, only then (a namespace called objects has objects/).
  if (ctx.values.ns !== undefined && given.startsWith(`${ctx.ns}/`)) {
    const under = await ctx.format.listKeys(prefix, { delimiter, limit: 1 });
    if (under.objects.length === 0 && under.prefixes.length === 0) prefix = given;
  }
  let cursor = ctx.values.cursor;
  do {
    const page = await ctx.format.listKeys(prefix, { delimiter, cursor, limit });
    const expired = await expiredKeys(ctx, page);
    if (ctx.values.json) ctx.write(`${JSON.stringify({ ...page, objects: page.objects.map((o) => (expired.has(o.key) ? { ...o, expired: true } : o)) })}\n`);
    else {
      for (const p of page.prefixes) ctx.write(`${printable(p)}\n`);
      for (const o of page.objects) ctx.write(`${printable(o.key)}\t${o.size}${expired.has(o.key) ? '\texpired' : ''}\n`);
    }
    cursor = page.cursor;
    if (limit !== undefined && cursor && !ctx.values.json) ctx.io.stderr.write(`more: --cursor ${printable(cursor)}\n`);
  } while (cursor !== undefined && limit === undefined);
  return EXIT.ok;
}

async function cmdDelete(ctx: Ctx): Promise<number> {
  const result = await ctx.format.delete(ctx.ns, await lookupOf(ctx));
  if (ctx.values.json) ctx.write(`${JSON.stringify({ namespace: ctx.ns, deleted: result.deleted, content_removed: result.contentRemoved, bytes_freed: result.bytesFreed })}\n`);
  else if (result.deleted.length === 0) ctx.write(`deleted content that no version used: ${result.bytesFreed} bytes freed\n`);
  else ctx.write(`deleted ${result.deleted.join(', ')}${result.contentRemoved ? ' (no version left)' : ''}${result.bytesFreed ? `: ${result.bytesFreed} bytes freed` : ''}\n`);
  return EXIT.ok;
}

async function cmdCapabilities(ctx: Ctx): Promise<number> {
  const { storage } = ctx.format;
  if (ctx.values.json) {
    ctx.write(`${JSON.stringify({ store: storage.description, ...storage.capabilities, format: ctx.detection.format, format_reason: ctx.detection.reason })}\n`);
  } else {
    ctx.write(`store: ${printable(storage.description)}\n`);
    ctx.write(`layout: ${printable(ctx.detection.reason)}\n`);
    if (storage.capabilities.readOnly) ctx.write('read-only: these credentials may read but not write\n');
    else ctx.write(storage.capabilities.conditionalWrites ? 'conditional writes: supported\n' : `${COLLISION_WARNING}\n`);
  }
  return EXIT.ok;
}

/** Commands that look an entry up in one namespace (--ns, else the default). */
const LOOKUPS = new Set(['get', 'info', 'versions', 'delete']);
/**
 * Commands that read what a store holds or is (on a folder that does not exist they would report an
 * empty store, or a layout it does not have), and a policy set, which would make the folder for a
 * policy alone: only `store` makes a store's folder.
 */
const NEEDS_A_STORE = new Set([...LOOKUPS, 'capabilities', 'namespaces', 'stats', 'ls', 'verify', 'prune', 'policy']);

/**
 * A mistyped --store (or $CACHE_ADMIN_STORE) names a folder that does not exist: said so, rather
 * than "checked 0 keys: no problems" or an empty listing. The app's own store, not made until its
 * first store, reads as empty.
 */
async function refuseMissingStoreFolder(location: StoreLocation, env: NodeJS.ProcessEnv): Promise<void> {
  const missing = await missingStoreFolder(location, env);
  if (missing !== null) throw new CacheError('not_found', `no store at ${missing}: no such folder (a store's folder is made by its first store)`);
}

/** A lookup that missed the default namespace: says which other namespaces hold the entry. */
async function withNamespaceHint(ctx: Ctx, missed: CacheError): Promise<CacheError> {
  const found = await namespacesHolding(ctx.format, ctx.ns, (ns) => lookupOf({ ...ctx, ns }));
  return withNamespacesHolding(missed, found, ` (add --ns ${found[0]})`);
}

/** Commands over a whole namespace: given one that holds nothing (a typo), they say so, else `verify --ns reportz` passes as "no problems". */
const NAMESPACE_WIDE: ReadonlySet<string> = new Set(['verify', 'prune', 'stats', 'ls']);
/** Namespaces a note names at most. */
const NAMES_IN_NOTE = 10;

/**
 * Two listings at most (one key of the namespace, then the store's top folders); a note is no
 * reason to fail the command. `unasked`: the namespace is the default, not named by the operator, so
 * a store that holds no namespace at all needs no note.
 */
async function noteEmptyNamespace(ctx: Ctx, unasked: boolean): Promise<void> {
  try {
    // Both layouts keep a namespace under its own top-level folder.
    const page = await ctx.format.listKeys(`${ctx.ns}/`, { limit: 1 });
    if (page.objects.length > 0 || page.prefixes.length > 0) return;
    const names = (await namespacesAtTop(ctx.format, NAMES_IN_NOTE + 1)).map(printable);
    if (unasked && names.length === 0) return;
    const listed = names.length > NAMES_IN_NOTE ? `${names.slice(0, NAMES_IN_NOTE).join(', ')}, …` : names.join(', ');
    ctx.io.stderr.write(`cache-admin: note: namespace ${printable(ctx.ns)} holds nothing in this store (${names.length ? `its namespaces: ${listed}` : 'it holds no namespace'})\n`);
  } catch {
    // The command says what it finds.
  }
}

/** Options every command takes: where the store is, its layout and limits, the namespace, the output. */
const GLOBAL_OPTIONS: ReadonlySet<string> = new Set(['ns', 'json', 'help', ...Object.keys(STORE_OPTIONS)]);

/** What each command takes beside those. Any other is refused before the store opens: `delete --dry-run` deletes nothing. */
const COMMAND_OPTIONS: Record<CommandName, readonly (keyof typeof OPTIONS)[]> = {
  capabilities: [],
  hash: ['as'],
  store: ['as', 'strategy'],
  get: ['version', 'out', 'force', 'allow-expired'],
  info: ['version'],
  versions: [],
  namespaces: [],
  stats: [],
  ls: ['delimiter', 'limit', 'cursor'],
  delete: ['version'],
  verify: ['sample', 'repair'],
  policy: ['ttl', 'keep-versions'],
  prune: ['older-than', 'expired', 'keep-versions', 'dry-run'],
};

function refuseOptionsNotTaken(command: CommandName, given: string[]): void {
  const own: readonly string[] = COMMAND_OPTIONS[command];
  const stray = given.find((name) => !GLOBAL_OPTIONS.has(name) && !own.includes(name));
  if (stray === undefined) return;
  const takes = own.length ? `it takes ${own.map((name) => `--${name}`).join(', ')}` : 'it takes none of its own';
  throw usageError(`${command} does not take --${stray} (${takes}): nothing was done`);
}

const COMMANDS = {
  capabilities: cmdCapabilities,
  hash: cmdHash,
  store: cmdStore,
  get: cmdGet,
  info: cmdInfo,
  versions: cmdVersions,
  namespaces: cmdNamespaces,
  stats: cmdStats,
  ls: cmdLs,
  delete: cmdDelete,
  verify: cmdVerify,
  policy: cmdPolicy,
  prune: cmdPrune,
} satisfies Record<string, (ctx: Ctx) => Promise<number>>;
type CommandName = keyof typeof COMMANDS;

async function cmdVerify(ctx: Ctx): Promise<number> {
  if (ctx.args.length) throw usageError('verify takes no arguments (use --ns to check one namespace)');
  const sample = wholeNumberOption('sample', ctx.values.sample, MAX_VERIFY_SAMPLE);
  const progress = !ctx.values.json && ctx.io.stderr.isTTY ? new ProgressLine(ctx.io.stderr) : null;
  // Ctrl+C stops it between entries (a repair under way finishes); the error says what it had repaired.
  const report = await interruptible((signal) =>
    ctx.format
      .verify({
        namespace: ctx.values.ns === undefined ? undefined : ctx.ns,
        sample,
        repair: ctx.values.repair,
        signal,
        onProgress: ({ checked, listed, rehashing: r }) => progress?.count(`keys checked (of ${listed.toLocaleString('en-US')} listed so far):`, checked, r && { what: `re-hashing ${printable(r.key)}`, done: r.done, of: r.size }),
      })
      .finally(() => progress?.done()),
  );
  for (const note of report.notes) ctx.io.stderr.write(`cache-admin: note: ${printable(note)}\n`);
  if (ctx.values.json) {
    ctx.write(`${JSON.stringify({ checked: report.checked, ...(report.sampled && { sampled: report.sampled }), problems: report.problems, ...(report.repaired ? { repaired: report.repaired } : {}), notes: report.notes })}\n`);
  } else {
    for (const p of report.problems) ctx.write(`${p.kind.padEnd(16)}${printable(p.key)}  ${printable(p.detail)}\n`);
    for (const r of report.repaired ?? []) ctx.write(`repaired ${r.kind.padEnd(16)}${printable(r.key)}  ${printable(r.action)}\n`);
    // A sample's "no problems" covers only the content it re-hashed: the line says how much that was.
    const sampled = report.sampled ? ` (content re-hashed for a sample of ${report.sampled.perNamespace} per namespace: ${report.sampled.rehashed} of ${report.sampled.of})` : '';
    ctx.write(`checked ${report.checked} keys${sampled}: ${report.problems.length === 0 ? 'no problems' : report.problems.length === 1 ? '1 problem' : `${report.problems.length} problems`}\n`);
  }
  return report.problems.length ? EXIT.notFound : EXIT.ok;
}
