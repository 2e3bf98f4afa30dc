/*
 * Plain checks, not zod: the CLI loads this module on every run, and zod's import alone costs it
 * 50-100 ms. The contract (contract.ts) keeps zod for the channels' payloads.
 */
import { CacheError } from './errors';

/** 16 lowercase hex chars: the first 64 bits of SHA-256. */
export type CacheHash = string & { readonly __brand: 'CacheHash' };
/** `<hash>-v<n>`, n >= 1. */
export type CacheId = string & { readonly __brand: 'CacheId' };
export type Namespace = string & { readonly __brand: 'Namespace' };

export const DEFAULT_NAMESPACE = 'default' as Namespace;
export const HASH_LENGTH = 16;
/** Versions are zero-padded to this width in keys so that keys sort in version order. */
export const MAX_VERSION = 99_999_999;

export const HASH_RE = /^[0-9a-f]{16}$/;
const SHA256_RE = /^[0-9a-f]{64}$/;
const CACHE_ID_RE = /^([0-9a-f]{16})-v([1-9][0-9]{0,7})$/;
const NAMESPACE_RE = /^[a-z0-9][a-z0-9._-]{0,63}$/;

function describe(value: unknown): string {
  if (typeof value !== 'string') {
    // Never String() an arbitrary object: it may have no prototype, or a hostile toString.
    if (value === null || typeof value === 'object') return value === null ? 'null' : Array.isArray(value) ? 'an array' : 'an object';
    return typeof value === 'function' ? 'a function' : `${typeof value} ${String(value).slice(0, 40)}`;
  }
  const text = value;
  const shown = text.length > 80 ? `${text.slice(0, 77)}...` : text;
  return JSON.stringify(shown);
}

/** Why `name` is not a native namespace, or null when it is one. */
function namespaceProblem(name: unknown): string | null {
  if (typeof name !== 'string') return 'is not text';
  if (name.length > 64) return 'a namespace is at most 64 characters';
  if (!NAMESPACE_RE.test(name) || name.includes('..')) return 'a namespace is 1-64 characters of a-z, 0-9, "-", "_" and ".", starts with a letter or digit, and has no ".."';
  return null;
}

const isVersion = (n: unknown): n is number => Number.isInteger(n) && (n as number) >= 1 && (n as number) <= MAX_VERSION;

/** Longest source name a version records, in UTF-16 code units. */
export const MAX_SOURCE_NAME_LENGTH = 1024;
// With the u flag a surrogate pair is one code point, so only a lone surrogate matches.
const LONE_SURROGATE_RE = /\p{Surrogate}/u;
const STORED_AT_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

const isText = (v: unknown): v is string => typeof v === 'string';

/**
 * The shape every stored version record must have, field by field in record order (the first
 * problem is the one reported); anything else is damage that verify reports.
 */
const RECORD_FIELDS: [field: string, problem: (v: unknown) => string | null][] = [
  ['namespace', namespaceProblem],
  ['hash', (v) => (isText(v) && HASH_RE.test(v) ? null : 'is not a cache hash')],
  ['cache_id', (v) => (isText(v) ? null : 'is not text')],
  ['version', (v) => (isVersion(v) ? null : `is not a whole number from 1 to ${MAX_VERSION}`)],
  ['sha256', (v) => (isText(v) && SHA256_RE.test(v) ? null : 'is not a SHA-256')],
  ['size', (v) => (Number.isSafeInteger(v) && (v as number) >= 0 ? null : 'is not a whole number of bytes')],
  ['content_type', (v) => (isText(v) ? null : 'is not text')],
  // Text a key can percent-encode: no lone surrogate (encodeURIComponent throws on one).
  ['source', (v) => (!isText(v) ? 'is not text' : LONE_SURROGATE_RE.test(v) ? 'is not well-formed Unicode (it holds a lone surrogate)' : null)],
  ['stored_at', (v) => (isText(v) && STORED_AT_RE.test(v) && !Number.isNaN(Date.parse(v)) ? null : 'is not a UTC time like 2026-11-23T23:22:46.123Z')],
];

/** Why `value` is not a valid version record (field and reason), or null when it is one. */
export function versionRecordProblem(value: unknown): string | null {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return 'expected object';
  const r = value as Record<string, unknown>;
  for (const [field, problem] of RECORD_FIELDS) {
    const found = problem(r[field]);
    if (found) return `${field} ${found}`;
  }
  if (r.cache_id !== makeCacheId(r.hash as CacheHash, r.version as number)) return 'cache_id does not match hash and version';
  if (!(r.sha256 as string).startsWith(r.hash as string)) return 'hash is not the start of sha256';
  return null;
}

/**
 * A source name to record with a version: a string of well-formed Unicode without NUL (no file
 * name holds one), at most MAX_SOURCE_NAME_LENGTH characters. Refused before anything is written.
 */
export function parseSourceName(value: unknown): string {
  if (typeof value !== 'string') throw new CacheError('invalid_input', `${describe(value)} is not a source name: expected text`);
  if (LONE_SURROGATE_RE.test(value)) throw new CacheError('invalid_input', 'the source name is not well-formed Unicode (it holds a lone surrogate)');
  if (value.includes('\u0000')) throw new CacheError('invalid_input', 'the source name holds a NUL character, which no file name can');
  if (value.length > MAX_SOURCE_NAME_LENGTH) throw new CacheError('invalid_input', `the source name is ${value.length} characters, over the ${MAX_SOURCE_NAME_LENGTH} an entry can record: nothing was stored`);
  return value;
}

