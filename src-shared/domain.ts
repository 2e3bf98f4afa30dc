import { z } from 'zod';
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

const HASH_RE = /^[0-9a-f]{16}$/;
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

export const cacheHashSchema = z
  .string()
  .max(64)
  .transform((s) => s.toLowerCase())
  .refine((s) => HASH_RE.test(s), { message: 'a cache hash is exactly 16 hex characters' })
  .transform((s) => s as CacheHash);

export const namespaceSchema = z
  .string()
  .max(64, { message: 'a namespace is at most 64 characters' })
  .refine((s) => NAMESPACE_RE.test(s) && !s.includes('..'), {
    message:
      'a namespace is 1-64 characters of a-z, 0-9, "-", "_" and ".", starts with a letter or digit, and has no ".."',
  })
  .transform((s) => s as Namespace);

export const versionSchema = z.number().int().min(1).max(MAX_VERSION);

/** Longest source name a version records, in UTF-16 code units. */
export const MAX_SOURCE_NAME_LENGTH = 1024;
// With the u flag a surrogate pair is one code point, so only a lone surrogate matches.
const LONE_SURROGATE_RE = /\p{Surrogate}/u;
const STORED_AT_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** Text a record can hold and a key can percent-encode: no lone surrogate (encodeURIComponent throws on one). */
const wellFormedText = z.string().refine((s) => !LONE_SURROGATE_RE.test(s), { message: 'is not well-formed Unicode (it holds a lone surrogate)' });

/** The shape every stored version record must have; anything else is damage that verify reports. */
export const versionRecordSchema = z
  .object({
    namespace: namespaceSchema,
    hash: z.string().regex(HASH_RE, { message: 'is not a cache hash' }),
    cache_id: z.string(),
    version: versionSchema,
    sha256: z.string().regex(SHA256_RE, { message: 'is not a SHA-256' }),
    size: z.number().int().min(0),
    content_type: z.string(),
    source: wellFormedText,
    stored_at: z.string().refine((s) => STORED_AT_RE.test(s) && !Number.isNaN(Date.parse(s)), { message: 'is not a UTC time like 2026-11-23T23:22:46.123Z' }),
  })
  .refine((r) => r.cache_id === makeCacheId(r.hash as CacheHash, r.version), { message: 'cache_id does not match hash and version' })
  .refine((r) => r.sha256.startsWith(r.hash), { message: 'hash is not the start of sha256' });

/** Why `value` is not a valid version record (field and reason), or null when it is one. */
export function versionRecordProblem(value: unknown): string | null {
  const result = versionRecordSchema.safeParse(value);
  if (result.success) return null;
  const issue = result.error.issues[0]!;
  return issue.path.length > 0 ? `${issue.path.join('.')} ${issue.message}` : issue.message;
}

/**
 * A source name to record with a version: a string of well-formed Unicode without NUL (no file
 * name holds one), at most MAX_SOURCE_NAME_LENGTH characters. Refused before anything is written.
 */
export function parseSourceName(value: unknown): string {
  if (typeof value !== 'string') throw new CacheError('invalid_input', `${describe(value)} is not a source name: expected text`);
  if (LONE_SURROGATE_RE.test(value)) throw new CacheError('invalid_input', 'the source name is not well-formed Unicode (it holds a lone surrogate)');
  if (value.includes('\u0000')) throw new CacheError('invalid_input', 'the source name holds a NUL character, which no file name can');
  if (value.length > MAX_SOURCE_NAME_LENGTH) throw new CacheError('invalid_input', `the source name is ${value.length} characters; at most ${MAX_SOURCE_NAME_LENGTH} are kept`);
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
  // Only strings reach zod: it can throw while describing some hostile objects.
  const result = namespaceSchema.safeParse(typeof value === 'string' ? value : null);
  if (result.success) return result.data;
  throw new CacheError(
    'invalid_namespace',
    `${describe(value)} is not a valid namespace: ${result.error.issues[0]?.message ?? 'invalid'}`,
  );
}

export function parseVersion(value: unknown): number {
  const n = typeof value === 'string' && /^[0-9]{1,9}$/.test(value) ? Number(value) : value;
  const result = versionSchema.safeParse(typeof n === 'number' ? n : null);
  if (result.success) return result.data;
  throw new CacheError('invalid_input', `${describe(value)} is not a version: expected a whole number from 1 to ${MAX_VERSION}`);
}

export function makeCacheId(hash: CacheHash, version: number): CacheId {
  return `${hash}-v${version}` as CacheId;
}

export interface ParsedCacheId {
  hash: CacheHash;
  version: number;
}

export function parseCacheId(value: unknown): ParsedCacheId {
  if (typeof value === 'string') {
    const m = CACHE_ID_RE.exec(value.toLowerCase());
    if (m) return { hash: m[1] as CacheHash, version: Number(m[2]) };
  }
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
export const PROBLEM_KINDS = ['corrupt', 'missing_content', 'dangling_ref', 'orphan', 'misplaced', 'stale_latest', 'temp_leftover'] as const;
export type ProblemKind = (typeof PROBLEM_KINDS)[number];
