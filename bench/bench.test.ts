import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect, it } from 'vitest';
import { formatTable } from './harness';
import { runBench } from './run';

// Not a timing test: it runs every benchmark row on tiny inputs so the harness cannot rot.
it('the benchmark harness runs every row end to end on tiny inputs', async () => {
  const work = await fs.mkdtemp(path.join(os.tmpdir(), 'cache-admin-bench-smoke-'));
  try {
    const rows = await runBench({ smoke: true, runs: 1, work });
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) {
      expect(row.ours).toMatch(/\d/);
      expect(row.pass === null ? row.note : row.ratio).toBeTruthy();
    }
    expect(formatTable(rows).split('\n')).toHaveLength(rows.length + 2);
  } finally {
    await fs.rm(work, { recursive: true, force: true });
  }
}, 300_000); // every row end to end, a full app build (row 9) among them: minutes on a loaded 2-core machine
