import { beforeEach, describe, expect, it } from 'vitest';
import { MemoryStorage } from '../../storage/memory';
import { collect, contentProblemOf } from '../format';
import { loadFixture } from './fixture';
import { MgraphFormat, jsonStringPrefix } from './mgraph-format';

// The service checks JSON only whole (its hash is over the parsed value), so a look at a big JSON
// entry (its facts, a preview) must not parse it whole: a 200 MB one took 30 s and 2 GB to show.
const NS = 'reports';
const JSON_ID = '673ba2a8-1dd7-4ecc-b702-9cc49e44f642';
const JSON_FILE = `${NS}/data/direct/67/3b/${JSON_ID}.json`;
const STRING_ID = '957697a9-3043-4b32-a2e6-24ef28bfa7fb';
const STRING_FILE = `${NS}/data/direct/95/76/${STRING_ID}.json`;
const CHUNK = 64 * 1024;
const LOOK = 64 * 1024;

/** Streams in 64 KiB chunks, as a file does, and counts the bytes taken of each key. */
class ReadCountingStorage extends MemoryStorage {
  readonly taken = new Map<string, number>();

  override async get(key: string): Promise<Uint8Array | null> {
    const bytes = await super.get(key);
    this.count(key, bytes?.byteLength ?? 0);
    return bytes;
  }

  override async getStream(key: string): Promise<AsyncIterable<Uint8Array> | null> {
    const bytes = await super.get(key);
    if (!bytes) return null;
    const count = (n: number) => this.count(key, n);
    return (async function* () {
      for (let at = 0; at < bytes.byteLength; at += CHUNK) {
        count(Math.min(CHUNK, bytes.byteLength - at));
        yield bytes.subarray(at, at + CHUNK);
      }
    })();
  }

  private count(key: string, n: number): void {
    this.taken.set(key, (this.taken.get(key) ?? 0) + n);
  }
}

/** 17 MiB of JSON as the service writes it (indent 2), whose hash is not the entry's. */
const bigJson = Buffer.from(JSON.stringify({ rows: Array.from({ length: 400_000 }, (_, i) => ({ id: i, name: `row ${i}` })) }, null, 2));
/** A JSON string of 17 MiB with escapes, as the service writes text. */
const bigString = Buffer.from(`"${'line \\u00e9 \\"quoted\\" ✓\\n'.repeat(700_000)}"`);

let storage: ReadCountingStorage;
let format: MgraphFormat;
beforeEach(async () => {
  storage = new ReadCountingStorage();
  await loadFixture(storage);
  format = new MgraphFormat(storage);
});

describe('a look at big JSON in the service layout', () => {
  it('its facts read the first chunk of the file, not all of it', async () => {
    await storage.put(JSON_FILE, bigJson);
    storage.taken.clear();
    const record = await format.record(NS, { cacheId: JSON_ID });
    expect(record).toMatchObject({ data_type: 'json', cache_id: JSON_ID });
    expect(storage.taken.get(JSON_FILE)).toBe(CHUNK);
  });

  it('a preview is its first bytes as stored, unchecked; get still checks it whole and refuses it', async () => {
    await storage.put(JSON_FILE, bigJson);
    storage.taken.clear();
    const { content } = await format.retrieve(NS, { cacheId: JSON_ID }, { previewBytes: () => LOOK });
    const first = (await content[Symbol.asyncIterator]().next()).value as Uint8Array;
    expect(Buffer.from(first).toString()).toBe(bigJson.subarray(0, CHUNK).toString());
    expect(storage.taken.get(JSON_FILE)).toBe(2 * CHUNK); // the facts' first chunk, then the preview's
    expect(await contentProblemOf(format, await format.record(NS, { cacheId: JSON_ID }))).toBeNull();
    await expect(format.retrieve(NS, { cacheId: JSON_ID })).rejects.toMatchObject({ code: 'corrupt' });
  });

  it("a big string's preview is its decoded text, more of it than asked for, so it shows as cut", async () => {
    await storage.put(STRING_FILE, bigString);
    const { record, content } = await format.retrieve(NS, { cacheId: STRING_ID }, { previewBytes: () => LOOK });
    expect(record.data_type).toBe('string');
    const text = (await collect(content)).toString();
    expect(text.length).toBeGreaterThan(LOOK);
    expect(text.startsWith('line é "quoted" ✓\nline é "quoted" ✓\n')).toBe(true);
    expect(storage.taken.get(STRING_FILE)).toBeLessThanOrEqual(CHUNK + 6 * LOOK + CHUNK); // the facts' chunk, then ~6 bytes of file a byte of text
  });

  it('JSON small enough to read whole is still checked before a preview is served', async () => {
    await storage.put(JSON_FILE, Buffer.from('{\n  "title": "not what was stored"\n}'));
    await expect(format.retrieve(NS, { cacheId: JSON_ID }, { previewBytes: () => LOOK })).rejects.toMatchObject({ code: 'corrupt' });
    expect(await contentProblemOf(format, await format.record(NS, { cacheId: JSON_ID }))).toBe('corrupt');
  });
});

describe('jsonStringPrefix', () => {
  it.each([
    ['a whole string', '"abc" ', 'abc'],
    ['cut inside a \\u escape', '"ab\\u00', 'ab'],
    ['cut after a backslash', '"ab\\', 'ab'],
    ['an escaped backslash at the cut', '"ab\\\\', 'ab\\'],
    ['escapes', '"a\\n\\"b\\u00e9', 'a\n"bé'],
    ['white space before it', '  "x', 'x'],
  ])('%s', (_what, text, expected) => {
    expect(jsonStringPrefix(Buffer.from(text))).toBe(expected);
  });

  it('leaves out a UTF-8 sequence cut short', () => {
    const bytes = Buffer.from('"a✓');
    expect(jsonStringPrefix(bytes.subarray(0, bytes.length - 1))).toBe('a');
  });
});
