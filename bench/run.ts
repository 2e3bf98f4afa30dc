/**
 * `npm run bench`: each performance promise measured against its reference in the same run.
 * `--smoke` runs every row on tiny inputs (what `npm test` does so the harness cannot rot).
 */
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';
import { s3ServerName, startS3 } from '../src-main/test-support/s3-emulator';
import { LocalFolderStorage } from '../src-main/core/storage/local';
import { populateNamespace } from '../src-main/test-support/fixture-store';
import { populateServiceNamespace } from '../src-main/test-support/service-fixture-store';
import { writeSmallFiles } from './fixtures';
import { benchBigFile, benchHash, benchLookups, benchNamespaces, benchRenderer, benchVersions } from './rows';
import { benchPrune } from './retention-row';
import { benchDrop } from './drop-row';
import { benchJson } from './json-row';
import { benchVerify } from './verify-row';
import { benchStart } from './start';
import { type BenchRow, CLI, alternating, formatTable, hasCommand, machineFacts, median, settleWrites, timeCliStore, timeCommand } from './harness';

const REPO = path.resolve(import.meta.dirname, '..');

export interface BenchOptions {
  smoke: boolean;
  runs: number;
  work: string;
  /** Row numbers to run (`--only 1,2`); all when absent. The docs are written only for a full run. */
  only?: Set<number>;
}

/** Row 1: bulk store of small files via the CLI vs `git hash-object -w --stdin-paths`. */
export async function benchBulkStore(o: BenchOptions): Promise<BenchRow> {
  const count = o.smoke ? 50 : 10_000;
  const files = await writeSmallFiles(path.join(o.work, 'small'), count);
  const ours: number[] = [];
  const git: number[] = [];
  // Stock git does not flush loose objects; we flush every entry (in groups). Git told to flush its
  // objects the same way (core.fsyncMethod=batch) shows what that durability costs; it is reported
  // beside the target, which is against stock git.
  const gitFlushed: number[] = [];
  const hashObjects = async (name: string, config: string[]) => {
    const repo = path.join(o.work, name);
    await timeCommand('git', ['init', '-q', repo]);
    settleWrites();
    return timeCommand('git', [...config, 'hash-object', '-w', '--stdin-paths'], { cwd: repo, stdin: files.join('\n') + '\n' });
  };
  const runGit = async (run: number) => {
    git.push(await hashObjects(`git-${run}`, []));
    gitFlushed.push(await hashObjects(`git-fsync-${run}`, ['-c', 'core.fsync=loose-object', '-c', 'core.fsyncMethod=batch']));
  };
  const runOurs = async (run: number) => {
    ours.push(await timeCliStore(path.join(o.work, `store-${run}`), path.join(o.work, 'small')));
  };
  // As many runs with each going first (the inode allocator steps over recently freed inodes for a minute).
  await alternating(o.smoke ? o.runs : Math.max(o.runs, 4), runGit, runOurs);
  const ratio = median(ours) / median(git);
  const flushedRatio = median(ours) / median(gitFlushed);
  return {
    name: `bulk store of ${count} small files (CLI, local folder)`,
    ours: `${median(ours).toFixed(0)} ms`,
    reference: `${median(git).toFixed(0)} ms (git hash-object -w); ${median(gitFlushed).toFixed(0)} ms with core.fsync=loose-object, fsyncMethod=batch (${flushedRatio.toFixed(2)}x)`,
    ratio,
    target: '<= 1.5x git time',
    pass: ratio <= 1.5,
  };
}

/** Row 7: upload of one large file to the test S3 server (Ceph RGW, else the emulator) via the CLI vs `rclone copyto` to the same endpoint. */
export async function benchS3Upload(o: BenchOptions): Promise<BenchRow> {
  const mib = o.smoke ? 8 : 1024;
  const server = s3ServerName();
  const name = `upload of a ${mib} MiB file to ${server} (CLI)`;
  if (!hasCommand('rclone')) return { name, ours: '-', reference: 'rclone', ratio: null, target: '>= 1.0x rclone throughput', pass: null, note: 'rclone is not installed' };
  const file = path.join(o.work, 'upload.bin');
  const handle = await fs.open(file, 'w');
  for (let i = 0; i < mib; i++) await handle.write(randomBytes(1024 * 1024));
  await handle.close();
  const s3 = await startS3('bench');
  const { accessKeyId, secretAccessKey } = s3.credentials ?? { accessKeyId: process.env.AWS_ACCESS_KEY_ID ?? '', secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY ?? '' };
  const credentials = { AWS_ACCESS_KEY_ID: accessKeyId, AWS_SECRET_ACCESS_KEY: secretAccessKey };
  const rcloneEnv = {
    RCLONE_CONFIG_EMU_TYPE: 's3',
    RCLONE_CONFIG_EMU_PROVIDER: s3.kind === 'rgw' ? 'Ceph' : 'Other',
    RCLONE_CONFIG_EMU_ACCESS_KEY_ID: accessKeyId,
    RCLONE_CONFIG_EMU_SECRET_ACCESS_KEY: secretAccessKey,
    RCLONE_CONFIG_EMU_ENDPOINT: s3.endpoint,
    RCLONE_CONFIG_EMU_FORCE_PATH_STYLE: 'true',
    // Debian's rclone fails outright when a CA bundle is set and the endpoint is plain http.
    AWS_CA_BUNDLE: '',
  };
  const ours: number[] = [];
  const rclone: number[] = [];
  try {
    for (let run = 0; run < o.runs; run++) {
      rclone.push(await timeCommand('rclone', ['copyto', file, `emu:${s3.bucket}/rclone-${run}/upload.bin`], { env: rcloneEnv }));
      const s3Args = ['--s3-bucket', s3.bucket, '--s3-endpoint', s3.endpoint, '--s3-path-style', '--s3-prefix', `ours-${run}/`];
      ours.push(await timeCommand(process.execPath, [...CLI, ...s3Args, '--json', 'store', file], { env: credentials }));
    }
  } finally {
    await s3.stop();
  }
  const mbps = (ms: number) => mib / (ms / 1000);
  const ratio = mbps(median(ours)) / mbps(median(rclone));
  return {
    name,
    ours: `${mbps(median(ours)).toFixed(0)} MiB/s`,
    reference: `${mbps(median(rclone)).toFixed(0)} MiB/s (rclone copyto)`,
    ratio,
    target: '>= 1.0x rclone throughput',
    pass: ratio >= 1.0,
  };
}

