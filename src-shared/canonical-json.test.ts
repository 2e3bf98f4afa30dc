import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import cases from '../test-fixtures/canonical-json.json';
import vectors from '../test-fixtures/hash-vectors.json';
import { canonicalJsonBytes, pythonFloatRepr, pythonJsonDumpsBytes, pythonJsonDumpsValue, pythonJsonFieldText } from './canonical-json';

const canonicalJsonFromValue = (value: unknown) => pythonJsonDumpsValue(value, { sortKeys: true });
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
const canonicalJsonFromText = (json: string) => text(canonicalJsonBytes(json));

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

  it(`writes a JSON file as the service does (json.dumps(indent=2): keys in their order, a repeated key in its first place) for all ${cases.cases.length}`, () => {
    const mismatches = cases.cases.filter((c) => text(pythonJsonDumpsBytes(c.input, { indent: 2, sortKeys: false })) !== c.indented);
    expect(mismatches.slice(0, 3)).toEqual([]);
  });

  it("finds a field as the service's from_json_field does: the last of a repeated key, objects sorted, scalars as Python's str()", () => {
    const doc = '{"a": {"b": 1, "b": {"y": [2.0], "x": "\\u00e9"}}, "n": 1e400, "t": true, "s": "caf\\u00e9", "z": null, "k": {"b": 1}, "k": 5}';
    expect(pythonJsonFieldText(doc, 'a.b')).toBe('{"x": "\\u00e9", "y": [2.0]}');
    expect(pythonJsonFieldText(doc, 'a.b.x')).toBe('é');
    expect(pythonJsonFieldText(doc, 'n')).toBe('inf');
    expect(pythonJsonFieldText(doc, 't')).toBe('True');
    expect(pythonJsonFieldText(doc, 's')).toBe('café');
    expect(pythonJsonFieldText(doc, 'z')).toBeNull();
    expect(pythonJsonFieldText(doc, 'k.b')).toBeNull(); // the later "k" holds no "b"
    expect(pythonJsonFieldText(doc, 'missing')).toBeNull();
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
      [1e-4, '0.0001'], [-0.5, '-0.5'], [9.5e-5, '9.5e-05'], [1234567890123456.8, '1234567890123456.8'], [1e16 + 2, '1.0000000000000002e+16'],
    ];
    for (const [x, text] of table) expect(pythonFloatRepr(x)).toBe(text);
  });

  it('treats integral JS numbers as ints and others as floats', () => {
    expect(canonicalJsonFromValue([1, 2.5, 1e21, -0])).toBe('[1, 2.5, 1000000000000000000000, 0]');
  });

  it.each(['{', '[1,]', '{"a" 1}', "{'a': 1}", '01', '"\\x"', '"a\u0001"', '1 2', '', 'nul'])('rejects %j with invalid_json', (text) => {
    expect(() => canonicalJsonFromText(text)).toThrow(expect.objectContaining({ code: 'invalid_json' }));
  });

  it('refuses a byte order mark left in the text, as json.loads refuses it in a str (decoding bytes drops one)', () => {
    expect(() => canonicalJsonFromText('\ufeff{}')).toThrow(expect.objectContaining({ code: 'invalid_json' }));
    expect(canonicalJsonFromText(new TextDecoder().decode(new Uint8Array([0xef, 0xbb, 0xbf, 0x7b, 0x7d])))).toBe('{}');
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
