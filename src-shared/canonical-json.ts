/**
 * The canonical JSON text of the Python cache service: `json.dumps(value, sort_keys=True)`.
 * Separators ", " and ": ", keys sorted by code point, every character outside printable ASCII
 * escaped as \uXXXX (UTF-16 surrogate pairs above U+FFFF), floats written as Python's repr.
 *
 * Text is read here rather than with JSON.parse so that number lexemes survive: Python keeps
 * `1.0` a float ("1.0") and `1` an int ("1"), which JSON.parse cannot tell apart.
 */
import { CacheError } from './errors';

/** Python's repr() of a float. */
export function pythonFloatRepr(x: number): string {
  // Both give the shortest digits that round-trip; between 1e-4 and 1e16 both write them plainly.
  const abs = Math.abs(x);
  if (abs >= 1e-4 && abs < 1e16 && !Number.isInteger(x)) return String(x);
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

/** One UTF-16 code unit as json.dumps writes it inside a string (ensure_ascii). */
function quoteChar(c: number): string {
  const short = SHORT_ESCAPES[c];
  if (short) return short;
  if (c >= 0x20 && c <= 0x7e) return String.fromCharCode(c);
  return `\\u${c.toString(16).padStart(4, '0')}`;
}

function quote(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) out += quoteChar(s.charCodeAt(i));
  return `${out}"`;
}

/** Python json.dumps options: `indent` lays the text out as `json.dumps(indent=n)` does. */
export interface DumpsOptions {
  indent?: number;
  sortKeys: boolean;
}

/** With indent: a line break and the indent of `level` (before an item, or a closing bracket); without, nothing. */
const lineAt = (options: DumpsOptions, level: number) => (options.indent === undefined ? '' : '\n' + ' '.repeat(options.indent * level));
/** What goes between the items of a container at `level`. */
const separatorAt = (options: DumpsOptions, level: number) => (options.indent === undefined ? ', ' : ',' + lineAt(options, level + 1));

/** An array's or object's output from its items' (members as `"key": value`), for in-memory values. */
function container(items: string[], options: DumpsOptions, level: number, open: string, close: string): string {
  if (items.length === 0) return open + close;
  return open + lineAt(options, level + 1) + items.join(separatorAt(options, level)) + lineAt(options, level) + close;
}

/** Deeper documents are refused rather than risking the stack (Python's own limit is near 1,000). */
const MAX_DEPTH = 1000;
const NUMBER_RE = /-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?/y;
/** A run of string characters Python writes as they are: printable ASCII but `"` and `\`. */
const PLAIN_RUN_RE = /[\x20\x21\x23-\x5b\x5d-\x7e]*/y;
const ESCAPED: Record<string, number> = { '"': 0x22, '\\': 0x5c, '/': 0x2f, b: 0x08, f: 0x0c, n: 0x0a, r: 0x0d, t: 0x09 };
const latin1 = new TextDecoder('latin1');
/** The literal a value starting with this character must be. */
const WORDS: Record<number, string> = { 0x6e: 'null', 0x74: 'true', 0x66: 'false', 0x4e: 'NaN', 0x49: 'Infinity' };

/**
 * json.dumps' output, which is ASCII (ensure_ascii), as bytes: appended as it is made, so a 100 MB
 * document costs its output's size, not a string or object per value.
 */
class AsciiOut {
  bytes = new Uint8Array(1 << 16);
  length = 0;

  room(n: number): void {
    if (this.length + n <= this.bytes.length) return;
    const grown = new Uint8Array(Math.max(this.bytes.length * 2, this.length + n));
    grown.set(this.bytes.subarray(0, this.length));
    this.bytes = grown;
  }

  char(c: number): void {
    this.room(1);
    this.bytes[this.length++] = c;
  }

  /** ASCII text (from..to of it). */
  text(s: string, from = 0, to = s.length): void {
    this.room(to - from);
    for (let i = from; i < to; i++) this.bytes[this.length++] = s.charCodeAt(i);
  }

  read(from: number, to: number): string {
    return latin1.decode(this.bytes.subarray(from, to));
  }

  done(): Uint8Array {
    return this.bytes.subarray(0, this.length);
  }
}

/** An object's member as written: its key (decoded, for sorting) and where its `"key": value` lies. */
interface Member {
  key: string;
  /** Printable ASCII, where code units sort as code points. */
  plain: boolean;
  start: number;
  end: number;
}

/** Python's key order: by code point (U+10000 and up, a surrogate pair in UTF-16, after U+E000-U+FFFF). */
const compareKeys = (a: Member, b: Member) => (a.plain && b.plain ? (a.key < b.key ? -1 : a.key > b.key ? 1 : 0) : compareCodePoints(a.key, b.key));

/**
 * JSON text (the grammar of Python's json.loads, NaN and ±Infinity included) to the bytes of
 * json.dumps' text for it, in one pass with no tree in between: a sorted object's members are
 * written as they come and put in order at its end, a move of bytes already written.
 */
