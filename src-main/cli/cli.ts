import { createWriteStream } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import type { Readable, Writable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { DEFAULT_NAMESPACE, type Namespace, parseEntryRef, parseNamespace, parseVersion, type StoreResult } from '../../src-shared/domain';
import { CacheError, INPUT_ERROR_CODES, fileSystemError } from '../../src-shared/errors';
import type { CacheService, EntryLookup, StoreAs, StoreInput } from '../core/cache-service';
import { chunksOf } from '../core/hashing';
import { type StoreLocation, openCache } from '../core/open-store';
import type { ContentSource } from '../core/storage/types';
import { verifyStore } from '../core/verify';
import { ProgressLine } from './progress';
import { type FileToStore, LOCAL_SMALL_FILES, REMOTE_SMALL_FILES, type StoreOutcome, StorePool, WORKER_MIN_FILES, asCacheError, expandPaths, statRoots, storeFiles } from './store-files';
import { STORE_OPTIONS, maxEntryBytesOf, storeLocation, usageError } from './store-options';

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
}

const USAGE = `usage: cache-admin [--store DIR | --memory | --s3-bucket B [S3 options]] [--ns NAMESPACE] [--json] <command> [args]
Limits: --max-entry-size SIZE (e.g. 512M; default 64G) refuses bigger content before it is stored
S3 options: --s3-prefix P --s3-endpoint URL --s3-region R --s3-path-style --s3-checksum when_required|when_supported --profile NAME
  (credentials: the AWS SDK's usual chain: environment, shared config/credentials files, SSO)
commands:
  capabilities                               what the store supports (conditional writes)
  hash <path|-> [--as bytes|string|json]     print the cache hash without storing
  store <path...|-> [--as bytes|json]        store files (folders recursively)
  get <hash|cache_id> [--version N] [--out FILE]
  info <hash|cache_id> [--version N]
  versions <hash>
  namespaces
  stats
  ls [prefix] [--delimiter] [--limit N] [--cursor KEY]
  delete <hash|cache_id>
  verify [--sample N] [--repair]             check every byte and reference (all namespaces unless --ns)`;

export const EXIT = { ok: 0, notFound: 1, usage: 2, failure: 3, cancelled: 130 } as const;

const OPTIONS = {
  ns: { type: 'string' },
  json: { type: 'boolean' },
  as: { type: 'string' },
  version: { type: 'string' },
  out: { type: 'string' },
  delimiter: { type: 'boolean' },
  limit: { type: 'string' },
  cursor: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  sample: { type: 'string' },
  repair: { type: 'boolean' },
  ...STORE_OPTIONS,
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];


export async function runCli(argv: string[], io: CliIo): Promise<number> {
  // A reader that goes away (`ls | head -1`) ends the command quietly: stop writing, exit 0.
  let stdoutError: NodeJS.ErrnoException | null = null;
  io.stdout.on('error', (err: NodeJS.ErrnoException) => void (stdoutError ??= err));
  const write = (text: string) => {
    if (stdoutError) throw stdoutError;
    io.stdout.write(text);
  };
  try {
    let parsed;
    try {
      parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
    } catch (err) {
      throw new UsageTextError((err as Error).message);
    }
    const { values, positionals } = parsed;
    const [command, ...args] = positionals;
    if (values.help || !command) {
      if (!command && !values.help) throw new UsageTextError('no command given');
      write(`${USAGE}\n`);
      return EXIT.ok;
    }
    const ns = parseNamespace(values.ns ?? DEFAULT_NAMESPACE);
    const handler = COMMANDS[command];
    if (!handler) throw new UsageTextError(`unknown command "${command}"`);
    // Validate what can be validated before the store is opened, so bad input creates nothing.
    const location = storeLocation(values, io.env);
    // A CLI run owns its process: direct system calls beat thread-pool trips for bulk stores.
    const cache = await openCache(location.kind === 'local' ? { ...location, blockingIo: true } : location, { maxEntryBytes: maxEntryBytesOf(values, io.env) });
    try {
      return await handler({ cache, location, ns, values, args, io, write });
    } finally {
      await cache.storage.close();
    }
  } catch (err) {
    if ((stdoutError ?? (err as NodeJS.ErrnoException))?.code === 'EPIPE') return EXIT.ok;
    return reportError(err, io);
  }
}

