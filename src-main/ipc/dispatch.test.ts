import { describe, expect, it } from 'vitest';
import { methods, type MethodName } from '../../src-shared/contract';
import { CacheService } from '../core/cache-service';
import { CountingStorage } from '../core/storage/counting';
import { MemoryStorage } from '../core/storage/memory';
import { createDispatcher } from './dispatch';

function setup() {
  const storage = new CountingStorage(new MemoryStorage());
  const dispatch = createDispatcher(new CacheService(storage));
  const calls = () => Object.values(storage.counts).reduce((a, b) => a + b, 0);
  return { storage, dispatch, calls };
}

const HOSTILE = ['../../etc/passwd', '/abs/path', 'a\u0000b', 'x'.repeat(100_000), '😀', '', 'DEFAULT'];
const WRONG_TYPES = [null, 42, true, [], ['default'], { nested: 1 }];

/** Malformed versions of a valid payload: each field wrong in each way, plus extra fields. */
function malformed(valid: Record<string, unknown>): unknown[] {
  const out: unknown[] = [42, 'string', [valid], { ...valid, extra: 1 }];
  for (const key of Object.keys(valid)) {
    const { [key]: _dropped, ...missing } = valid;
    out.push(missing);
    for (const bad of [...HOSTILE, ...WRONG_TYPES]) {
      if (bad !== valid[key]) out.push({ ...valid, [key]: bad });
    }
  }
  return out;
}

const VALID: { [M in MethodName]: Record<string, unknown> } = {
  capabilities: {},
  namespaces: {},
  stats: { namespace: 'default' },
  versions: { namespace: 'default', hash: 'b94d27b9934d3e08' },
  entry: { namespace: 'default', ref: 'b94d27b9934d3e08' },
  listKeys: { prefix: 'default/', limit: 10, delimiter: true },
  delete: { namespace: 'default', ref: 'b94d27b9934d3e08-v1' },
  storeBytes: { namespace: 'default', name: 'a.txt', base64: Buffer.from('hello world').toString('base64'), as: 'bytes' },
};

describe('contract dispatch', () => {
  it('covers every method of the contract', () => {
    expect(Object.keys(VALID).sort()).toEqual(Object.keys(methods).sort());
  });

  it.each(Object.keys(VALID) as MethodName[])('%s: malformed payloads get a typed error and never reach storage', async (method) => {
    const { dispatch, calls } = setup();
    const rejected: string[] = [];
    for (const payload of malformed(VALID[method])) {
      const before = calls();
      const result = await dispatch(method, payload);
      if (result.ok) continue; // e.g. a hostile string that is still a valid listKeys prefix is not an error
      expect(result.error.code).toMatch(/^(invalid_\w+|not_found)$/);
      expect(JSON.stringify(result.error)).not.toMatch(/\n\s+at /); // no stack traces
      if (result.error.code !== 'not_found') expect(calls()).toBe(before);
      rejected.push(result.error.code);
    }
    expect(rejected.length).toBeGreaterThan(0);
  });

  it('rejects unknown methods and prototype names', async () => {
    const { dispatch, calls } = setup();
    for (const name of ['nope', '__proto__', 'constructor', 'toString', 42, null]) {
      expect(await dispatch(name, {})).toEqual({ ok: false, error: { code: 'invalid_input', message: 'unknown method' } });
    }
    expect(calls()).toBe(0);
  });

  it('round-trips valid calls: store, entry with preview, versions, keys, delete', async () => {
    const { dispatch } = setup();
    const stored = await dispatch('storeBytes', VALID.storeBytes);
    expect(stored).toMatchObject({ ok: true, value: { cache_id: 'b94d27b9934d3e08-v1' } });
    const entry = await dispatch('entry', { namespace: 'default', ref: 'B94D27B9934D3E08' });
    expect(entry).toMatchObject({ ok: true, value: { latestVersion: 1, previewTruncated: false } });
    expect(Buffer.from((entry as { value: { preview: string } }).value.preview, 'base64').toString()).toBe('hello world');
    expect(await dispatch('versions', VALID.versions)).toMatchObject({ ok: true, value: { count: 1 } });
    expect(await dispatch('listKeys', { prefix: '', delimiter: true })).toMatchObject({ ok: true, value: { prefixes: ['default/'] } });
    expect(await dispatch('delete', VALID.delete)).toMatchObject({ ok: true, value: { contentRemoved: true } });
    expect(await dispatch('entry', VALID.entry)).toMatchObject({ ok: false, error: { code: 'not_found' } });
  });

  it('bounds the preview of big content', async () => {
    const { dispatch } = setup();
    const big = Buffer.alloc(200_000, 7).toString('base64');
    const stored = await dispatch('storeBytes', { namespace: 'default', name: 'big', base64: big });
    const ref = (stored as { value: { hash: string } }).value.hash;
    const entry = (await dispatch('entry', { namespace: 'default', ref })) as { value: { preview: string; previewTruncated: boolean } };
    expect(Buffer.from(entry.value.preview, 'base64').length).toBe(64 * 1024);
    expect(entry.value.previewTruncated).toBe(true);
  });
});