class Dumper {
  private pos = 0;
  private depth = 0;
  private readonly out = new AsciiOut();
  /** Where reorder keeps an object's members while it writes them again (one object at a time: reorders do not nest). */
  private scratch = new Uint8Array(0);
  /** With a field path: the output for the value at that path (its last occurrence), if any. */
  found: string | undefined;

  constructor(
    private readonly text: string,
    private readonly options: DumpsOptions,
    private readonly fieldPath: string[] = [],
  ) {}

  dumpDocument(): Uint8Array {
    this.skipWhitespace();
    this.dumpValue(0, this.fieldPath.length > 0 ? 0 : -1);
    this.skipWhitespace();
    if (this.pos !== this.text.length) this.fail('unexpected text after the JSON value');
    return this.out.done();
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

  /** `pathAt`: how much of the field path leads here (-1: off it). */
  private dumpValue(level: number, pathAt: number): void {
    const c = this.text.charCodeAt(this.pos);
    if (c === 0x7b || c === 0x5b) {
      if (++this.depth > MAX_DEPTH) this.fail('nested too deeply');
      if (c === 0x7b) this.dumpObject(level, pathAt);
      else this.dumpArray(level);
      this.depth--;
      return;
    }
    if (c === 0x22) return void this.dumpString();
    const word = WORDS[c];
    if (word !== undefined && this.consume(word)) return this.out.text(word);
    if (c === 0x2d && this.consume('-Infinity')) return this.out.text('-Infinity');
    NUMBER_RE.lastIndex = this.pos;
    const m = NUMBER_RE.exec(this.text);
    if (!m) this.fail('expected a value');
    this.pos += m[0].length;
    if (m[1] !== undefined || m[2] !== undefined) this.out.text(pythonFloatRepr(Number(m[0])));
    else this.out.text(m[0] === '-0' ? '0' : m[0]); // an integer's digits are already Python's, any length
  }

  private beforeItem(first: boolean, level: number): void {
    this.out.text(first ? lineAt(this.options, level + 1) : separatorAt(this.options, level));
  }

  private close(any: boolean, level: number, c: number): void {
    if (any) this.out.text(lineAt(this.options, level));
    this.out.char(c);
  }

  private dumpArray(level: number): void {
    this.pos++;
    this.out.char(0x5b);
    this.skipWhitespace();
    let any = false;
    if (!this.consume(']')) {
      for (;;) {
        this.skipWhitespace();
        this.beforeItem(!any, level);
        any = true;
        this.dumpValue(level + 1, -1);
        this.skipWhitespace();
        if (this.consume(']')) break;
        if (!this.consume(',')) this.fail('expected "," or "]"');
      }
    }
    this.close(any, level, 0x5d);
  }

  private dumpObject(level: number, pathAt: number): void {
    this.pos++;
    this.out.char(0x7b);
    // A repeated key keeps its first place and its last value, as in Python's dict.
    const members = new Map<string, Member>();
    let ordered = true;
    let previous: Member | null = null;
    let firstStart = 0;
    this.skipWhitespace();
    if (!this.consume('}')) {
      for (;;) {
        this.skipWhitespace();
        if (this.text.charCodeAt(this.pos) !== 0x22) this.fail('expected a string key');
        this.beforeItem(members.size === 0, level);
        const start = this.out.length;
        if (members.size === 0) firstStart = start;
        const keyAt = this.pos;
        const plain = this.dumpString();
        // A plain key is the text between its quotes; any other is read back from what was written.
        const key = plain ? this.text.slice(keyAt + 1, this.pos - 1) : (JSON.parse(this.out.read(start, this.out.length)) as string);
        this.skipWhitespace();
        if (!this.consume(':')) this.fail('expected ":"');
        this.skipWhitespace();
        this.out.text(': ');
        const onPath = pathAt >= 0 && key === this.fieldPath[pathAt] ? pathAt + 1 : -1;
        if (onPath > 0) this.found = undefined; // a later repeat of this key replaces what the earlier one held
        const valueStart = this.out.length;
        this.dumpValue(level + 1, onPath === this.fieldPath.length ? -1 : onPath);
        if (onPath === this.fieldPath.length) this.found = this.out.read(valueStart, this.out.length);
        const member = { key, plain, start, end: this.out.length };
        if (members.has(key) || (this.options.sortKeys && previous !== null && compareKeys(member, previous) < 0)) ordered = false;
        previous = member;
        members.set(key, member);
        this.skipWhitespace();
        if (this.consume('}')) break;
        if (!this.consume(',')) this.fail('expected "," or "}"');
      }
    }
    if (!ordered) this.reorder([...members.values()], firstStart, level);
    this.close(members.size > 0, level, 0x7d);
  }

  /**
   * Writes an object's members again, sorted (sort_keys) and without the values a repeated key
   * replaced.
   */
  private reorder(members: Member[], from: number, level: number): void {
    if (this.options.sortKeys) members.sort(compareKeys);
    if (this.scratch.length < this.out.length - from) this.scratch = new Uint8Array(Math.max(this.out.length - from, 2 * this.scratch.length, 1 << 12));
    const written = this.scratch;
    written.set(this.out.bytes.subarray(from, this.out.length));
    this.out.length = from;
    members.forEach((m, i) => {
      if (i > 0) this.out.text(separatorAt(this.options, level));
      const bytes = written.subarray(m.start - from, m.end - from);
      this.out.room(bytes.length);
      this.out.bytes.set(bytes, this.out.length);
      this.out.length += bytes.length;
    });
  }

  /** Writes a string as json.dumps does (every character outside printable ASCII escaped); returns whether it was written as it came. */
  private dumpString(): boolean {
    const start = this.pos++;
    PLAIN_RUN_RE.lastIndex = this.pos;
    PLAIN_RUN_RE.test(this.text);
    this.pos = PLAIN_RUN_RE.lastIndex;
    if (this.text.charCodeAt(this.pos) === 0x22) {
      this.out.text(this.text, start, ++this.pos);
      return true;
    }
    this.out.text(this.text, start, this.pos);
    for (;;) {
      if (this.pos >= this.text.length) this.fail('unterminated string');
      const c = this.text.charCodeAt(this.pos);
      if (c === 0x22) {
        this.pos++;
        this.out.char(0x22);
        return false;
      }
      if (c < 0x20) this.fail('control character in string');
      if (c === 0x5c) this.out.text(quoteChar(this.escape()));
      else {
        this.out.text(quoteChar(c));
        this.pos++;
      }
      const runStart = this.pos;
      PLAIN_RUN_RE.lastIndex = this.pos;
      PLAIN_RUN_RE.test(this.text);
      this.pos = PLAIN_RUN_RE.lastIndex;
      this.out.text(this.text, runStart, this.pos);
    }
  }

  /** The character code of the escape at pos (after it). */
  private escape(): number {
    const esc = this.text[this.pos + 1];
    if (esc !== undefined && esc in ESCAPED) {
      this.pos += 2;
      return ESCAPED[esc]!;
    }
    const hex = this.text.slice(this.pos + 2, this.pos + 6);
    if (esc !== 'u' || !/^[0-9a-fA-F]{4}$/.test(hex)) this.fail('invalid escape');
    this.pos += 6;
    return parseInt(hex, 16);
  }
}

/**
 * The canonical JSON of JSON source text: json.dumps(sort_keys=True), as bytes. The text is decoded
 * bytes (a decoder drops one BOM, as json.loads does for bytes); a BOM left in it is refused, as json.loads refuses it in a str.
 */
export function canonicalJsonBytes(text: string): Uint8Array {
  return pythonJsonDumpsBytes(text, { sortKeys: true });
}

/** Python's `json.dumps(json.loads(text), indent=…, sort_keys=…)` as bytes: how the Python service writes JSON files. */
export function pythonJsonDumpsBytes(text: string, options: DumpsOptions): Uint8Array {
  return new Dumper(text, options).dumpDocument();
}

/** Python's str() of a number json.loads made: the repr, but nan and inf in lower case. */
const PYTHON_STR_OF: Record<string, string> = { NaN: 'nan', Infinity: 'inf', '-Infinity': '-inf' };

/**
 * What Cache__Hash__Generator.from_json_field hashes for the field at a dot path of JSON text: a
 * string as it is, a number or boolean as Python's str() gives it (exact for big integers, 2.0 as
 * "2.0"), an object or array as json.dumps(sort_keys=True). Null when the field is absent or null.
 */
export function pythonJsonFieldText(text: string, fieldPath: string): string | null {
  const dumper = new Dumper(text, { sortKeys: true }, fieldPath.split('.'));
  dumper.dumpDocument();
  const field = dumper.found;
  if (field === undefined || field === 'null') return null;
  if (field.startsWith('"')) return JSON.parse(field) as string;
  if (field === 'true' || field === 'false') return field === 'true' ? 'True' : 'False';
  if (field.startsWith('{') || field.startsWith('[')) return field;
  return PYTHON_STR_OF[field] ?? field;
}

/** Python's `json.dumps(value, indent=…, sort_keys=…)` of an in-memory value (integral numbers are ints). */
export function pythonJsonDumpsValue(value: unknown, options: DumpsOptions): string {
  return dumpValue(value, options, 0);
}

function dumpValue(value: unknown, options: DumpsOptions, level: number): string {
  if (level > MAX_DEPTH) throw new CacheError('invalid_json', 'JSON value is nested too deeply');
  if (value === null) return 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'string') return quote(value);
  // A JS number cannot say whether it was written 1 or 1.0: integral values are Python ints.
  if (typeof value === 'number') return Number.isInteger(value) ? BigInt(value).toString() : pythonFloatRepr(value);
  if (typeof value === 'bigint') return value.toString();
  if (Array.isArray(value)) return container(value.map((v) => dumpValue(v, options, level + 1)), options, level, '[', ']');
  if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    const keys = Object.keys(value);
    if (options.sortKeys) keys.sort(compareCodePoints);
    const members = keys.map((k) => `${quote(k)}: ${dumpValue((value as Record<string, unknown>)[k], options, level + 1)}`);
    return container(members, options, level, '{', '}');
  }
  throw new CacheError('invalid_json', `a ${typeof value} cannot be stored as JSON`);
}
