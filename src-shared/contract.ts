/**
 * The one contract between the renderer and main: every method, its input schema and its result.
 * Electron IPC and the loopback bridge both carry exactly this; main validates every payload here
 * before the core sees it.
 */
import { z } from 'zod';
import { cacheHashSchema, namespaceSchema } from './domain';
import type { NamespaceStats, NamespaceSummary, StoreResult, VersionRecord, VersionSummary } from './domain';
import type { ErrorInfo } from './errors';
import { isValidPrefix } from './keys';

export type Result<T> = { ok: true; value: T } | { ok: false; error: ErrorInfo };

/** Bounds on what one message may carry: no unbounded list, no whole big file. */
export const LIMITS = {
  refLength: 128,
  keyLength: 1024,
  cursorLength: 2048,
  pathLength: 4096,
  nameLength: 1024,
  /** Bytes stored straight from the renderer (pasted text, small drops); files go by path or stream. */
  inlineBytes: 1024 * 1024,
  previewBytes: 64 * 1024,
  pageSize: 1000,
} as const;

const namespace = namespaceSchema;
const ref = z.string().min(1).max(LIMITS.refLength);
const storeAs = z.enum(['bytes', 'json']).default('bytes');

export const methods = {
  capabilities: { input: z.object({}).strict() },
  namespaces: { input: z.object({}).strict() },
  stats: { input: z.object({ namespace }).strict() },
  versions: { input: z.object({ namespace, hash: cacheHashSchema }).strict() },
  /** Metadata, storage keys and a bounded preview of one version (hash, cache id or SHA-256). */
  entry: { input: z.object({ namespace, ref }).strict() },
  listKeys: {
    input: z
      .object({
        prefix: z.string().max(LIMITS.keyLength).refine(isValidPrefix, { message: 'not a valid storage key prefix' }),
        cursor: z.string().max(LIMITS.cursorLength).optional(),
        limit: z.number().int().min(1).max(LIMITS.pageSize).optional(),
        delimiter: z.boolean().optional(),
      })
      .strict(),
  },
  delete: { input: z.object({ namespace, ref }).strict() },
  /** Small content from the renderer itself, base64 so it survives JSON transports. */
  storeBytes: {
    input: z
      .object({
        namespace,
        name: z.string().max(LIMITS.nameLength),
        base64: z.string().max(Math.ceil(LIMITS.inlineBytes / 3) * 4),
        as: storeAs,
      })
      .strict(),
  },
} as const;

export type MethodName = keyof typeof methods;
export type MethodInput<M extends MethodName> = z.input<(typeof methods)[M]['input']>;

export interface EntryView {
  record: VersionRecord;
  latestVersion: number;
  keys: string[];
  /** The first bytes as base64, at most LIMITS.previewBytes. */
  preview: string;
  previewTruncated: boolean;
}

export interface KeyPage {
  objects: { key: string; size: number; modified: string }[];
  prefixes: string[];
  cursor?: string;
}

export interface MethodResults {
  capabilities: { store: string; conditionalWrites: boolean };
  namespaces: { namespaces: NamespaceSummary[] };
  stats: NamespaceStats;
  versions: { hash: string; versions: VersionSummary[]; count: number };
  entry: EntryView;
  listKeys: KeyPage;
  delete: { deleted: string[]; contentRemoved: boolean };
  storeBytes: StoreResult;
}

/** What the renderer calls: the preload object and the bridge client both implement it. */
export type CacheAdminApi = {
  [M in MethodName]: (input: MethodInput<M>) => Promise<Result<MethodResults[M]>>;
};

export function isMethodName(value: unknown): value is MethodName {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(methods, value);
}
