/** Row 12: verify of a local store in the app (through the bridge, which runs it in a store worker) vs `cache-admin verify`. */
import * as path from 'node:path';
import { LocalFolderStorage } from '../src-main/core/storage/local';
import { populateNamespace } from '../src-main/test-support/fixture-store';
import { CLI, type BenchRow, alternating, median, startWebBridge, timeCommand } from './harness';
import type { BenchOptions } from './run';

const TARGET = 1.2;

export async function benchVerify(o: BenchOptions): Promise<BenchRow> {
  const entries = o.smoke ? 200 : 20_000;
  const store = path.join(o.work, 'verify-store');
  await populateNamespace(await LocalFolderStorage.open(store), 'checked', entries, { concurrency: 48 });
  const bridge = await startWebBridge(o.work, store);
  const ours: number[] = [];
  const cli: number[] = [];
  try {
    const viaBridge = async (run: number) => {
      const started = performance.now();
      const res = await fetch(`${bridge.base}/api/call/verify`, { method: 'POST', headers: { 'x-cache-admin-token': bridge.token }, body: JSON.stringify({ repair: false, transferId: `verify${run}` }) });
      const answer = (await res.json()) as { ok: boolean; value?: { problems: unknown[] }; error?: { message: string } };
      ours.push(performance.now() - started);
      if (!answer.ok || answer.value!.problems.length > 0) throw new Error(`the app's verify did not find the store clean: ${JSON.stringify(answer).slice(0, 300)}`);
    };
    const viaCli = async () => {
      cli.push(await timeCommand(process.execPath, [...CLI, '--store', store, '--json', 'verify']));
    };
    await alternating(o.smoke ? o.runs : Math.max(o.runs, 4), viaCli, viaBridge);
  } finally {
    await bridge.stop();
  }
  const ratio = median(ours) / median(cli);
  return {
    name: `verify of a ${entries}-entry local folder in the app (through the bridge, in a store worker)`,
    ours: `${median(ours).toFixed(0)} ms (the verify call)`,
    reference: `${median(cli).toFixed(0)} ms (cache-admin verify, the whole command)`,
    ratio,
    target: `<= ${TARGET}x the CLI's time`,
    pass: ratio <= TARGET,
  };
}