export function parseCacheHash(value: unknown): CacheHash {
  if (typeof value === 'string') {
    const lower = value.toLowerCase();
    if (HASH_RE.test(lower)) return lower as CacheHash;
  }
  throw new CacheError('invalid_hash', `${describe(value)} is not a cache hash: expected 16 hex characters`);
}

export function parseNamespace(value: unknown): Namespace {
  const problem = namespaceProblem(value);
  if (problem === null) return value as Namespace;
  throw new CacheError('invalid_namespace', `${describe(value)} is not a valid namespace: ${problem}`);
}

export function parseVersion(value: unknown): number {
  const n = typeof value === 'string' && /^[0-9]{1,9}$/.test(value) ? Number(value) : value;
  if (isVersion(n)) return n;
  throw new CacheError('invalid_input', `${describe(value)} is not a version: expected a whole number from 1 to ${MAX_VERSION}`);
}

export function makeCacheId(hash: CacheHash, version: number): CacheId {
  return `${hash}-v${version}` as CacheId;
}

export interface ParsedCacheId {
  hash: CacheHash;
  version: number;
}

/** A native cache id's hash and version, or null when `text` is not one. */
export function cacheIdParts(text: string): ParsedCacheId | null {
  const m = CACHE_ID_RE.exec(text.toLowerCase());
  return m ? { hash: m[1] as CacheHash, version: Number(m[2]) } : null;
}

export function parseCacheId(value: unknown): ParsedCacheId {
  const parts = typeof value === 'string' ? cacheIdParts(value) : null;
  if (parts) return parts;
  throw new CacheError('invalid_cache_id', `${describe(value)} is not a cache id: expected <16 hex chars>-v<version>`);
}

/** What an operator typed in a lookup box or on the command line. */
export type EntryRef =
  | { kind: 'hash'; hash: CacheHash }
  | { kind: 'cache_id'; hash: CacheHash; version: number }
  | { kind: 'sha256'; hash: CacheHash; sha256: string };

/** Accepts a cache hash, a cache id, or a full SHA-256 (its first 16 chars are the hash). */
export function parseEntryRef(value: unknown): EntryRef {
  if (typeof value === 'string') {
    const text = value.trim().toLowerCase();
    if (HASH_RE.test(text)) return { kind: 'hash', hash: text as CacheHash };
    if (SHA256_RE.test(text)) return { kind: 'sha256', hash: text.slice(0, HASH_LENGTH) as CacheHash, sha256: text };
    if (text.includes('-v')) {
      const { hash, version } = parseCacheId(text);
      return { kind: 'cache_id', hash, version };
    }
  }
  throw new CacheError(
    'invalid_hash',
    `${describe(value)} is not a cache hash (16 hex characters), a cache id (<hash>-v<n>) or a SHA-256 (64 hex characters)`,
  );
}

/** Metadata of one stored version: the record written for it. */
export interface VersionRecord {
  namespace: Namespace;
  hash: CacheHash;
  cache_id: CacheId;
  version: number;
  sha256: string;
  size: number;
  content_type: string;
  source: string;
  stored_at: string;
}

export interface VersionSummary {
  version: number;
  cache_id: CacheId;
  stored_at: string;
  size: number;
  source: string;
}

export interface NamespaceSummary {
  name: Namespace;
  entries: number;
  versions: number;
  bytes: number;
}

export interface NamespaceStats {
  namespace: Namespace;
  entries: number;
  versions: number;
  bytes: number;
  objects: number;
  /** Entries per first-level shard folder (e.g. "00"…"ff"), for the layout heatmap. */
  shards: Record<string, number>;
}

export interface StoreResult {
  cache_id: CacheId;
  hash: CacheHash;
  version: number;
  namespace: Namespace;
  size: number;
  source: string;
  /** True when the namespace already held these bytes (only a version record was added). */
  deduplicated: boolean;
  keys: string[];
}

/** What `verify` can find wrong, in the order its report lists them. */
/** Entries a verify re-hashes as a sample, at most (app and CLI). */
export const MAX_VERIFY_SAMPLE = 1_000_000_000;

export const PROBLEM_KINDS = ['corrupt', 'missing_content', 'dangling_ref', 'orphan', 'misplaced', 'stale_latest', 'temp_leftover'] as const;
export type ProblemKind = (typeof PROBLEM_KINDS)[number];

/** An S3 bucket name as S3 takes it (lower case, digits, dots and hyphens, 3-63 characters). */
export const S3_BUCKET_RE = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/**
 * Why `endpoint` is not an S3 endpoint to connect to, or null. Credentials and queries are refused:
 * the endpoint is shown and kept in plain text (the connection bar, errors, profiles.json), so a
 * secret written into it would leak there. The reason never repeats the value.
 */
export function s3EndpointProblem(endpoint: string): string | null {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return 'must be an http(s) URL';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'must be an http(s) URL';
  if (url.username !== '' || url.password !== '') return 'must not hold a user name or password (give keys as keys, never in the URL)';
  if (url.search !== '' || url.hash !== '' || endpoint.includes('?') || endpoint.includes('#')) return 'must not have a query or fragment';
  return null;
}
