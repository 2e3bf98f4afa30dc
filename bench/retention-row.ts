/** Row 10: prune of a 100,000-entry namespace on a local folder, dry run (names only) and real. */
import * as path from 'node:path';
import { CacheService } from '../src-main/core/cache-service';
import { NativeFormat } from '../src-main/core/formats/native/native-format';
import { Retention } from '../src-main/core/retention/retention';
import { CountingStorage } from '../src-main/core/storage/counting';
import { LocalFolderStorage } from '../src-main/core/storage/local';
import { populateNamespace } from '../src-main/test-support/fixture-store';
import { type BenchRow, median, timeCommand } from './harness';
import type { BenchOptions } from './run';

/** The dry run lists the namespace's names as `find` does (plus its temporal view, and parses them). */
const FIND_RATIO_TARGET = 1.5;

export async function benchPrune(o: BenchOptions): Promise<BenchRow[]> {
  const entries = o.smoke ? 500 : 100_000;
  const dir = path.join(o.work, 'prune-store');
  // Opened as the CLI opens it (direct system calls: `prune` is a CLI command first).
  const storage = new CountingStorage(await LocalFolderStorage.open(dir, { blockingIo: true }));
  // One version each, one second apart from 2026-01-01: every one older than a day.
  await populateNamespace(storage.inner, 'big', entries, { concurrency: 48 });
  const retention = new Retention(new NativeFormat(new CacheService(storage)));
  const selection = { namespace: 'big', olderThanSeconds: 86_400 };
  const dry: number[] = [];
  let plan = await retention.planPrune(selection);
  for (let run = 0; run < Math.max(o.runs, 3); run++) {
    storage.reset();
    const started = performance.now();
    plan = await retention.planPrune(selection);
    dry.push(performance.now() - started);
  }
  // Counted over the last run (each run resets them).
  const dryLists = storage.counts.list;
  const dryReads = storage.counts.get + storage.counts.getStream;
  const finds: number[] = [];
  for (let run = 0; run < Math.max(o.runs, 3); run++) finds.push(await timeCommand('sh', ['-c', `find "${dir}/big" -type f | wc -l`]));
  const find = median(finds);
  if (plan.versions.length !== entries) throw new Error(`the dry run selected ${plan.versions.length} of ${entries}`);

  storage.reset();
  const started = performance.now();
  const summary = await retention.prune(plan);
  const pruneMs = performance.now() - started;
  const left = (await new CacheService(storage.inner).stats('big')).entries;
  return [
    {
      name: `prune --dry-run of a ${entries}-entry namespace, every version selected (local folder, as the CLI opens it)`,
      ours: `${median(dry).toFixed(0)} ms, ${dryLists} lists, ${dryReads} content reads`,
      reference: `${find.toFixed(0)} ms (find -type f | wc -l of the namespace)`,
      ratio: median(dry) / find,
      target: `<= ${FIND_RATIO_TARGET}x find; 0 content reads`,
      pass: median(dry) <= FIND_RATIO_TARGET * find && dryReads === 0,
    },
    {
      name: `prune of the same ${entries} versions (records before bytes, deletion handshake per hash)`,
      ours: `${(pruneMs / 1000).toFixed(1)} s, ${storage.counts.list} lists, ${storage.counts.delete} deletes, ${summary.pruned} pruned`,
      reference: 'every version and its bytes gone',
      ratio: summary.pruned / entries,
      target: `1.0 (all ${entries} pruned), 0 left`,
      pass: summary.pruned === entries && left === 0,
    },
  ];
}
