import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import cases from '../test-fixtures/canonical-json.json';
import vectors from '../test-fixtures/hash-vectors.json';
import { canonicalJsonFromText, pythonFloatRepr, pythonJsonDumpsValue } from './canonical-json';

const canonicalJsonFromValue = (value: unknown) => pythonJsonDumpsValue(value, { sortKeys: true });

const cacheHash = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex').slice(0, 16);

describe('canonical JSON matches Python json.dumps(sort_keys=True)', () => {
  it.each(vectors.vectors.filter((v) => v.kind === 'json'))('shared vector $canonical', (v) => {
    const fromValue = canonicalJsonFromValue(v.input);
    expect(fromValue).toBe(v.canonical);
    expect(cacheHash(fromValue)).toBe(v.hash);
    expect(canonicalJsonFromText(JSON.stringify(v.input))).toBe(v.canonical);
  });

  it(`gives Python's exact text and hash for all ${cases.cases.length} generated documents`, () => {
    const mismatches = cases.cases.filter((c) => canonicalJsonFromText(c.input) !== c.canonical);
    expect(mismatches.slice(0, 3)).toEqual([]);
    for (const c of cases.cases) expect(cacheHash(canonicalJsonFromText(c.input))).toBe(c.hash);
  });

  it('keeps 1.0 a float and 1 an int when parsing text, as Python does', () => {
    expect(canonicalJsonFromText('[1, 1.0, 1e2]')).toBe('[1, 1.0, 100.0]');
  });

  it('sorts keys by code point, not UTF-16 unit (U+FF61 before U+1F600)', () => {
    expect(canonicalJsonFromValue({ '\u{1F600}': 1, '\uFF61': 2 })).toBe('{"\\uff61": 2, "\\ud83d\\ude00": 1}');
  });

  it('writes floats as Python repr', () => {
    const table: [number, string][] = [
      [0.1, '0.1'], [1e-5, '1e-05'], [1e16, '1e+16'], [1e15, '1000000000000000.0'], [-0, '-0.0'],
      [2.5e-7, '2.5e-07'], [1.5e300, '1.5e+300'], [Infinity, 'Infinity'], [NaN, 'NaN'], [123.456, '123.456'],
    ];
    for (const [x, text] of table) expect(pythonFloatRepr(x)).toBe(text);
  });

  it('treats integral JS numbers as ints and others as floats', () => {
    expect(canonicalJsonFromValue([1, 2.5, 1e21, -0])).toBe('[1, 2.5, 1000000000000000000000, 0]');
  });

  it.each(['{', '[1,]', '{"a" 1}', "{'a': 1}", '01', '"\\x"', '"a\u0001"', '1 2', '', 'nul'])('rejects %j with invalid_json', (text) => {
    expect(() => canonicalJsonFromText(text)).toThrow(expect.objectContaining({ code: 'invalid_json' }));
  });

  it('rejects values JSON cannot hold', () => {
    expect(() => canonicalJsonFromValue({ f: () => 1 })).toThrow(expect.objectContaining({ code: 'invalid_json' }));
    expect(() => canonicalJsonFromValue(new Date())).toThrow(expect.objectContaining({ code: 'invalid_json' }));
  });

  it('rejects nesting deep enough to exhaust the stack with a typed error', () => {
    expect(() => canonicalJsonFromText('['.repeat(100_000) + ']'.repeat(100_000))).toThrow(
      expect.objectContaining({ code: 'invalid_json' }),
    );
  });
});
