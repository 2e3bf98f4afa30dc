import { appendFileSync, mkdirSync, mkdtempSync, truncateSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import * as path from 'node:path';
import { dropFiles, expect, onOwnBridge, test } from './bridge';

/** An empty store folder: the bridge opens none that is not there. */
function storeIn(root: string): string {
  const dir = path.join(root, 'store');
  mkdirSync(dir);
  return dir;
}

// A bridge whose entries may be at most 1 MiB, and a file far bigger than that: Chromium is still
// sending it when the bridge refuses it.
test('a big drop the store refuses part-way shows why, and the store stays usable', async ({ page }) => {
  const root = mkdtempSync(path.join(process.env.E2E_ROOT ?? '/tmp', 'refused-'));
  const big = path.join(root, 'too-big.bin');
  writeFileSync(big, '');
  truncateSync(big, 200 * 1024 * 1024);
  await onOwnBridge(page, storeIn(root), ['--max-entry-size', '1M'], async (bridge) => {
    await page.goto(bridge.url);
    await dropFiles(page, '[aria-label="Drop files to store"]', [big]);
    const row = page.getByRole('region', { name: 'Transfers' }).getByRole('listitem').first();
    await expect(row).toContainText('Too large: ', { timeout: 30_000 });
    await expect(row).not.toContainText('not reachable');
    await expect(page.getByText('Store missing or unreachable')).toHaveCount(0);
  });
});

// The same file in a folder: sent alone in its own batch, refused as too big, said so (not "not reachable"); the others stored.
test('a folder holding a file over the limit stores the rest and says why that file was not, offering no retry of it', async ({ page }) => {
  const root = mkdtempSync(path.join(process.env.E2E_ROOT ?? '/tmp', 'refused-folder-'));
  const folder = path.join(root, 'mix');
  mkdirSync(folder);
  for (const name of ['a1.txt', 'a2.txt']) writeFileSync(path.join(folder, name), `${name}\n`);
  writeFileSync(path.join(folder, 'zero.txt'), '');
  writeFileSync(path.join(folder, 'big.bin'), '');
  truncateSync(path.join(folder, 'big.bin'), 200 * 1024 * 1024);
  await onOwnBridge(page, storeIn(root), ['--max-entry-size', '1M'], async (bridge) => {
    await page.goto(bridge.url);
    await page.getByRole('region', { name: 'Transfers' }).locator('input[aria-label="Folder to store"]').setInputFiles(folder);
    const transfers = page.getByRole('region', { name: 'Transfers' });
    await expect(transfers).toContainText('Stored 3 of 4 files', { timeout: 60_000 });
    await expect(transfers).toContainText('mix/big.bin: content is larger than the 1 MiB limit for one entry');
    await expect(transfers).not.toContainText('not reachable');
    await expect(transfers.getByRole('button', { name: 'Retry failed' })).toHaveCount(0); // it would be refused again
  });
});

// A file still being written (a log) after it was dropped: the browser refuses to send it, and its
// fetch fails as if the bridge were gone (one removed: bridge-client.test). It was said to be "Store unreachable", storing
// was turned off, and in a drop of many files every file of its batch failed with it.
test('a dropped file changed or removed on disk before it was sent fails alone, saying so; the rest are stored and the store stays usable', async ({ page }) => {
  const root = mkdtempSync(path.join(process.env.E2E_ROOT ?? '/tmp', 'changed-'));
  const one = path.join(root, 'growing.log');
  writeFileSync(one, 'line 1\n');
  const many = Array.from({ length: 20 }, (_, i) => path.join(root, `t${i}.txt`));
  for (const file of many) writeFileSync(file, `${path.basename(file)}\n`);
  const changed = (description: string) => new RegExp(`${description} changed or was removed after it was dropped, so the browser will not send it: nothing of it was stored; drop it again`);
  await onOwnBridge(page, storeIn(root), [], async (bridge) => {
    await page.goto(bridge.url);
    const transfers = page.getByRole('region', { name: 'Transfers' });
    await dropFiles(page, '[aria-label="Drop files to store"]', [one], { beforeDrop: async () => (await sleep(50), appendFileSync(one, 'line 2\n')) });
    await expect(transfers.getByRole('listitem').first()).toContainText(changed('growing\\.log'), { timeout: 30_000 });
    await expect(page.getByText('Store missing or unreachable')).toHaveCount(0);
    await dropFiles(page, '[aria-label="Drop files to store"]', many, {
      beforeDrop: async () => {
        await sleep(50);
        appendFileSync(many[3]!, 'more\n');
        appendFileSync(many[7]!, 'more\n');
      },
    });
    await expect(transfers).toContainText('Stored 18 of 20 files', { timeout: 60_000 });
    await expect(transfers).toContainText(changed('t3\\.txt'));
    await expect(transfers).toContainText(changed('t7\\.txt'));
    await expect(page.getByText('Store missing or unreachable')).toHaveCount(0);
  });
});
