import { describe, expect, it } from 'vitest';
import { previewOf } from './format';

const base64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');

describe('previewOf', () => {
  it.each([
    ['a 3-byte character (CJK), 1 byte of it left', '日本語のテキスト', 1],
    ['a 3-byte character, 2 bytes of it left', '日本語のテキスト', 2],
    ['a 4-byte character (emoji), 3 bytes of it left', 'ok 😀😀', 3],
  ])('text cut inside %s is still text, up to the last whole character (it was shown as hex)', (_what, text, kept) => {
    const whole = Buffer.from(text);
    const lastStart = whole.length - Buffer.from([...text].pop()!).length;
    const cut = whole.subarray(0, lastStart + kept);
    expect(previewOf('text/plain', base64(cut), true)).toMatchObject({ kind: 'text', text: [...text].slice(0, -1).join('') });
  });

  it('bytes that are not UTF-8 are hex, cut or whole', () => {
    const bytes = Uint8Array.from([0x61, 0xff, 0xfe, 0x62]);
    expect(previewOf('application/octet-stream', base64(bytes), false).kind).toBe('hex');
    expect(previewOf('application/octet-stream', base64(bytes), true).kind).toBe('hex');
  });

  it('whole text ending in a cut character is not text: nothing was cut to explain it', () => {
    expect(previewOf('text/plain', base64(Buffer.from('ab').subarray(0, 2)), false)).toMatchObject({ kind: 'text', text: 'ab' });
    expect(previewOf('text/plain', base64(Buffer.from('a日').subarray(0, 2)), false).kind).toBe('hex');
  });
});

describe('a JSON preview', () => {
  it('shows every value as stored, only laid out: numbers a parse would change, strings holding JSON punctuation', () => {
    const stored = '{"big": 12345678901234567890, "f": 1.10, "z": 1e2, "n": -0.0, "s": "a, b: {c} [d] \\"e\\" \\\\", "u": "caf\\u00e9 \\ud83d\\ude00 \\u0022 \\u202e \\\\u00e9", "e": {}, "l": [], "x": [1, {"y": null}]}';
    const shown = previewOf('application/json', base64(Buffer.from(stored)), false);
    expect(shown).toMatchObject({ kind: 'json' });
    expect((shown as { text: string }).text).toBe(
      [
        '{',
        '  "big": 12345678901234567890,',
        '  "f": 1.10,',
        '  "z": 1e2,',
        '  "n": -0.0,',
        '  "s": "a, b: {c} [d] \\"e\\" \\\\",',
        // Escapes of printable characters written out (the same string); a quote, an override and an escaped backslash stay.
        '  "u": "café 😀 \\u0022 \\u202e \\\\u00e9",',
        '  "e": {},',
        '  "l": [],',
        '  "x": [',
        '    1,',
        '    {',
        '      "y": null',
        '    }',
        '  ]',
        '}',
      ].join('\n'),
    );
  });

  it('nesting too deep to indent (30,000 levels fit in a preview) stays on one line past 64 levels, its text intact', () => {
    const deep = `${'['.repeat(30_000)}1${']'.repeat(30_000)}`;
    const preview = previewOf('application/json', base64(Buffer.from(deep)), false);
    expect(preview.kind).toBe('json');
    const shown = (preview as { text: string }).text;
    expect(shown.length).toBeLessThan(100_000);
    expect(shown.replace(/\s/g, '')).toBe(deep);
  });
});