const COLLISION_WARNING = 'conditional writes: not supported: concurrent writers may collide on version numbers';

/** One line on stderr, and the exit code for it. */
function reportError(err: unknown, io: CliIo): number {
  const error = asCacheError(err);
  io.stderr.write(`cache-admin: ${error.code}: ${printable(error.message)}\n${error instanceof UsageTextError ? `${USAGE}\n` : ''}`);
  return exitCodeOf(error);
}

function exitCodeOf(error: CacheError): number {
  if (error.code === 'not_found') return EXIT.notFound;
  if (error.code === 'cancelled') return EXIT.cancelled;
  return INPUT_ERROR_CODES.has(error.code) ? EXIT.usage : EXIT.failure;
}

const ESCAPES: Record<string, string> = { '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/**
 * Text for a terminal line with its control characters (and bidi overrides) escaped, like
 * `ls -b`: a file name cannot start a new output line or send a terminal escape.
 */
export function printable(text: string): string {
  // eslint-disable-next-line no-control-regex -- finding control characters is the point
  return text.replace(/[\\\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, (c) => ESCAPES[c] ?? (c < '\u0100' ? `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}` : `\\u${c.charCodeAt(0).toString(16)}`));
}

interface Ctx {
  cache: CacheService;
  location: StoreLocation;
  ns: Namespace;
  values: Values;
  args: string[];
  io: CliIo;
  write: (text: string) => void;
}

function one(args: string[], what: string): string {
  if (args.length !== 1) throw usageError(`expected exactly one ${what}`);
  return args[0]!;
}

function storeAs(value: string | undefined, allowed: readonly string[]): StoreAs | 'string' {
  const as = value ?? 'bytes';
  if (!allowed.includes(as)) throw usageError(`--as takes ${allowed.join(', ')}`);
  return as as StoreAs | 'string';
}

/** A hash, cache id or SHA-256 argument plus an optional --version. */
function lookupOf(ctx: Ctx): EntryLookup {
  const ref = parseEntryRef(one(ctx.args, 'hash or cache id'));
  const version = ctx.values.version === undefined ? undefined : parseVersion(ctx.values.version);
  if (ref.kind === 'cache_id') {
    if (version !== undefined && version !== ref.version) throw usageError('--version disagrees with the cache id');
    return { hash: ref.hash, version: ref.version };
  }
  return { hash: ref.hash, version, sha256: ref.kind === 'sha256' ? ref.sha256 : undefined };
}

function sourceOf(arg: string, io: CliIo): { source: ContentSource; name: string } {
  if (arg === '-') return { source: { kind: 'stream', stream: io.stdin }, name: 'stdin' };
  return { source: { kind: 'file', path: arg }, name: path.basename(arg) };
}

async function* utf8Checked(source: ContentSource): AsyncIterable<Uint8Array> {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  try {
    for await (const chunk of chunksOf(source)) {
      decoder.decode(chunk, { stream: true });
      yield chunk;
    }
    decoder.decode();
  } catch (err) {
    if (err instanceof TypeError) throw new CacheError('invalid_input', 'the input is not valid UTF-8 text');
    throw err;
  }
}

function storeLine(r: StoreResult): string {
  const what = r.version === 1 ? 'new content' : 'new version of content already stored';
  return `${r.cache_id}  ${r.size} bytes  ${printable(r.source) || '-'}  (${what})\n`;
}

async function cmdHash(ctx: Ctx): Promise<number> {
  const as = storeAs(ctx.values.as, ['bytes', 'string', 'json']);
  const arg = one(ctx.args, 'path');
  const { source, name } = sourceOf(arg, ctx.io);
  // A string hashes its UTF-8 bytes, so the input must be valid UTF-8 text (checked as it streams).
  const checked: ContentSource = as === 'string' ? { kind: 'stream', stream: utf8Checked(source) } : source;
  const input: StoreInput = { source: checked, name, as: as === 'json' ? 'json' : 'bytes' };
  const waiting = arg !== '-' && (await fs.stat(arg).catch(() => null))?.isFIFO() ? waitingNote(ctx.io, arg) : null;
  try {
    const result = await ctx.cache.hash(input, { onProgress: waiting?.arrived });
    ctx.write(ctx.values.json ? `${JSON.stringify(result)}\n` : `${result.hash}\n`);
  } finally {
    waiting?.arrived();
  }
  return EXIT.ok;
}

/** How long a pipe may stay silent before the CLI says what it waits for. */
export const PIPE_NOTE_AFTER_MS = 1000;

/** A named pipe is read as it is written: if nothing comes for a moment, say what the command waits for. */
function waitingNote(io: CliIo, file: string): { arrived: () => void } {
  const timer = setTimeout(() => io.stderr.write(`cache-admin: note: waiting for a writer on ${printable(file)}… (Ctrl+C stops)\n`), PIPE_NOTE_AFTER_MS);
  timer.unref();
  return { arrived: () => clearTimeout(timer) };
}

async function cmdStore(ctx: Ctx): Promise<number> {
  const as = storeAs(ctx.values.as, ['bytes', 'json']) as StoreAs;
  if (ctx.args.length === 0) throw usageError('store needs at least one path, or - for standard input');
  const progress = !ctx.values.json && ctx.io.stderr.isTTY ? new ProgressLine(ctx.io.stderr) : null;
  if (!ctx.cache.storage.capabilities.conditionalWrites) ctx.io.stderr.write(`cache-admin: warning: ${COLLISION_WARNING}\n`);
  const line = (r: StoreResult) => (ctx.values.json ? `${JSON.stringify(r)}\n` : storeLine(r));
  if (ctx.args.includes('-')) {
    if (ctx.args.length !== 1) throw usageError('- (standard input) cannot be combined with paths');
    const { source, name } = sourceOf('-', ctx.io);
    ctx.write(line(await ctx.cache.store(ctx.ns, { source, name, as }, { onProgress: (n) => progress?.bytes(n) })));
    progress?.done();
    return EXIT.ok;
  }
  const roots = await statRoots(ctx.args);
  // A folder may hold many files: start the workers while it is walked.
  const { location } = ctx;
  const pool = location.kind === 'local' && ctx.io.storeWorker && roots.some((r) => r.isFolder) ? new StorePool(ctx.io.storeWorker, { dir: location.dir, ns: ctx.ns, as, maxEntryBytes: ctx.cache.maxEntryBytes }) : null;
  const waiting = roots.length === 1 && roots[0]!.isPipe ? waitingNote(ctx.io, roots[0]!.arg) : null;
  const report = new StoreReport(ctx, line, progress);
  try {
    const { files, passedOver } = expandPaths(roots);
    report.expect(files.length + passedOver.length);
    for (const item of passedOver) report.outcome(item.index, item.path, item.outcome);
    const onOutcome = (file: FileToStore, outcome: StoreOutcome) => report.outcome(file.index, file.path, outcome);
    if (pool && files.length >= WORKER_MIN_FILES) await pool.run(files, onOutcome);
    else {
      await storeFiles(ctx.cache, ctx.ns, as, files, onOutcome, {
        small: location.kind === 'local' ? LOCAL_SMALL_FILES : REMOTE_SMALL_FILES,
        onBytes: files.length === 1 ? (n) => (waiting?.arrived(), progress?.bytes(n)) : undefined,
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
  private firstFailure: CacheError | null = null;

  constructor(
    private readonly ctx: Ctx,
    private readonly line: (r: StoreResult) => string,
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
    if (this.total > 1) this.progress?.files(this.next, this.total, this.bytes);
  }

  /** Writes notes and errors to stderr; returns what goes to stdout. */
  private print(file: string, outcome: StoreOutcome): string {
    const json = this.ctx.values.json;
    if ('result' in outcome) {
      this.stored++;
      this.bytes += outcome.result.size;
      return this.line(outcome.result);
    }
    if ('skipped' in outcome) {
      this.ctx.io.stderr.write(`cache-admin: note: skipped ${printable(file)}: ${outcome.skipped}\n`);
      return json ? `${JSON.stringify({ path: file, skipped: outcome.skipped })}\n` : '';
    }
    const error = asCacheError(outcome.error);
    this.failed++;
    this.firstFailure ??= error;
    const message = error.message.includes(file) ? error.message : `${file}: ${error.message}`;
    this.ctx.io.stderr.write(`cache-admin: ${error.code}: ${printable(message)}\n`);
    return json ? `${JSON.stringify({ path: file, error: { code: error.code, message } })}\n` : '';
  }

  /** The exit code; after failures among several files, one last line says how many. */
  finish(): number {
    if (!this.firstFailure) return EXIT.ok;
    const attempted = this.stored + this.failed;
    if (attempted > 1) this.ctx.io.stderr.write(`cache-admin: ${this.firstFailure.code}: ${this.failed} of ${attempted} paths not stored (each named above)\n`);
    return exitCodeOf(this.firstFailure);
  }
}

async function cmdGet(ctx: Ctx): Promise<number> {
  const { content } = await ctx.cache.retrieve(ctx.ns, lookupOf(ctx));
  const out = ctx.values.out;
  if (!out) {
    await pipeline(content, ctx.io.stdout, { end: false });
    return EXIT.ok;
  }
  // Write beside the target and rename, so an interrupted get never leaves a partial file.
  const temp = path.join(path.dirname(path.resolve(out)), `.${path.basename(out)}.${randomBytes(4).toString('hex')}.part`);
  try {
    await pipeline(content, createWriteStream(temp, { flags: 'wx' }));
    await fs.rename(temp, out);
  } catch (err) {
    await fs.rm(temp, { force: true });
    throw fileSystemError(err, `cannot write ${out}`);
  }
  return EXIT.ok;
}

async function cmdInfo(ctx: Ctx): Promise<number> {
  const record = await ctx.cache.record(ctx.ns, lookupOf(ctx));
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
    keys: ctx.cache.keysOf(record),
  };
  if (ctx.values.json) {
    ctx.write(`${JSON.stringify(info)}\n`);
  } else {
    const { keys, ...fields } = info;
    for (const [k, v] of Object.entries(fields)) ctx.write(`${k.padEnd(13)}${printable(String(v))}\n`);
    for (const k of keys) ctx.write(`${'key'.padEnd(13)}${printable(k)}\n`);
  }
  return EXIT.ok;
}

async function cmdVersions(ctx: Ctx): Promise<number> {
  const ref = parseEntryRef(one(ctx.args, 'hash'));
  const versions = await ctx.cache.versions(ctx.ns, ref.hash);
  if (versions.length === 0) throw new CacheError('not_found', `${ref.hash} is not in namespace ${ctx.ns}`);
  if (ctx.values.json) {
    ctx.write(`${JSON.stringify({ hash: ref.hash, versions, count: versions.length })}\n`);
  } else {
    for (const v of versions) ctx.write(`${v.cache_id}  ${v.stored_at}  ${v.size}  ${printable(v.source)}\n`);
  }
  return EXIT.ok;
}

async function cmdNamespaces(ctx: Ctx): Promise<number> {
  if (ctx.args.length) throw usageError('namespaces takes no arguments');
  const namespaces = await ctx.cache.namespaces();
  if (ctx.values.json) ctx.write(`${JSON.stringify({ namespaces })}\n`);
  else for (const n of namespaces) ctx.write(`${n.name}  ${n.entries} entries  ${n.versions} versions  ${n.bytes} bytes\n`);
  return EXIT.ok;
}

async function cmdStats(ctx: Ctx): Promise<number> {
  if (ctx.args.length) throw usageError('stats takes no arguments (use --ns)');
  const stats = await ctx.cache.stats(ctx.ns);
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
  const prefix = ctx.args[0] ?? '';
  const limit = ctx.values.limit === undefined ? undefined : Number(ctx.values.limit);
  if (limit !== undefined && !(Number.isInteger(limit) && limit >= 1 && limit <= 1000)) throw usageError('--limit takes 1 to 1000');
  const delimiter = ctx.values.delimiter ? ('/' as const) : undefined;
  let cursor = ctx.values.cursor;
  do {
    const page = await ctx.cache.listKeys(prefix, { delimiter, cursor, limit });
    if (ctx.values.json) ctx.write(`${JSON.stringify(page)}\n`);
    else {
      for (const p of page.prefixes) ctx.write(`${printable(p)}\n`);
      for (const o of page.objects) ctx.write(`${printable(o.key)}\t${o.size}\n`);
    }
    cursor = page.cursor;
    if (limit !== undefined && cursor && !ctx.values.json) ctx.io.stderr.write(`more: --cursor ${printable(cursor)}\n`);
  } while (cursor !== undefined && limit === undefined);
  return EXIT.ok;
}

async function cmdDelete(ctx: Ctx): Promise<number> {
  const ref = parseEntryRef(one(ctx.args, 'hash or cache id'));
  const result = await ctx.cache.delete(ctx.ns, { hash: ref.hash, version: ref.kind === 'cache_id' ? ref.version : undefined });
  if (ctx.values.json) ctx.write(`${JSON.stringify({ deleted: result.deleted, content_removed: result.contentRemoved })}\n`);
  else ctx.write(`deleted ${result.deleted.join(', ')}${result.contentRemoved ? ' (content removed)' : ''}\n`);
  return EXIT.ok;
}

async function cmdCapabilities(ctx: Ctx): Promise<number> {
  const { storage } = ctx.cache;
  if (ctx.values.json) {
    ctx.write(`${JSON.stringify({ store: storage.description, ...storage.capabilities })}\n`);
  } else {
    ctx.write(`store: ${printable(storage.description)}\n`);
    ctx.write(storage.capabilities.conditionalWrites ? 'conditional writes: supported\n' : `${COLLISION_WARNING}\n`);
  }
  return EXIT.ok;
}

const COMMANDS: Record<string, (ctx: Ctx) => Promise<number>> = {
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
};

async function cmdVerify(ctx: Ctx): Promise<number> {
  if (ctx.args.length) throw usageError('verify takes no arguments (use --ns to check one namespace)');
  const sample = ctx.values.sample === undefined ? undefined : Number(ctx.values.sample);
  if (sample !== undefined && !(Number.isInteger(sample) && sample >= 1)) throw usageError('--sample takes a positive whole number');
  const progress = !ctx.values.json && ctx.io.stderr.isTTY ? new ProgressLine(ctx.io.stderr) : null;
  const report = await verifyStore(ctx.cache, {
    namespace: ctx.values.ns,
    sample,
    repair: ctx.values.repair,
    onProgress: ({ checked }) => progress?.count('checked', checked),
  });
  progress?.done();
  for (const note of report.notes) ctx.io.stderr.write(`cache-admin: note: ${printable(note)}\n`);
  if (ctx.values.json) {
    ctx.write(`${JSON.stringify({ checked: report.checked, problems: report.problems, ...(report.repaired ? { repaired: report.repaired } : {}) })}\n`);
  } else {
    for (const p of report.problems) ctx.write(`${p.kind.padEnd(16)}${printable(p.key)}  ${printable(p.detail)}\n`);
    for (const r of report.repaired ?? []) ctx.write(`repaired ${r.kind.padEnd(16)}${printable(r.key)}  ${printable(r.action)}\n`);
    ctx.write(`checked ${report.checked} keys: ${report.problems.length ? `${report.problems.length} problems` : 'no problems'}\n`);
  }
  return report.problems.length ? EXIT.notFound : EXIT.ok;
}
