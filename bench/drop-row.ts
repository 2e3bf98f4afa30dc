/** Row 11: a folder of small files dropped through the bridge (its batch requests) vs the CLI storing the same folder. */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { BATCH_MAX_FILES, frameHeader, planBatches } from '../src-shared/batch-frame';
import { type BenchRow, alternating, median, settleWrites, startWebBridge, timeCliStore } from './harness';
import { writeSmallFiles } from './fixtures';
import type { BenchOptions } from './run';

/** Batch requests the renderer keeps in flight (src-renderer/state/drops.ts). */
const BATCHES_IN_FLIGHT = 2;
const TARGET = 1.5;

/**
 * The requests the renderer makes for a dropped folder: its files read from disk, framed into
 * batches, a few in flight, all under one drop id. Resolves with the ms from the first read to the
 * last answer, once every file is answered as stored.
 */
async function dropThroughBridge(bridge: { base: string; token: string }, folder: string, files: string[]): Promise<number> {
  const names = files.map((f) => `${path.basename(folder)}/${path.relative(folder, f)}`);
  const started = performance.now();
  const sizes = await Promise.all(files.map(async (f) => (await fs.stat(f)).size));
  const plan = planBatches(sizes);
  let next = 0;
  let stored = 0;
  const sender = async () => {
    while (next < plan.length) {
      const batch = plan[next++]!;
      const parts = await Promise.all(batch.map(async (i) => [frameHeader(names[i]!, sizes[i]!), await fs.readFile(files[i]!)]));
      const query = new URLSearchParams({ namespace: 'default', dropId: 'bench' });
      const res = await fetch(`${bridge.base}/api/batch?${query}`, { method: 'POST', headers: { 'x-cache-admin-token': bridge.token }, body: Buffer.concat(parts.flat()) });
      const answer = (await res.json()) as { ok: boolean; value?: { outcomes: { stored?: unknown }[] }; error?: { message: string } };
      if (!answer.ok) throw new Error(`a batch was refused: ${answer.error?.message}`);
      stored += answer.value!.outcomes.filter((o) => o.stored).length;
    }
  };
  await Promise.all(Array.from({ length: BATCHES_IN_FLIGHT }, sender));
  const ms = performance.now() - started;
  if (stored !== files.length) throw new Error(`the bridge stored ${stored} of ${files.length} files`);
  return ms;
}

export async function benchDrop(o: BenchOptions): Promise<BenchRow> {
  const count = o.smoke ? 50 : 10_000;
  const folder = path.join(o.work, 'dropped');
  const files = await writeSmallFiles(folder, count, 11);
  const ours: number[] = [];
  const cli: number[] = [];
  const runOurs = async (run: number) => {
    const bridge = await startWebBridge(o.work, path.join(o.work, `drop-store-${run}`));
    try {
      settleWrites();
      ours.push(await dropThroughBridge(bridge, folder, files));
    } finally {
      await bridge.stop();
    }
  };
  const runCli = async (run: number) => {
    cli.push(await timeCliStore(path.join(o.work, `cli-store-${run}`), folder));
  };
  await alternating(o.smoke ? o.runs : Math.max(o.runs, 4), runCli, runOurs);
  const ratio = median(ours) / median(cli);
  return {
    name: `${count} small files dropped through the bridge (batches of up to ${BATCH_MAX_FILES}, ${BATCHES_IN_FLIGHT} in flight), local folder`,
    ours: `${median(ours).toFixed(0)} ms (first read to last answer)`,
    reference: `${median(cli).toFixed(0)} ms (cache-admin store <folder>, the whole command)`,
    ratio,
    target: `<= ${TARGET}x the CLI's time`,
    pass: ratio <= TARGET,
  };
}
