import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { LIMITS, isMethodName, methods, type HashReport, type MethodName, type MethodResults, type Result } from '../../src-shared/contract';
import { parseEntryRef, type CacheHash } from '../../src-shared/domain';
import { CacheError } from '../../src-shared/errors';
import { suggestedFileName, type CacheService, type EntryLookup, type StoreInput, type TransferOptions } from '../core/cache-service';
import { verifyStore } from '../core/verify';
import type { AppSession } from './session';

type Handlers = { [M in MethodName]: (input: never) => Promise<MethodResults[M]> };

export function lookupOf(ref: string): EntryLookup {
  const parsed = parseEntryRef(ref);
  if (parsed.kind === 'cache_id') return { hash: parsed.hash, version: parsed.version };
  return { hash: parsed.hash, sha256: parsed.kind === 'sha256' ? parsed.sha256 : undefined };
}

/** Hash-before-store: the hash, and the version the namespace already holds it as (one read). */
export async function hashReport(cache: CacheService, namespace: string, input: StoreInput, options: TransferOptions): Promise<HashReport> {
  const { hash, sha256, size, latest } = await cache.peek(namespace, input, options);
  return { hash, sha256, size, existing: latest ? { cache_id: latest.cache_id, version: latest.version } : null };
}

function handlers(session: AppSession): Handlers {
  const cache = () => session.cache;
  return {
    capabilities: async () => session.capabilities(),
    namespaces: async () => ({ namespaces: await cache().namespaces() }),
    namespaceNames: async () => ({ names: await cache().namespaceNames() }),
    stats: async ({ namespace }: { namespace: string }) => cache().stats(namespace),
    versions: async ({ namespace, hash }: { namespace: string; hash: CacheHash }) => {
      const versions = await cache().versions(namespace, hash);
      return { hash, versions, count: versions.length };
    },
    entry: async ({ namespace, ref }: { namespace: string; ref: string }) => {
      const { record, content } = await cache().retrieve(namespace, lookupOf(ref));
      const latest = await cache().record(namespace, { hash: record.hash });
      const parts: Uint8Array[] = [];
      let size = 0;
      for await (const chunk of content) {
        parts.push(chunk.subarray(0, LIMITS.previewBytes - size));
        size += Math.min(chunk.byteLength, LIMITS.previewBytes - size);
        if (size >= LIMITS.previewBytes) break; // stop reading: the rest is not needed
      }
      return {
        record,
        latestVersion: latest.version,
        keys: cache().keysOf(record),
        preview: Buffer.concat(parts).toString('base64'),
        previewTruncated: record.size > size,
      };
    },
    listKeys: async (input: { prefix: string; cursor?: string; limit?: number; delimiter?: boolean }) =>
      cache().listKeys(input.prefix, { cursor: input.cursor, limit: input.limit, delimiter: input.delimiter ? '/' : undefined }),
    entries: async ({ namespace, cursor, limit }: { namespace: string; cursor?: string; limit?: number }) => cache().entriesPage(namespace, { cursor, limit }),
    describeKey: async ({ key }: { key: string }) => {
      const described = cache().layout.describeKey(key);
      const listed = await cache().listKeys(key, { limit: 1 });
      const object = listed.objects.find((o) => o.key === key);
      return { key, kind: described?.kind ?? 'unknown', ...described, size: object?.size, modified: object?.modified };
    },
    delete: async ({ namespace, ref }: { namespace: string; ref: string }) => {
      const parsed = parseEntryRef(ref);
      const result = await cache().delete(namespace, { hash: parsed.hash, version: parsed.kind === 'cache_id' ? parsed.version : undefined });
      return { deleted: result.deleted, contentRemoved: result.contentRemoved };
    },
    storeBytes: async ({ namespace, name, base64, as }: { namespace: string; name: string; base64: string; as: 'bytes' | 'json' }) => {
      if (!/^[A-Za-z0-9+/]*={0,2}$/.test(base64)) throw new CacheError('invalid_input', 'content must be base64');
      return cache().store(namespace, { source: { kind: 'bytes', bytes: Buffer.from(base64, 'base64') }, name, as });
    },
    hashFile: async ({ namespace, path: file, transferId }: { namespace: string; path: string; transferId: string }) => {
      const chosen = await session.readableFile(file);
      return session.transfer(transferId, 'hash', chosen.size, (options) => hashReport(cache(), namespace, { source: { kind: 'file', path: chosen.path } }, options));
    },
    storeFile: async ({ namespace, path: file, transferId, as }: { namespace: string; path: string; transferId: string; as: 'bytes' | 'json' }) => {
      const chosen = await session.readableFile(file);
      return session.transfer(transferId, 'store', chosen.size, (options) =>
        cache().store(namespace, { source: { kind: 'file', path: chosen.path }, name: path.basename(file), as }, options),
      );
    },
    cancel: async ({ transferId }: { transferId: string }) => ({ cancelled: session.cancel(transferId) }),
    saveEntry: async ({ namespace, ref }: { namespace: string; ref: string }) => {
      const choose = session.options.chooseSavePath;
      if (!choose) throw new CacheError('invalid_input', 'this window cannot choose a file; download the content instead');
      const record = await cache().record(namespace, lookupOf(ref));
      const target = await choose(suggestedFileName(record));
      if (!target) return { saved: false };
      // Written next to the target and renamed, so a failed save never leaves a half file.
      const tmp = `${target}.partial`;
      try {
        const { content } = await cache().retrieve(namespace, { hash: record.hash, version: record.version });
        await pipeline(content, createWriteStream(tmp, { flags: 'wx' }));
        await rename(tmp, target);
      } catch (err) {
        await rm(tmp, { force: true });
        throw err;
      }
      return { saved: true, path: target, bytes: record.size };
    },
    verify: async ({ namespace, sample, repair, transferId }: { namespace?: string; sample?: number; repair: boolean; transferId: string }) =>
      session.transfer(transferId, 'verify', null, ({ signal, onProgress }) =>
        verifyStore(cache(), { namespace, sample, repair, signal, onProgress: ({ checked }) => onProgress(checked) }),
      ),
    profiles: async () => session.profilesView(),
    saveProfile: async ({ profile, allowPlaintextSecret }: { profile: never; allowPlaintextSecret: boolean }) => session.profiles.upsert(profile, allowPlaintextSecret),
    removeProfile: async ({ id }: { id: string }) => {
      if (id === session.activeProfileId) throw new CacheError('invalid_input', 'switch to another profile before removing this one');
      return { removed: await session.profiles.remove(id) };
    },
    connect: async ({ id }: { id: string }) => session.connect(id),
  };
}

