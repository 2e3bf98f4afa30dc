import { describe, expect, it } from 'vitest';
import { entryRefOf, parseLookup } from './lookup';

describe('lookup input', () => {
  it.each([
    [' b94d27b9934d3e08-v12 ', { ok: true, ref: 'b94d27b9934d3e08-v12' }],
    ['0f8a3c2e-5b1d-4e6f-9a7b-1c2d3e4f5a6b', { ok: true, ref: '0f8a3c2e-5b1d-4e6f-9a7b-1c2d3e4f5a6b' }],
    ['docs/objects/b9/4d/b94d27b9934d3e08.v00000003.json', { ok: true, ref: 'docs/objects/b9/4d/b94d27b9934d3e08.v00000003.json', namespace: 'docs' }],
    ['TeamA/refs/by-hash/b9/4d/b94d27b9934d3e08.json', { ok: true, namespace: 'TeamA' }],
  ])('%s goes to main as typed, a storage key with its namespace', (input, expected) => {
    expect(parseLookup(input)).toMatchObject(expected);
  });

  it.each(['/tmp/x', '/tmp/store/default/objects/b9/4d/b94d27b9934d3e08', '~/b94d27b9934d3e08', 'C:\\cache\\b94d27b9934d3e08', './b94d27b9934d3e08'])('says %j is a file path and what the lookup takes, naming no namespace', (input) => {
    const result = parseLookup(input);
    expect(result).toMatchObject({ ok: false, message: expect.stringMatching(/is a file path\. The lookup takes a cache hash .*GUID.*storage key/) });
  });

  it('says what is wrong with text longer than any key (a pasted file), in words, before asking main', () => {
    expect(parseLookup('x'.repeat(5000))).toMatchObject({ ok: false, message: expect.stringMatching(/^That is 5,000 characters; the longest storage key is 1,024\. The lookup takes a cache hash/) });
  });

  it('asks for something when nothing is typed', () => {
    expect(parseLookup('  ')).toMatchObject({ ok: false, message: expect.stringMatching(/^Type a cache hash/) });
  });

  it.each([
    ['B94D27B9934D3E08', { kind: 'hash', hash: 'b94d27b9934d3e08' }],
    ['b94d27b9934d3e08-v12', { kind: 'cache_id', hash: 'b94d27b9934d3e08', version: 12 }],
    ['b94d27b9934d3e08' + 'a'.repeat(48), { kind: 'sha256', hash: 'b94d27b9934d3e08' }],
    ['0f8a3c2e-5b1d-4e6f-9a7b-1c2d3e4f5a6b', undefined],
    ['b94d27b9934d3e08zz', undefined],
    ['b94d27b9934d3e08-v0', undefined],
  ])('%s names %o (whose versions a failed lookup may still list)', (ref, named) => {
    expect(entryRefOf(ref)).toEqual(named === undefined ? undefined : expect.objectContaining(named));
  });
});
