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
      // A row whose reference tool is not on this machine (rclone, Chromium) says so instead of a number.
      if (row.ours === '-') expect([row.pass, row.note]).toEqual([null, expect.stringMatching(/is not installed|^no Chromium at /)]);
      else expect(row.ours).toMatch(/\d/);
      expect(row.pass === null ? row.note : row.ratio).toBeTruthy();
    }
    const notRun = rows.filter((row) => row.ours === '-');
    if (notRun.length > 0) console.log(`rows not run here: ${notRun.map((row) => `${row.name} (${row.note})`).join('; ')}`);
    expect(formatTable(rows).split('\n')).toHaveLength(rows.length + 2);
  } finally {
    await fs.rm(work, { recursive: true, force: true });
  }
}, 300_000); // every row end to end, a full app build (row 9) among them: minutes on a loaded 2-core machine
