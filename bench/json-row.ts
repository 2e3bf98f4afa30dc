/** Row 13: the cache hash of a big JSON document (its canonical text) vs Python's json.dumps(json.loads(…), sort_keys=True), the service's own. */
import { createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { once } from 'node:events';
import * as path from 'node:path';
import { CLI, type BenchRow, alternating, hasCommand, median, runTimed } from './harness';
import type { BenchOptions } from './run';

/** What the Python cache service does to hash JSON text (Cache__Hash__Generator), timed as a whole command. */
const PYTHON_HASH = `import hashlib, json, sys
text = open(sys.argv[1], encoding='utf-8').read()
print(hashlib.sha256(json.dumps(json.loads(text), sort_keys=True).encode()).hexdigest()[:16])`;

/**
 * Records as an export of a table would hold them (keys out of order, floats, big integers, nested
 * objects, non-ASCII text), then documents of long text: the two shapes a big JSON entry takes.
 */
async function writeDocument(file: string, records: number): Promise<void> {
  const out = createWriteStream(file);
  let seed = 20261205;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const words = ['alpha', 'beta', 'été', 'naïve', '😀 smile', 'line\nbreak', 'quote"d', 'path/to/x', 'lorem', 'ipsum'];
  const word = () => words[Math.floor(random() * words.length)]!;
  const write = async (text: string) => {
    if (!out.write(text)) await once(out, 'drain');
  };
  await write('{"rows": [');
  for (let i = 0; i < records; i++) {
    const row = { name: `${word()}${i}`, id: i, score: random() * 1000, big: `${Math.floor(random() * 1e9)}${Math.floor(random() * 1e9)}`, tags: [word(), word()], nested: { z: i % 7, a: [1.5, null, true], m: { k: word() } } };
    await write(`${i ? ', ' : ''}${JSON.stringify(row).replace(/"big":"(\d+)"/, '"big": $1')}`);
  }
  await write('], "texts": [');
  for (let i = 0; i < records / 25; i++) {
    const body = Array.from({ length: 200 + Math.floor(random() * 1800) }, word).join(' ');
    await write(`${i ? ', ' : ''}${JSON.stringify({ title: `doc ${i}`, body, score: random() })}`);
  }
  await write(']}');
  out.end();
  await once(out, 'close');
}

export async function benchJson(o: BenchOptions): Promise<BenchRow> {
  const records = o.smoke ? 2_000 : 250_000;
  const name = `cache hash of a big JSON document (${records.toLocaleString('en-US')} records and ${(records / 25).toLocaleString('en-US')} long texts; CLI, --as json), and peak RSS`;
  const target = "<= 1.0x Python's time and peak RSS";
  const missing = ['/usr/bin/time', 'python3'].find((c) => !hasCommand(c));
  if (missing) return { name, ours: '-', reference: 'python3', ratio: null, target, pass: null, note: `${missing} is not installed` };
  const file = path.join(o.work, 'big.json');
  await writeDocument(file, records);
  const timed = async (command: string[]) => {
    const { ms, stderr, stdout } = await runTimed('/usr/bin/time', ['-f', 'peak-rss-kb %M', ...command], { stdout: true });
    return { ms, rssKb: Number(/peak-rss-kb (\d+)/.exec(stderr)?.[1] ?? 0), hash: stdout.trim().split(/\s+/)[0] };
  };
  const ours: { ms: number; rssKb: number; hash: string | undefined }[] = [];
  const python: typeof ours = [];
  await alternating(
    Math.max(o.runs, 3),
    async () => void python.push(await timed(['python3', '-c', PYTHON_HASH, file])),
    async () => void ours.push(await timed([process.execPath, ...CLI, 'hash', file, '--as', 'json'])),
  );
  const hashes = new Set([...ours, ...python].map((r) => r.hash));
  if (hashes.size !== 1) throw new Error(`the hashes differ: ${[...hashes].join(', ')}`);
  const mb = (runs: typeof ours) => Math.max(...runs.map((r) => r.rssKb)) / 1024;
  const ratio = median(ours.map((r) => r.ms)) / median(python.map((r) => r.ms));
  const summary = (runs: typeof ours) => `${(median(runs.map((r) => r.ms)) / 1000).toFixed(2)} s, peak RSS ${mb(runs).toFixed(0)} MB`;
  return {
    name: `${name}, ${((await stat(file)).size / 1e6).toFixed(0)} MB`,
    ours: summary(ours),
    reference: `${summary(python)} (python3: json.dumps(json.loads(text), sort_keys=True), SHA-256)`,
    ratio,
    target,
    pass: ratio <= 1.0 && mb(ours) <= mb(python),
  };
}