const FIELD_CODES: Record<string, 'invalid_namespace' | 'invalid_hash' | 'invalid_key'> = { namespace: 'invalid_namespace', hash: 'invalid_hash', prefix: 'invalid_key' };

export type Dispatch = (method: unknown, payload: unknown) => Promise<Result<unknown>>;

/** A thrown error as a Result: typed codes pass through, anything else is logged here and hidden. */
export function errorResult(err: unknown, what: string): Result<never> {
  if (err instanceof CacheError) return { ok: false, error: err.toInfo() };
  // Logged in main only: the renderer gets a code and a sentence, never a stack.
  console.error(`cache-admin: ${what} failed: ${(err as Error)?.message ?? String(err)}`);
  return { ok: false, error: { code: 'internal', message: `${what} failed unexpectedly` } };
}

/**
 * Validates a method call against the contract and runs it. Anything that is not a valid call is
 * answered with a typed error and never reaches the core; no stack trace leaves this function.
 */
export function createDispatcher(session: AppSession): Dispatch {
  const table = handlers(session);
  return async (method, payload) => {
    if (!isMethodName(method)) return { ok: false, error: { code: 'invalid_input', message: 'unknown method' } };
    let parsed;
    try {
      parsed = methods[method].input.safeParse(payload ?? {});
    } catch {
      // zod can throw on objects built to break it (a null-prototype `constructor`): still bad input.
      return { ok: false, error: { code: 'invalid_input', message: `${method}: the payload is not valid` } };
    }
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const field = issue?.path.join('.') || 'payload';
      return { ok: false, error: { code: FIELD_CODES[field] ?? 'invalid_input', message: `${method}: ${field}: ${issue?.message ?? 'invalid'}` } };
    }
    try {
      const handler = table[method] as (input: unknown) => Promise<unknown>;
      return { ok: true, value: await handler(parsed.data) };
    } catch (err) {
      return errorResult(err, method);
    }
  };
}
