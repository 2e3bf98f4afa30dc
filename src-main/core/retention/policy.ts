/**
 * The retention policy: a store-wide default and per-namespace overrides of a TTL and a cap on
 * versions per hash, kept in the store itself under RETENTION_PREFIX so every operator and process
 * sees the same one. Each change is a new generation written create-only, so two writers never
 * lose one another's change (see docs/retention.md).
 */
import { randomBytes } from 'node:crypto';
import { MAX_AGE_SECONDS } from '../../../src-shared/age';
import { CacheError } from '../../../src-shared/errors';
import type { StorageBackend } from '../storage/types';
import { forEachPage } from '../storage/list-page';

/**
 * Cache Admin's own folder at the store root. No namespace can have this name in either layout
 * (native ones start with a letter or digit; the service's have no "."), and a leading "." is not
 * a valid storage key on any backend (temp files use it).
 */
export const ADMIN_PREFIX = '_cache-admin.d/';
export const POLICY_PREFIX = `${ADMIN_PREFIX}retention/`;
// Eight digits at least (padded, so names sort by generation), more past 99,999,999.
const POLICY_NAME_RE = /^policy\.(\d{8,15})\.json$/;
/** The last generation a name holds (15 digits: every one an exact number). */
const LAST_GENERATION = 10 ** 15 - 1;
const POLICY_FORMAT = 'cache-admin.retention/1';
/** Concurrent policy writers retry this often before giving up with `conflict`. */
const WRITE_ATTEMPTS = 8;
/** Ids of the generations a policy was built on, newest first, that it keeps (its own first). */
const LINEAGE = 32;
const MAX_KEEP_VERSIONS = 99_999_999;

/** One rule: null keeps forever / keeps every version. */
export interface RetentionRule {
  ttl_seconds: number | null;
  keep_versions: number | null;
}

/** A namespace's override: an absent field follows the store-wide default. */
export type NamespaceRule = Partial<RetentionRule>;

export interface RetentionPolicy {
  default: RetentionRule;
  namespaces: Record<string, NamespaceRule>;
}

export const EMPTY_POLICY: RetentionPolicy = { default: { ttl_seconds: null, keep_versions: null }, namespaces: {} };

/** Namespace rules keyed by name without a prototype: a service namespace may be called `__proto__`. */
function namespaceMap(from: Record<string, NamespaceRule> = {}): Record<string, NamespaceRule> {
  return Object.assign(Object.create(null) as Record<string, NamespaceRule>, from);
}

/** A change to one rule: a value, null (forever / every version) or 'default' (drop a namespace's override). */
export interface PolicyChange {
  /** Absent: the store-wide default. */
  namespace?: string;
  ttl_seconds?: number | null | 'default';
  keep_versions?: number | null | 'default';
}

export function parseKeepVersions(text: string): number {
  const n = /^[1-9][0-9]{0,7}$/.test(text.trim()) ? Number(text) : NaN;
  if (!(n <= MAX_KEEP_VERSIONS)) throw new CacheError('invalid_input', `${JSON.stringify(text.slice(0, 40))} is not a number of versions to keep: a whole number from 1 to ${MAX_KEEP_VERSIONS.toLocaleString('en-US')}`);
  return n;
}

/** The rule that applies in a namespace: its overrides over the store-wide default. */
export function ruleFor(policy: RetentionPolicy, namespace: string): RetentionRule {
  const own = Object.hasOwn(policy.namespaces, namespace) ? policy.namespaces[namespace]! : {};
  return { ...policy.default, ...own };
}

function isAge(v: unknown): v is number | null {
  return v === null || (Number.isInteger(v) && (v as number) >= 1 && (v as number) <= MAX_AGE_SECONDS);
}

function isKeep(v: unknown): v is number | null {
  return v === null || (Number.isInteger(v) && (v as number) >= 1 && (v as number) <= MAX_KEEP_VERSIONS);
}

