import { describe, expect, it } from 'vitest';
import { parseCacheHash, parseCacheId, parseEntryRef, parseNamespace, parseVersion } from './domain';

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
