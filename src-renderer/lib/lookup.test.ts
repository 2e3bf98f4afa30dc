import { describe, expect, it } from 'vitest';
import { parseLookup } from './lookup';

describe('lookup input', () => {
  it.each([
    ['B94D27B9934D3E08', { ok: true, ref: 'b94d27b9934d3e08', hash: 'b94d27b9934d3e08' }],
    [' b94d27b9934d3e08-v12 ', { ok: true, ref: 'b94d27b9934d3e08-v12', hash: 'b94d27b9934d3e08' }],
    ['b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9', { ok: true, ref: 'b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9', hash: 'b94d27b9934d3e08' }],
    ['docs/objects/b9/4d/b94d27b9934d3e08', { ok: true, ref: 'b94d27b9934d3e08', hash: 'b94d27b9934d3e08', namespace: 'docs' }],
    ['docs/objects/b9/4d/b94d27b9934d3e08.v00000003.json', { ok: true, ref: 'b94d27b9934d3e08-v3', hash: 'b94d27b9934d3e08', namespace: 'docs' }],
    ['docs/objects/b9/4d/b94d27b9934d3e08~00000002~20261124T000000000Z~5~a.txt', { ok: true, ref: 'b94d27b9934d3e08-v2', namespace: 'docs' }],
    ['docs/temporal/2026/11/24/00/20261124T000000000Z~b94d27b9934d3e08-v7', { ok: true, ref: 'b94d27b9934d3e08-v7', namespace: 'docs' }],
  ])('%s', (input, expected) => {
    expect(parseLookup(input)).toMatchObject(expected);
  });

  it.each(['/tmp/x', '/tmp/store/default/objects/b9/4d/b94d27b9934d3e08', '~/b94d27b9934d3e08', 'C:\\cache\\b94d27b9934d3e08', './b94d27b9934d3e08'])('says %j is a file path and what the lookup takes, naming no namespace', (input) => {
    const result = parseLookup(input);
    expect(result).toMatchObject({ ok: false, message: expect.stringMatching(/is a file path\. The lookup takes a cache hash .*storage key/) });
  });

  it.each(['', 'xyz', 'tmp/x/objects/b9/4d/b94d27b9934d3e08', 'docs/objects/00/00/b94d27b9934d3e08', 'b94d27b9934d3e0', 'b94d27b9934d3e08-v0', '../objects/b9/4d/b94d27b9934d3e08', 'docs/objects/b9/4d/readme.txt'])('rejects %j with a message', (input) => {
    const result = parseLookup(input);
    expect(result.ok).toBe(false);
    expect(result.ok || result.message.length).toBeGreaterThan(10);
  });
});
