/**
 * Characters that change how the text around them reads: controls (a new line, a terminal escape)
 * and bidirectional marks and overrides (`invoice\u202Egpj.exe` shows as `invoiceexe.jpg`).
 */
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const UNPRINTABLE = /[\x00-\x1f\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
const ESCAPES: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function escaped(c: string): string {
  return ESCAPES[c] ?? (c < '\u0100' ? `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}` : `\\u${c.charCodeAt(0).toString(16)}`);
}

/** A name as shown to the operator (the app's lists and panels): those characters written as escapes, `\n`, `\x1b`, `\u202e`. */
export function shownName(text: string): string {
  return text.replace(UNPRINTABLE, escaped);
}

/**
 * Text for a terminal line, like `ls -b`: those characters escaped, and each backslash doubled so
 * the line reads back unambiguously; a file name cannot start a new output line or send an escape.
 */
export function printable(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(UNPRINTABLE, escaped);
}