function ruleProblem(rule: unknown, partial: boolean): string | null {
  if (rule === null || typeof rule !== 'object' || Array.isArray(rule)) return 'a rule is not an object';
  const r = rule as Record<string, unknown>;
  for (const k of Object.keys(r)) if (k !== 'ttl_seconds' && k !== 'keep_versions') return `unknown field ${JSON.stringify(k.slice(0, 40))}`;
  if ((!partial || 'ttl_seconds' in r) && !isAge(r.ttl_seconds)) return 'ttl_seconds is not null or 1 s to 100 years';
  if ((!partial || 'keep_versions' in r) && !isKeep(r.keep_versions)) return 'keep_versions is not null or a whole number from 1';
  return null;
}

/** A stored policy, checked, and its lineage; what is wrong with it otherwise. */
export function decodePolicy(bytes: Uint8Array, validNamespace: (name: string) => boolean): { policy: RetentionPolicy; lineage: string[] } | { problem: string } {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    return { problem: 'is not JSON' };
  }
  const v = value as { format?: unknown; default?: unknown; namespaces?: unknown; lineage?: unknown } | null;
  if (!v || typeof v !== 'object' || v.format !== POLICY_FORMAT) return { problem: `is not a ${POLICY_FORMAT} policy` };
  const problem = ruleProblem(v.default, false);
  if (problem) return { problem: `default: ${problem}` };
  if (!v.namespaces || typeof v.namespaces !== 'object' || Array.isArray(v.namespaces)) return { problem: 'namespaces is not an object' };
  const namespaces = namespaceMap();
  for (const [name, rule] of Object.entries(v.namespaces)) {
    if (!validNamespace(name)) return { problem: `${JSON.stringify(name.slice(0, 80))} is not a namespace` };
    const p = ruleProblem(rule, true);
    if (p) return { problem: `${name}: ${p}` };
    namespaces[name] = rule as NamespaceRule;
  }
  // Written before lineages were (or by hand): a line of its own.
  const lineage = Array.isArray(v.lineage) ? v.lineage.filter((id): id is string => typeof id === 'string').slice(0, LINEAGE) : [];
  return { policy: { default: v.default as RetentionRule, namespaces }, lineage };
}

/** `lineage`: this generation's id, then those of the generations it was built on, newest first. */
export function encodePolicy(policy: RetentionPolicy, updatedAt: Date, lineage: string[] = []): Uint8Array {
  const namespaces = Object.fromEntries(Object.entries(policy.namespaces).sort(([a], [b]) => (a < b ? -1 : 1)));
  return new TextEncoder().encode(`${JSON.stringify({ format: POLICY_FORMAT, default: policy.default, namespaces, updated_at: updatedAt.toISOString(), lineage }, null, 2)}\n`);
}

/** The policy with one change applied; the change's values must already be parsed. */
export function applyChange(policy: RetentionPolicy, change: PolicyChange): RetentionPolicy {
  const fields = (['ttl_seconds', 'keep_versions'] as const).filter((k) => change[k] !== undefined);
  if (fields.length === 0) throw new CacheError('invalid_input', 'nothing to change: give a TTL or a number of versions to keep');
  if (change.namespace === undefined) {
    if (fields.some((k) => change[k] === 'default')) throw new CacheError('invalid_input', '"default" drops a namespace\'s own rule; the store-wide rule takes an age or none');
    const next = { ...policy.default };
    for (const k of fields) next[k] = change[k] as number | null;
    return { ...policy, default: next };
  }
  const own: NamespaceRule = { ...(Object.hasOwn(policy.namespaces, change.namespace) ? policy.namespaces[change.namespace] : {}) };
  for (const k of fields) {
    if (change[k] === 'default') delete own[k];
    else own[k] = change[k] as number | null;
  }
  const namespaces = namespaceMap(policy.namespaces);
  if (Object.keys(own).length) namespaces[change.namespace] = own;
  else delete namespaces[change.namespace];
  return { ...policy, namespaces };
}

