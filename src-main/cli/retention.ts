/** The CLI's retention commands (policy, prune) and the expiry checks get, info, versions and ls make. */
import type { Writable } from 'node:stream';
import { CacheError } from '../../src-shared/errors';
import type { FormatRecord, FormatVersion, StoreFormat } from '../core/formats/format';
import { formatAge, parseAge } from '../../src-shared/age';
import { Retention, parseKeepVersions, type PruneCandidate, type PruneSelection, type RetentionPolicy, type RetentionRule } from '../core/retention/retention';
import { expandTime } from '../core/layout';
import type { ListPage } from '../core/storage/types';
import { interruptible } from './interruptible';
import { ProgressLine } from './progress';
import { usageError } from './store-options';

/** The options these commands add to the CLI's. */
export const RETENTION_OPTIONS = {
  ttl: { type: 'string' },
  'keep-versions': { type: 'string' },
  'older-than': { type: 'string' },
  expired: { type: 'boolean' },
  'dry-run': { type: 'boolean' },
  'allow-expired': { type: 'boolean' },
} as const;

export const RETENTION_USAGE = `  policy get                                 the retention policy: store-wide and per namespace (--ns)
  policy set [--ns NS] [--ttl AGE|none|default] [--keep-versions N|none|default]
                                             AGE: a number and s, m, h or d (90s, 12h, 30d); none: keep forever;
                                             default: drop the namespace's own rule (without --ns: store-wide)
  prune [--older-than AGE | --expired] [--keep-versions N] [--dry-run]
                                             remove old versions (all namespaces unless --ns); with neither: the policy`;

/** What these commands use of the CLI's context. */
export interface RetentionCtx {
  format: StoreFormat;
  ns: string;
  values: Record<string, unknown>;
  args: string[];
  io: { stderr: Writable & { isTTY?: boolean } };
  write: (text: string) => void;
}

const EXIT_OK = 0;
/** A prune that had to leave versions alone (refs it could not read) ends as a verify with problems does. */
const EXIT_PROBLEMS = 1;

function text(values: Record<string, unknown>, name: string): string | undefined {
  const v = values[name];
  return typeof v === 'string' ? v : undefined;
}

/** AGE, none, or default (a namespace's rule only). */
function ruleValue<T>(value: string | undefined, parse: (text: string) => T): T | null | 'default' | undefined {
  if (value === undefined) return undefined;
  if (value === 'none') return null;
  if (value === 'default') return 'default';
  return parse(value);
}

function describeRule(rule: Partial<RetentionRule>): string {
  const ttl = rule.ttl_seconds === undefined ? '(default)' : rule.ttl_seconds === null ? 'none' : formatAge(rule.ttl_seconds);
  const keep = rule.keep_versions === undefined ? '(default)' : rule.keep_versions === null ? 'none' : String(rule.keep_versions);
  return `ttl ${ttl}  keep-versions ${keep}`;
}

function policyJson(policy: RetentionPolicy, generation: number, key: string | null) {
  return { default: policy.default, namespaces: policy.namespaces, generation, key };
}

export async function cmdPolicy(ctx: RetentionCtx): Promise<number> {
  const [sub, ...rest] = ctx.args;
  if (rest.length) throw usageError('policy takes get or set, and options');
  const retention = new Retention(ctx.format);
  const perNamespace = ctx.values.ns !== undefined;
  let stored;
  if (sub === 'get') {
    if (ctx.values.ttl !== undefined || ctx.values['keep-versions'] !== undefined) throw usageError('--ttl and --keep-versions go with policy set');
    stored = await retention.getPolicy();
  } else if (sub === 'set') {
    const ttl_seconds = ruleValue(text(ctx.values, 'ttl'), parseAge);
    const keep_versions = ruleValue(text(ctx.values, 'keep-versions'), parseKeepVersions);
    stored = await retention.setPolicy({ namespace: perNamespace ? ctx.ns : undefined, ttl_seconds, keep_versions });
  } else {
    throw usageError('policy takes get or set');
  }
  const { policy, generation, key } = stored;
  if (ctx.values.json) {
    ctx.write(`${JSON.stringify(policyJson(policy, generation, key))}\n`);
    return EXIT_OK;
  }
  if (perNamespace) {
    ctx.write(`${ctx.ns}  ${describeRule(policy.namespaces[ctx.ns] ?? {})}\n`);
    ctx.write(`  in effect: ${describeRule({ ...policy.default, ...policy.namespaces[ctx.ns] })}\n`);
    return EXIT_OK;
  }
  ctx.write(`store-wide  ${describeRule(policy.default)}\n`);
  for (const [name, rule] of Object.entries(policy.namespaces)) ctx.write(`${name}  ${describeRule(rule)}\n`);
  return EXIT_OK;
}

