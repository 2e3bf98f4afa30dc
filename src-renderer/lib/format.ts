import type { ErrorCode } from '../../src-shared/errors';

/** What each error code means, as an error line's lead (the code itself stays on the line for scripts and support). */
export const ERROR_TITLES: Record<ErrorCode, string> = {
  invalid_hash: 'Not a cache hash',
  invalid_cache_id: 'Not a cache id',
  invalid_namespace: 'Not a namespace name',
  invalid_key: 'Not a usable name',
  invalid_input: 'Invalid input',
  invalid_json: 'Not valid JSON',
  too_large: 'Too large',
  not_found: 'Not found',
  expired: 'Expired',
  corrupt: 'Damaged',
  cancelled: 'Cancelled',
  conflict: 'Conflict',
  access_denied: 'Access denied',
  no_space: 'Out of space',
  io_error: 'Read or write failed',
  no_such_bucket: 'No such bucket',
  storage_unreachable: 'Store unreachable',
  throttled: 'The store asked to slow down',
  unauthorized: 'Not allowed',
  disconnected: 'Not connected',
  internal: 'Unexpected failure',
};

export { counted, formatBytes, formatCount } from '../../src-shared/units';

export function formatTime(iso: string): string {
  return iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

/** Bytes a hex preview shows: a dump of more is too long to read in a panel. */
export const HEX_PREVIEW_BYTES = 4096;

/** A hex dump line per 16 bytes: offset, bytes, printable characters. */
export function hexDump(bytes: Uint8Array, maxBytes = HEX_PREVIEW_BYTES): string {
  const lines: string[] = [];
  for (let offset = 0; offset < Math.min(bytes.length, maxBytes); offset += 16) {
    const row = bytes.subarray(offset, offset + 16);
    const hex = [...row].map((b) => b.toString(16).padStart(2, '0')).join(' ');
    const text = [...row].map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
    lines.push(`${offset.toString(16).padStart(8, '0')}  ${hex.padEnd(47)}  ${text}`);
  }
  return lines.join('\n');
}

export function base64ToBytes(base64: string): Uint8Array {
  const binary = atob(base64);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** Bytes a base64 text decodes to, without decoding it (a whole image can be megabytes). */
function base64Length(base64: string): number {
  return (base64.length / 4) * 3 - (base64.endsWith('==') ? 2 : base64.endsWith('=') ? 1 : 0);
}

/** Control characters other than tab, newlines, form feed: a sign of binary content. */
function isControlByte(b: number): boolean {
  return b < 0x09 || (b > 0x0d && b < 0x20);
}

/** What to show, and how many of the content's bytes it shows. */
export type Preview = ({ kind: 'json' | 'text' | 'hex'; text: string } | { kind: 'image'; src: string } | { kind: 'too-big' }) & { shownBytes: number };

/**
 * How to show the first bytes of an entry: pretty JSON, text, an image, or hex for binary. Main
 * sends an image whole (and checked) up to LIMITS.imagePreviewBytes; one cut short is too big to show.
 */
export function previewOf(contentType: string, base64: string, truncated: boolean): Preview {
  if (contentType.startsWith('image/') && !contentType.startsWith('image/svg')) {
    return truncated ? { kind: 'too-big', shownBytes: 0 } : { kind: 'image', src: `data:${contentType};base64,${base64}`, shownBytes: base64Length(base64) };
  }
  const bytes = base64ToBytes(base64);
  const shownBytes = bytes.length;
  let text: string | null = null;
  try {
    // Cut at the preview limit, a multi-byte character may be cut too: streaming, the decoder holds back its start.
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes, { stream: truncated });
  } catch {
    text = null;
  }
  if (text === null || bytes.some(isControlByte)) return { kind: 'hex', text: hexDump(bytes), shownBytes: Math.min(shownBytes, HEX_PREVIEW_BYTES) };
  if (!truncated && (contentType.includes('json') || /^\s*[[{]/.test(text))) {
    try {
      JSON.parse(text); // JSON, so it is shown indented: its tokens as stored
      return { kind: 'json', text: indentJson(text), shownBytes };
    } catch {
      // not JSON after all
    }
  }
  return { kind: 'text', text, shownBytes };
}

/**
 * Valid JSON laid out two spaces a level, every token as written: re-printing a parsed value would
 * show 12345678901234567890 as 12345678901234567000 and 1.10 as 1.1, values that hash otherwise.
 */
const INDENTED_LEVELS = 64;

export function indentJson(text: string): string {
  let out = '';
  let depth = 0;
  // Past this depth the rest stays on one line: 30,000 levels fit in a 64 KiB preview, and indenting each would take gigabytes.
  const newline = () => (depth > INDENTED_LEVELS ? '' : `\n${'  '.repeat(depth)}`);
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '"') {
      let end = i + 1;
      while (text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
      out += readableEscapes(text.slice(i, end + 1));
      i = end;
    } else if (c === '{' || c === '[') {
      const close = c === '{' ? '}' : ']';
      const next = text.slice(i + 1).search(/\S/) + i + 1;
      if (text[next] === close) {
        out += c + close; // an empty one stays on its line
        i = next;
      } else {
        depth++;
        out += c + newline();
      }
    } else if (c === '}' || c === ']') {
      depth--;
      out += newline() + c;
    } else if (c === ',') out += `,${newline()}`;
    else if (c === ':') out += ': ';
    else if (!/\s/.test(c)) out += c;
  }
  return out;
}

/**
 * A JSON string with its `\\uXXXX` escapes of printable characters written out (the service stores
 * `"\\u0413\\u043e\\u0434"` for "Год"): the same value, readable. ASCII, control and format
 * characters (a quote, a right-to-left override) stay escaped, as does an escaped backslash.
 */
function readableEscapes(token: string): string {
  return token.replace(/\\(?:u(d[89ab][0-9a-f]{2})\\u(d[c-f][0-9a-f]{2})|u([0-9a-f]{4})|.)/gi, (escape, high?: string, low?: string, one?: string) => {
    const char = high && low ? String.fromCharCode(parseInt(high, 16), parseInt(low, 16)) : one ? String.fromCharCode(parseInt(one, 16)) : null;
    return char !== null && char.codePointAt(0)! >= 0xa0 && !/[\p{C}\p{Z}]/u.test(char) ? char : escape;
  });
}