export interface StoredPolicy {
  policy: RetentionPolicy;
  /** 0 when none was ever written. */
  generation: number;
  /** The key it was read from, if any. */
  key: string | null;
  /** Its id and those of the generations it was built on, newest first. */
  lineage: string[];
}

export function policyKey(generation: number): string {
  return `${POLICY_PREFIX}policy.${String(generation).padStart(8, '0')}.json`;
}

/** The newest generations, newest first, from one listing (old ones are removed as new ones are written). */
async function generations(storage: StorageBackend): Promise<number[]> {
  const found: number[] = [];
  await forEachPage(storage, POLICY_PREFIX, (page) => {
    for (const o of page.objects) {
      const m = POLICY_NAME_RE.exec(o.key.slice(POLICY_PREFIX.length));
      if (m) found.push(Number(m[1]));
    }
  });
  return found.sort((a, b) => b - a);
}

/** The current policy: one LIST and one GET. A damaged policy fails with `internal`, naming its key. */
export async function readPolicy(storage: StorageBackend, validNamespace: (name: string) => boolean): Promise<StoredPolicy> {
  for (;;) {
    const [newest] = await generations(storage);
    if (newest === undefined) return { policy: EMPTY_POLICY, generation: 0, key: null, lineage: [] };
    const key = policyKey(newest);
    const bytes = await storage.get(key);
    if (!bytes) continue; // replaced and cleaned up between the listing and the read
    const decoded = decodePolicy(bytes, validNamespace);
    if ('problem' in decoded) throw new CacheError('internal', `the retention policy ${key} ${decoded.problem}; replace it with policy set`);
    return { policy: decoded.policy, generation: newest, key, lineage: decoded.lineage };
  }
}

/**
 * Applies a change as the next generation, written create-only: a writer that loses the race
 * re-reads and applies its change again, so concurrent changes to different rules all survive.
 * A damaged current policy is replaced (the change applies to an empty one).
 */
export async function writePolicy(storage: StorageBackend, change: PolicyChange, validNamespace: (name: string) => boolean, now: Date): Promise<StoredPolicy> {
  for (let attempt = 0; attempt < WRITE_ATTEMPTS; attempt++) {
    const current = await readPolicy(storage, validNamespace).catch((err: unknown) => {
      if (err instanceof CacheError && err.code === 'internal') return null;
      throw err;
    });
    const generation = current?.generation ?? (await generations(storage))[0] ?? 0;
    // Reached only by a file renamed by hand: the next name would be one no reader takes, which looked like a race lost 8 times.
    if (generation >= LAST_GENERATION) {
      const below = (await generations(storage)).find((g) => g < generation) ?? 0; // renamed to just above it, it stays the newest
      throw new CacheError('internal', `the retention policy ${policyKey(generation)} is the last generation a policy file can be numbered (renamed by hand?): rename it to ${policyKey(below + 1).slice(POLICY_PREFIX.length)} and set the policy again`);
    }
    const policy = applyChange(current?.policy ?? EMPTY_POLICY, change);
    const key = policyKey(generation + 1);
    const lineage = [randomBytes(8).toString('hex'), ...(current?.lineage ?? [])].slice(0, LINEAGE);
    if (await storage.put(key, encodePolicy(policy, now, lineage), { ifAbsent: true, durable: true })) {
      // A writer slow between its read and its write can create a number that cleanup had already
      // removed, below newer generations that lack its change: readers never see it, so it is taken
      // back and made again on top. One that others have built on since is in the current line.
      const newest = await readPolicy(storage, validNamespace).catch(() => null);
      if (newest && !newest.lineage.includes(lineage[0]!)) {
        await storage.delete(key);
        continue;
      }
      // Older generations are history: keep the one before, in case a reader listed it a moment ago.
      for (const old of (await generations(storage)).filter((g) => g < generation)) await storage.delete(policyKey(old));
      return { policy, generation: generation + 1, key, lineage };
    }
  }
  throw new CacheError('conflict', 'the retention policy kept changing under other writers; nothing was changed, try again');
}