function candidateLine(c: PruneCandidate): string {
  const content = c.content_removed ? `  hash gone entirely, ${c.bytes_freed} bytes` : c.bytes_freed ? `  ${c.bytes_freed} bytes` : '';
  return `${c.namespace}  ${c.cache_id}  ${c.hash}  ${c.stored_at}  ${c.reason}${content}\n`;
}

/** `1 version`, `2 versions`, `1,000 hashes`. */
function counted(n: number, one: string): string {
  return `${n.toLocaleString('en-US')} ${n === 1 ? one : one.endsWith('h') ? `${one}es` : `${one}s`}`;
}

/** What a prune's summary says went with the versions: `1 hash gone entirely, 3 bytes freed`. */
function gone(hashes: number, bytes: number): string {
  return `${counted(hashes, 'hash')} gone entirely, ${counted(bytes, 'byte')} freed`;
}

export async function cmdPrune(ctx: RetentionCtx): Promise<number> {
  if (ctx.args.length) throw usageError('prune takes no arguments (use --ns, --older-than, --expired, --keep-versions)');
  const olderThan = text(ctx.values, 'older-than');
  const keep = text(ctx.values, 'keep-versions');
  const selection: PruneSelection = {
    namespace: ctx.values.ns !== undefined ? ctx.ns : undefined,
    olderThanSeconds: olderThan === undefined ? undefined : parseAge(olderThan),
    expired: ctx.values.expired === true,
    keepVersions: keep === undefined ? undefined : parseKeepVersions(keep),
  };
  if (selection.olderThanSeconds !== undefined && selection.expired) throw usageError('--older-than and --expired cannot be combined');
  const json = ctx.values.json === true;
  const print = (c: PruneCandidate) => ctx.write(json ? `${JSON.stringify(c)}\n` : candidateLine(c));
  const retention = new Retention(ctx.format);
  // The first Ctrl+C (or TERM: a cron job's timeout) stops cleanly, the deletes under way finishing; a second one kills.
  return interruptible(async (signal) => {
    const plan = await retention.planPrune(selection, { signal });
    const planned = { versions: plan.versions.length, hashes: plan.hashes, content_removed: plan.contentRemoved, bytes_freed: plan.bytesFreed, unreadable_refs: plan.unreadableRefs, unfinished: plan.unfinished };
    const leftAlone = plan.unreadableRefs ? `; ${plan.unreadableRefs === 1 ? '1 ref could not be read, so the versions it names were' : `${plan.unreadableRefs} refs could not be read, so the versions they name were`} left alone (run verify)` : '';
    if (ctx.values['dry-run']) {
      plan.versions.forEach(print);
      if (json) ctx.write(`${JSON.stringify({ summary: { dry_run: true, ...planned } })}\n`);
      else ctx.write(`would prune ${counted(planned.versions, 'version')} of ${counted(planned.hashes, 'hash')} (${gone(planned.content_removed, planned.bytes_freed)})${unfinishedNote(plan.unfinished)}${leftAlone}\n`);
      return plan.unreadableRefs ? EXIT_PROBLEMS : EXIT_OK;
    }
    const progress = !json && ctx.io.stderr.isTTY ? new ProgressLine(ctx.io.stderr) : null;
    const summary = await retention.prune(plan, {
      signal,
      onPruned: (c) => {
        progress?.done();
        print(c);
      },
      onProgress: ({ done, total }) => progress?.count(`versions pruned (of ${total.toLocaleString('en-US')}):`, done),
      onWaiting: (namespace, until) => ctx.io.stderr.write(`cache-admin: note: another prune of ${namespace} holds it; waiting for it to finish (if it was killed, its hold runs out by ${until.toISOString()})\n`),
    });
    progress?.done();
    // The dry run's keys too (what the plan held), so a script reads `.summary.versions` from either run.
    if (json) ctx.write(`${JSON.stringify({ summary: { dry_run: false, versions: planned.versions, hashes: planned.hashes, pruned: summary.pruned, skipped: summary.skipped, resumed: summary.resumed, content_removed: summary.contentRemoved, bytes_freed: summary.bytesFreed, unreadable_refs: plan.unreadableRefs, unfinished: plan.unfinished } })}\n`);
    else ctx.write(`pruned ${counted(summary.pruned, 'version')} (${gone(summary.contentRemoved, summary.bytesFreed)})${summary.skipped ? `; ${summary.skipped} ${summary.skipped === 1 ? 'was' : 'were'} already gone (deleted meanwhile)` : ''}${summary.resumed ? `; finished ${summary.resumed} of an interrupted prune` : ''}${leftAlone}\n`);
    return plan.unreadableRefs ? EXIT_PROBLEMS : EXIT_OK;
  });
}

