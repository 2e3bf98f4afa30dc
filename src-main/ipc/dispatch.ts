import { LIMITS, isMethodName, methods, type MethodName, type MethodResults, type Result } from '../../src-shared/contract';
import { parseEntryRef } from '../../src-shared/domain';
import { CacheError } from '../../src-shared/errors';
import type { CacheService, EntryLookup } from '../core/cache-service';

type Handlers = { [M in MethodName]: (input: never) => Promise<MethodResults[M]> };

function lookupOf(ref: string): EntryLookup {
  const parsed = parseEntryRef(ref);
  if (parsed.kind === 'cache_id') return { hash: parsed.hash, version: parsed.version };
  return { hash: parsed.hash, sha256: parsed.kind === 'sha256' ? parsed.sha256 : undefined };
}

function handlers(cache: CacheService): Handlers {
  return {
    capabilities: async () => ({ store: cache.storage.description, ...cache.storage.capabilities }),
    namespaces: async () => ({ namespaces: await cache.namespaces() }),
    stats: async ({ namespace }: { namespace: string }) => cache.stats(namespace),
    versions: async ({ namespace, hash }: { namespace: string; hash: string }) => {
      const versions = await cache.versions(namespace, hash as never);
      return { hash, versions, count: versions.length };
    },
    entry: async ({ namespace, ref }: { namespace: string; ref: string }) => {
      const lookup = lookupOf(ref);
      const { record, content } = await cache.retrieve(namespace, lookup);
      const latest = await cache.record(namespace, { hash: record.hash });
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
        keys: cache.keysOf(record),
        preview: Buffer.concat(parts).toString('base64'),
        previewTruncated: record.size > size,
      };
    },
    listKeys: async (input: { prefix: string; cursor?: string; limit?: number; delimiter?: boolean }) =>
      cache.listKeys(input.prefix, { cursor: input.cursor, limit: input.limit, delimiter: input.delimiter ? '/' : undefined }),
    delete: async ({ namespace, ref }: { namespace: string; ref: string }) => {
      const parsed = parseEntryRef(ref);
      const result = await cache.delete(namespace, { hash: parsed.hash, version: parsed.kind === 'cache_id' ? parsed.version : undefined });
      return { deleted: result.deleted, contentRemoved: result.contentRemoved };
    },
    storeBytes: async ({ namespace, name, base64, as }: { namespace: string; name: string; base64: string; as: 'bytes' | 'json' }) => {
      if (!/^[A-Za-z0-9+/]*={0,2}$/.test(base64)) throw new CacheError('invalid_input', 'content must be base64');
      return cache.store(namespace, { source: { kind: 'bytes', bytes: Buffer.from(base64, 'base64') }, name, as });
    },
  };
}

/**
 * Validates a method call against the contract and runs it. Anything that is not a valid call is
 * answered with a typed error and never reaches the core; no stack trace leaves this function.
 */
export function createDispatcher(cache: CacheService): (method: unknown, payload: unknown) => Promise<Result<unknown>> {
  const table = handlers(cache);
  return async (method, payload) => {
    if (!isMethodName(method)) return { ok: false, error: { code: 'invalid_input', message: 'unknown method' } };
    const parsed = methods[method].input.safeParse(payload ?? {});
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const field = issue?.path.join('.') || 'payload';
      const code = field === 'namespace' ? 'invalid_namespace' : field === 'hash' ? 'invalid_hash' : field === 'prefix' ? 'invalid_key' : 'invalid_input';
      return { ok: false, error: { code, message: `${method}: ${field}: ${issue?.message ?? 'invalid'}` } };
    }
    try {
      const handler = table[method] as (input: unknown) => Promise<unknown>;
      return { ok: true, value: await handler(parsed.data) };
    } catch (err) {
      if (err instanceof CacheError) return { ok: false, error: err.toInfo() };
      // Logged in main only: the renderer gets a code and a sentence, never a stack.
      console.error(`cache-admin: ${method} failed: ${(err as Error)?.message ?? String(err)}`);
      return { ok: false, error: { code: 'internal', message: `${method} failed unexpectedly` } };
    }
  };
}