export async function runBench(o: BenchOptions): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const step = async (row: number, run: () => Promise<BenchRow | BenchRow[]>) => {
    if (o.only && !o.only.has(row)) return;
    const result = await run();
    for (const r of Array.isArray(result) ? result : [result]) {
      rows.push(r);
      console.error(`  ${r.name}: ${r.ours} vs ${r.reference}`);
    }
  };
  await step(1, () => benchBulkStore(o));
  await step(2, () => benchBigFile(o));
  await step(3, () => benchHash(o));
  // One 100,000-entry local store serves the lookup and renderer rows.
  const localDir = path.join(o.work, 'lookup-store');
  if (!o.only || o.only.has(4) || o.only.has(8)) {
    const local = await LocalFolderStorage.open(localDir);
    const records = await populateNamespace(local, 'big', o.smoke ? 200 : 100_000, { concurrency: 48 });
    await step(4, () => benchLookups(o, { storage: local, records }));
  }
  await step(5, () => benchVersions(o));
  await step(6, () => benchNamespaces(o));
  await step(7, () => benchS3Upload(o));
  await step(8, async () => {
    // The same namespace size in the Python service's layout, which lists refs instead of objects.
    const serviceDir = path.join(o.work, 'service-store');
    await populateServiceNamespace(await LocalFolderStorage.open(serviceDir), 'Big_NS', o.smoke ? 200 : 100_000);
    return benchRenderer(o, [
      { dir: localDir, namespace: 'big', format: 'native' },
      { dir: serviceDir, namespace: 'Big_NS', format: 'mgraph' },
    ]);
  });
  await step(9, () => benchStart(o));
  await step(10, () => benchPrune(o));
  await step(11, () => benchDrop(o));
  await step(12, () => benchVerify(o));
  await step(13, () => benchJson(o));
  return rows;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { smoke: { type: 'boolean' }, runs: { type: 'string' }, only: { type: 'string' } } });
  const smoke = values.smoke ?? false;
  const only = values.only === undefined ? undefined : new Set(values.only.split(',').map(Number));
  if (only && [...only].some((row) => !Number.isInteger(row) || row < 1 || row > 13)) throw new Error(`--only takes row numbers 1-13, like --only 1,2 (got ${values.only})`);
  const work = await fs.mkdtemp(path.join(os.tmpdir(), 'cache-admin-bench-'));
  try {
    const rows = await runBench({ smoke, runs: Number(values.runs ?? (smoke ? 1 : 3)), work, only });
    const table = formatTable(rows);
    console.log(`Cache Admin benchmarks${smoke ? ' (smoke run: tiny inputs, numbers mean nothing)' : ''}\n${machineFacts()}\n\n${table}`);
    if (!smoke && !only) {
      const analysis = await fs.readFile(path.join(REPO, 'bench/analysis.md'), 'utf8');
      const doc = `# Benchmarks\n\nMeasured by \`npm run bench\` on ${new Date().toISOString().slice(0, 10)}: ${machineFacts()}.\nMedians of several runs; ours and the reference run alternately in the same process tree.\n\n${table}\n\n${analysis}`;
      await fs.writeFile(path.join(REPO, 'docs/benchmarks.md'), doc);
    }
    process.exitCode = rows.some((r) => r.pass === false) ? 1 : 0;
  } finally {
    // Full-size rows leave about a million files: their removal takes minutes on this disk.
    if (!smoke) console.error(`Removing the benchmark's work folder ${work} (can take minutes)…`);
    await fs.rm(work, { recursive: true, force: true });
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) await main();
