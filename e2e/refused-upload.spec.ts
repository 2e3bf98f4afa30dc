import { mkdtempSync, truncateSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { dropFiles, expect, startWeb, test } from './bridge';

// A bridge whose entries may be at most 1 MiB, and a file far bigger than that: Chromium is still
// sending it when the bridge refuses it.
test('a big drop the store refuses part-way shows why, and the store stays usable', async ({ page }) => {
  const root = mkdtempSync(path.join(process.env.E2E_ROOT ?? '/tmp', 'refused-'));
  const big = path.join(root, 'too-big.bin');
  writeFileSync(big, '');
  truncateSync(big, 200 * 1024 * 1024);
  const bridge = await startWeb(path.join(root, 'store'), ['--max-entry-size', '1M']);
  try {
    await page.goto(bridge.url);
    await dropFiles(page, '[aria-label="Drop files to store"]', [big]);
    const row = page.getByRole('region', { name: 'Transfers' }).getByRole('listitem').first();
    await expect(row).toContainText('too_large', { timeout: 30_000 });
    await expect(row).not.toContainText('not reachable');
    await expect(page.getByText('Store missing or unreachable')).toHaveCount(0);
  } finally {
    await bridge.stop();
  }
});