/** get: an expired version fails with `expired` (the service's 410) unless --allow-expired; the stream is closed unread. */
export async function refuseExpired(ctx: RetentionCtx, record: FormatRecord, content?: AsyncIterable<Uint8Array>): Promise<void> {
  if (ctx.values['allow-expired']) return;
  try {
    await new Retention(ctx.format).assertLive(record.namespace, record);
  } catch (err) {
    (content as { destroy?: () => void } | undefined)?.destroy?.();
    if (err instanceof CacheError && err.code === 'expired') throw new CacheError('expired', `${err.message}; --allow-expired reads it anyway`);
    throw err;
  }
}

/** info: whether the version has expired, and when it does or did (null: kept forever). */
export async function expiryFields(ctx: RetentionCtx, record: FormatRecord): Promise<{ expired: boolean; expires_at: string | null }> {
  const retention = new Retention(ctx.format);
  return retention.expiryOf((await retention.getPolicy()).policy, record.namespace, record.stored_at);
}

/** versions: each row with its expiry. */
export async function withExpiry(ctx: RetentionCtx, versions: FormatVersion[]): Promise<(FormatVersion & { expired: boolean; expires_at: string | null })[]> {
  const retention = new Retention(ctx.format);
  const { policy } = await retention.getPolicy();
  return versions.map((v) => ({ ...v, ...retention.expiryOf(policy, ctx.ns, v.stored_at) }));
}

/** ls reads the policy once, however many pages it prints. */
const policies = new WeakMap<StoreFormat, Promise<RetentionPolicy>>();
function policyOnce(retention: Retention): Promise<RetentionPolicy> {
  let policy = policies.get(retention.format);
  if (!policy) policies.set(retention.format, (policy = retention.getPolicy().then((p) => p.policy)));
  return policy;
}

const TIMED_KEY_RE = /^([^/]+)\/(?:objects\/.*~\d{8}~(\d{8}T\d{9}Z)~|temporal\/(?:\d+\/){4}(\d{8}T\d{9}Z)~)/;

/**
 * ls: the keys of expired versions, known from their names alone (the native index and temporal
 * keys carry the time; other keys would need a read, so they are never marked).
 */
export async function expiredKeys(ctx: RetentionCtx, page: ListPage): Promise<Set<string>> {
  const expired = new Set<string>();
  if (ctx.format.name !== 'native') return expired;
  const retention = new Retention(ctx.format);
  const policy = await policyOnce(retention);
  for (const o of page.objects) {
    const m = TIMED_KEY_RE.exec(o.key);
    const compact = m?.[2] ?? m?.[3];
    if (!compact) continue;
    if (retention.expiryOf(policy, m![1]!, expandTime(compact)).expired) expired.add(o.key);
  }
  return expired;
}

/** A dry run's word on what another prune left planned: a real run deletes those first. */
function unfinishedNote(unfinished: number): string {
  if (!unfinished) return '';
  return `; up to ${unfinished} more ${unfinished === 1 ? 'version' : 'versions'} that another prune planned and has not finished (killed, or still running) would go too: a real prune finishes them first, or waits for that prune`;
}
