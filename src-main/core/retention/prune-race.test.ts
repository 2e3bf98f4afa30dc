/**
 * Several processes store the same contents while others prune their old versions: a store racing
 * the prune of its hash's last version never loses its new version or its bytes.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../test-support/cli-harness';
import { s3ServerName } from '../../test-support/s3-emulator';
import { useProxiedS3 } from '../../test-support/s3-proxied';
import { collect } from '../formats/format';
import { RACE_CONTENTS, RACE_NS, openFormat, type WorkerStorage } from './prune-worker';

const WORKER = path.join(REPO_ROOT, 'src-main/core/retention/prune-worker.ts');
const s3 = useProxiedS3();

function run(args: string[]): Promise<Record<string, unknown>[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', WORKER, ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('exit', (code) => (code === 0 ? resolve(out.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>)) : reject(new Error(`worker ${args[0]} exited ${code}: ${err}`))));
  });
}

const cases: [string, 'native' | 'mgraph', () => WorkerStorage][] = [
  ['native, local folder', 'native', () => ({ dir: mkdtempSync(path.join(tmpdir(), 'prune-race-')) })],
  [`native, S3 (${s3ServerName()})`, 'native', () => ({ s3: s3.config() })],
  ['service layout, local folder', 'mgraph', () => ({ dir: mkdtempSync(path.join(tmpdir(), 'prune-race-')) })],
  [`service layout, S3 (${s3ServerName()})`, 'mgraph', () => ({ s3: s3.config() })],
];

describe.each(cases)('prune racing stores in other processes (%s)', (_name, layout, makeSpec) => {
  it('keeps every version stored during the prune, byte-exact, and removes every old one', async () => {
    const spec = makeSpec();
    const cutoff = Date.now();
    // Every content once, two days old: each prune removes a hash's last version while stores add a new one.
    const old = await openFormat(spec, layout, () => new Date(cutoff - 2 * 86_400_000));
    for (const text of RACE_CONTENTS) await old.store(RACE_NS, { source: { kind: 'bytes', bytes: Buffer.from(text) } });
    const specText = JSON.stringify(spec);
    const results = await Promise.all([
      run(['prune', specText, layout, String(cutoff)]),
      run(['store', specText, layout, '4']),
      run(['store', specText, layout, '4']),
      run(['prune', specText, layout, String(cutoff)]),
    ]);
    const stored = results.flat().filter((l) => 'stored' in l) as { stored: string; hash: string; sha256: string }[];
    const pruned = results.flat().filter((l) => 'pruned' in l) as { pruned: string; stored_at: string }[];
    expect(stored).toHaveLength(2 * RACE_CONTENTS.length);
    expect(pruned.length).toBe(RACE_CONTENTS.length); // each old version once, by one of the two
    expect(pruned.every((p) => Date.parse(p.stored_at) < cutoff)).toBe(true);

    const format = await openFormat(spec, layout);
    for (const s of stored) {
      const { record, content } = await format.retrieve(RACE_NS, layout === 'native' ? { hash: s.hash, version: Number(s.stored.split('-v')[1]) } : { cacheId: s.stored });
      expect(Date.parse(record.stored_at), s.stored).toBeGreaterThanOrEqual(cutoff);
      expect(createHash('sha256').update(await collect(content)).digest('hex'), s.stored).toBe(s.sha256);
    }
    for (const text of RACE_CONTENTS) {
      const hash = stored.find((s) => s.sha256 === createHash('sha256').update(text).digest('hex'))!.hash;
      const versions = await format.versions(RACE_NS, hash);
      expect(versions.every((v) => Date.parse(v.stored_at) >= cutoff)).toBe(true);
      // Every store is found by its hash too: none was dropped from the hash's versions (the service layout's by-hash ref).
      expect(versions.map((v) => v.cache_id).sort()).toEqual(stored.filter((s) => s.hash === hash).map((s) => s.stored).sort());
    }
    const problems = (await format.verify({ orphanGraceMs: 60_000 })).problems;
    expect(problems.filter((p) => ['dangling_ref', 'missing_content', 'corrupt'].includes(p.kind))).toEqual([]);
  }, 240_000);
});
