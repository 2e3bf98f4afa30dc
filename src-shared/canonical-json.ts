/**
 * The canonical JSON text of the Python cache service: `json.dumps(value, sort_keys=True)`.
 * Separators ", " and ": ", keys sorted by code point, every character outside printable ASCII
 * escaped as \uXXXX (UTF-16 surrogate pairs above U+FFFF), floats written as Python's repr.
 *
 * Text is parsed here rather than with JSON.parse so that number lexemes survive: Python keeps
 * `1.0` a float ("1.0") and `1` an int ("1"), which JSON.parse cannot tell apart.
 */
import { CacheError } from './errors';

/** A number already in its Python text form. */
class PyNumber {
  constructor(readonly text: string) {}
}

type Node = null | boolean | string | PyNumber | Node[] | Map<string, Node>;

/** Python's repr() of a float. */
export function pythonFloatRepr(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (x === Infinity) return 'Infinity';
  if (x === -Infinity) return '-Infinity';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const sign = x < 0 ? '-' : '';
  // toExponential() without an argument gives the shortest digits that round-trip, like repr().
  const [mantissa, exp] = Math.abs(x).toExponential().split('e');
  const digits = mantissa!.replace('.', '');
  const decpt = Number(exp) + 1;
  if (decpt <= -4 || decpt > 16) {
    const e = decpt - 1;
    const frac = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    return `${sign}${frac}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
  }
  if (decpt <= 0) return `${sign}0.${'0'.repeat(-decpt)}${digits}`;
  if (decpt >= digits.length) return `${sign}${digits}${'0'.repeat(decpt - digits.length)}.0`;
  return `${sign}${digits.slice(0, decpt)}.${digits.slice(decpt)}`;
}

function compareCodePoints(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const ca = a.codePointAt(i)!;
    const cb = b.codePointAt(j)!;
    if (ca !== cb) return ca - cb;
    i += ca > 0xffff ? 2 : 1;
    j += cb > 0xffff ? 2 : 1;
  }
  return a.length - i - (b.length - j);
}

const SHORT_ESCAPES: Record<number, string> = { 0x22: '\\"', 0x5c: '\\\\', 0x0a: '\\n', 0x0d: '\\r', 0x09: '\\t', 0x08: '\\b', 0x0c: '\\f' };

function quote(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const short = SHORT_ESCAPES[c];
    if (short) out += short;
    else if (c >= 0x20 && c <= 0x7e) out += s[i];
    else out += `\\u${c.toString(16).padStart(4, '0')}`;
  }
  return `${out}"`;
}

/** Python json.dumps options: `indent` lays the text out as `json.dumps(indent=n)` does. */
export interface DumpsOptions {
  indent?: number;
  sortKeys: boolean;
}

function serialize(node: Node, options: DumpsOptions = { sortKeys: true }, level = 0): string {
  if (node === null) return 'null';
  if (node === true) return 'true';
  if (node === false) return 'false';
  if (typeof node === 'string') return quote(node);
  if (node instanceof PyNumber) return node.text;
  const items = Array.isArray(node)
    ? node.map((v) => serialize(v, options, level + 1))
    : (options.sortKeys ? [...node.keys()].sort(compareCodePoints) : [...node.keys()]).map((k) => `${quote(k)}: ${serialize(node.get(k)!, options, level + 1)}`);
  const [open, close] = Array.isArray(node) ? ['[', ']'] : ['{', '}'];
  if (items.length === 0) return `${open}${close}`;
  if (options.indent === undefined) return `${open}${items.join(', ')}${close}`;
  const inner = `\n${' '.repeat(options.indent * (level + 1))}`;
  return `${open}${inner}${items.join(`,${inner}`)}\n${' '.repeat(options.indent * level)}${close}`;
}

/** Deeper documents are refused rather than risking the stack (Python's own limit is near 1,000). */
const MAX_DEPTH = 1000;
const NUMBER_RE = /-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?/y;

/** A parser with the grammar of Python's json.loads (including NaN and +/-Infinity). */
class Parser {
  private pos = 0;
  private depth = 0;
  constructor(private readonly text: string) {}

  parseDocument(): Node {
    this.skipWhitespace();
    const value = this.parseValue();
    this.skipWhitespace();
    if (this.pos !== this.text.length) this.fail('unexpected text after the JSON value');
    return value;
  }

  private fail(what: string): never {
    throw new CacheError('invalid_json', `not valid JSON: ${what} at character ${this.pos}`);
  }

  private skipWhitespace(): void {
    while (this.pos < this.text.length) {
      const c = this.text.charCodeAt(this.pos);
      if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) break;
      this.pos++;
    }
  }

  private consume(word: string): boolean {
    if (this.text.startsWith(word, this.pos)) {
      this.pos += word.length;
      return true;
    }
    return false;
  }

  private parseValue(): Node {
    const c = this.text[this.pos];
    if (c === '{' || c === '[') {
      if (++this.depth > MAX_DEPTH) this.fail('nested too deeply');
      const node = c === '{' ? this.parseObject() : this.parseArray();
      this.depth--;
      return node;
    }
    if (c === '"') return this.parseString();
    if (this.consume('null')) return null;
    if (this.consume('true')) return true;
    if (this.consume('false')) return false;
    if (this.consume('NaN')) return new PyNumber('NaN');
    if (this.consume('Infinity')) return new PyNumber('Infinity');
    if (this.consume('-Infinity')) return new PyNumber('-Infinity');
    NUMBER_RE.lastIndex = this.pos;
    const m = NUMBER_RE.exec(this.text);
    if (!m) this.fail('expected a value');
    this.pos += m[0].length;
    const isFloat = m[1] !== undefined || m[2] !== undefined;
    return new PyNumber(isFloat ? pythonFloatRepr(Number(m[0])) : BigInt(m[0]).toString());
  }

  private parseArray(): Node[] {
    this.pos++;
    const items: Node[] = [];
    this.skipWhitespace();
    if (this.consume(']')) return items;
    for (;;) {
      this.skipWhitespace();
      items.push(this.parseValue());
      this.skipWhitespace();
      if (this.consume(']')) return items;
      if (!this.consume(',')) this.fail('expected "," or "]"');
    }
  }

  private parseObject(): Map<string, Node> {
    this.pos++;
    const map = new Map<string, Node>();
    this.skipWhitespace();
    if (this.consume('}')) return map;
    for (;;) {
      this.skipWhitespace();
      if (this.text[this.pos] !== '"') this.fail('expected a string key');
      const key = this.parseString();
      this.skipWhitespace();
      if (!this.consume(':')) this.fail('expected ":"');
      this.skipWhitespace();
      map.set(key, this.parseValue()); // a repeated key keeps its last value, as in Python
      this.skipWhitespace();
      if (this.consume('}')) return map;
      if (!this.consume(',')) this.fail('expected "," or "}"');
    }
  }

  private parseString(): string {
    this.pos++;
    let out = '';
    for (;;) {
      if (this.pos >= this.text.length) this.fail('unterminated string');
      const c = this.text.charCodeAt(this.pos);
      if (c === 0x22) {
        this.pos++;
        return out;
      }
      if (c < 0x20) this.fail('control character in string');
      if (c !== 0x5c) {
        out += this.text[this.pos++];
        continue;
      }
      const esc = this.text[this.pos + 1];
      const simple: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };
      if (esc !== undefined && esc in simple) {
        out += simple[esc];
        this.pos += 2;
      } else if (esc === 'u' && /^[0-9a-fA-F]{4}$/.test(this.text.slice(this.pos + 2, this.pos + 6))) {
        out += String.fromCharCode(parseInt(this.text.slice(this.pos + 2, this.pos + 6), 16));
        this.pos += 6;
      } else {
        this.fail('invalid escape');
      }
    }
  }
}

