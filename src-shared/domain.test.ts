import { describe, expect, it } from 'vitest';
import { parseCacheHash, parseCacheId, parseEntryRef, parseNamespace, parseVersion, versionRecordProblem } from './domain';

const code = (code: string) => expect.objectContaining({ code });

describe('cache hash', () => {
  it('normalises upper case to lower case', () => {
    expect(parseCacheHash('B94D27B9934D3E08')).toBe('b94d27b9934d3e08');
  });
  it.each(['', 'b94d27b9934d3e0', 'b94d27b9934d3e088', 'g94d27b9934d3e08', ' b94d27b9934d3e08', 42, null])('rejects %j', (v) => {
    expect(() => parseCacheHash(v)).toThrow(code('invalid_hash'));
  });
});

describe('cache id', () => {
  it('parses <hash>-v<n>', () => {
    expect(parseCacheId('B94D27B9934D3E08-v12')).toEqual({ hash: 'b94d27b9934d3e08', version: 12 });
  });
  it.each(['b94d27b9934d3e08-v0', 'b94d27b9934d3e08-v01', 'b94d27b9934d3e08-v', 'b94d27b9934d3e08v1', 'b94d27b9934d3e08-v1x', 'b94d27b9934d3e08-v123456789'])(
    'rejects %j',
    (v) => {
      expect(() => parseCacheId(v)).toThrow(code('invalid_cache_id'));
    },
  );
});

describe('namespace', () => {
  it.each(['default', 'a', 'team-1.cache_v2', '0abc', 'a'.repeat(64)])('accepts %j', (v) => {
    expect(parseNamespace(v)).toBe(v);
  });
  it.each(['', 'Default', '-a', '.a', '_a', 'a..b', 'a/b', 'a\\b', '../x', 'a b', 'a'.repeat(65), 'é', 'a\u0000', 7])('rejects %j', (v) => {
    expect(() => parseNamespace(v)).toThrow(code('invalid_namespace'));
  });
});

describe('entry reference (lookup box and CLI argument)', () => {
  it('recognises a hash, a cache id and a full SHA-256', () => {
    expect(parseEntryRef('b94d27b9934d3e08')).toEqual({ kind: 'hash', hash: 'b94d27b9934d3e08' });
    expect(parseEntryRef('b94d27b9934d3e08-v3')).toEqual({ kind: 'cache_id', hash: 'b94d27b9934d3e08', version: 3 });
    const sha = 'b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9';
    expect(parseEntryRef(sha.toUpperCase())).toEqual({ kind: 'sha256', hash: 'b94d27b9934d3e08', sha256: sha });
  });
  it('rejects anything else with a typed error', () => {
    expect(() => parseEntryRef('hello')).toThrow(code('invalid_hash'));
    expect(() => parseEntryRef('b94d27b9934d3e08-v0')).toThrow(code('invalid_cache_id'));
  });
  it('parses versions strictly', () => {
    expect(parseVersion('7')).toBe(7);
    expect(() => parseVersion('0')).toThrow(code('invalid_input'));
    expect(() => parseVersion('1.5')).toThrow(code('invalid_input'));
  });
});

describe('versionRecordProblem', () => {
  const good = {
    namespace: 'docs',
    hash: 'b94d27b9934d3e08',
    cache_id: 'b94d27b9934d3e08-v2',
    version: 2,
    sha256: 'b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9',
    size: 11,
    content_type: 'text/plain',
    source: 'hello.txt',
    stored_at: '2026-11-23T23:22:46.123Z',
    extra: 'kept fields a newer writer adds are fine',
  };

  it('accepts a whole record', () => {
    expect(versionRecordProblem(good)).toBeNull();
  });

  it.each([
    [{ ...good, namespace: 'Docs' }, /^namespace a namespace is 1-64 characters/],
    [{ ...good, hash: 'B94D27B9934D3E08' }, /^hash is not a cache hash$/],
    [{ ...good, cache_id: 7 }, /^cache_id is not text$/],
    [{ ...good, version: 0 }, /^version is not a whole number from 1 to 99999999$/],
    [{ ...good, version: 1.5 }, /^version is not a whole number/],
    [{ ...good, sha256: 'b94d' }, /^sha256 is not a SHA-256$/],
    [{ ...good, size: -1 }, /^size is not a whole number of bytes$/],
    [{ ...good, size: '11' }, /^size /],
    [{ ...good, content_type: null }, /^content_type is not text$/],
    [{ ...good, source: '\ud800' }, /^source is not well-formed Unicode/],
    [{ ...good, stored_at: '2026-13-45T99:00:00.000Z' }, /^stored_at is not a UTC time/],
    [{ ...good, version: 3 }, /^cache_id does not match hash and version$/],
    [{ ...good, sha256: `0${good.sha256.slice(1)}` }, /^hash is not the start of sha256$/],
    [[good], /^expected object$/],
    [null, /^expected object$/],
  ])('names the first field that is wrong: %#', (record, problem) => {
    expect(versionRecordProblem(record)).toMatch(problem);
  });

  it('reports fields in record order, the first one wrong', () => {
    expect(versionRecordProblem({ ...good, hash: 'x', size: 'y' })).toBe('hash is not a cache hash');
    expect(versionRecordProblem({})).toMatch(/^namespace /);
  });
});