/** Canonical text of JSON source text (bytes already decoded). */
export function canonicalJsonFromText(text: string): string {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  return serialize(new Parser(body).parseDocument());
}

function fromValue(value: unknown, depth: number): Node {
  if (depth > MAX_DEPTH) throw new CacheError('invalid_json', 'JSON value is nested too deeply');
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return value;
  if (typeof value === 'number') {
    // A JS number cannot say whether it was written 1 or 1.0: integral values are Python ints.
    return new PyNumber(Number.isInteger(value) ? BigInt(value).toString() : pythonFloatRepr(value));
  }
  if (typeof value === 'bigint') return new PyNumber(value.toString());
  if (Array.isArray(value)) return value.map((v) => fromValue(v, depth + 1));
  if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    const map = new Map<string, Node>();
    for (const [k, v] of Object.entries(value)) map.set(k, fromValue(v, depth + 1));
    return map;
  }
  throw new CacheError('invalid_json', `a ${typeof value} cannot be stored as JSON`);
}

/** Python's str() of a number json.loads made: the repr, but nan and inf in lower case. */
const PYTHON_STR_OF: Record<string, string> = { NaN: 'nan', Infinity: 'inf', '-Infinity': '-inf' };

/**
 * What Cache__Hash__Generator.from_json_field hashes for the field at a dot path of JSON text: a
 * string as it is, a number or boolean as Python's str() gives it (exact for big integers, 2.0 as
 * "2.0"), an object or array as json.dumps(sort_keys=True). Null when the field is absent or null.
 */
export function pythonJsonFieldText(text: string, fieldPath: string): string | null {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  let node: Node | undefined = new Parser(body).parseDocument();
  for (const part of fieldPath.split('.')) {
    if (!(node instanceof Map)) return null;
    node = node.get(part);
  }
  if (node === undefined || node === null) return null;
  if (typeof node === 'string') return node;
  if (typeof node === 'boolean') return node ? 'True' : 'False';
  if (node instanceof PyNumber) return PYTHON_STR_OF[node.text] ?? node.text;
  return serialize(node);
}

/** Python's `json.dumps(json.loads(text), indent=…, sort_keys=…)`: how the Python service writes JSON files. */
export function pythonJsonDumpsText(text: string, options: DumpsOptions): string {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  return serialize(new Parser(body).parseDocument(), options);
}

/** Python's `json.dumps(value, indent=…, sort_keys=…)` of an in-memory value (integral numbers are ints). */
export function pythonJsonDumpsValue(value: unknown, options: DumpsOptions): string {
  return serialize(fromValue(value, 0), options);
}
