import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { Page, Route } from '@playwright/test';
import { expect, openNamespace, screenshot, test } from './bridge';

// Issue 17, "bulk drops at the CLI's speed": a folder dropped on the window is stored by main in
// batches, shown as one progress view, under each file's path in the folder.

const hashOf = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex').slice(0, 16);

/** A folder `<root>/<name>` of `count` small files over two sub-folders, as an operator would pick it. */
function folderOf(name: string, count: number): string {
  const root = path.join(mkdtempSync(path.join(process.env.E2E_ROOT ?? '/tmp', 'drop-')), name);
  for (let i = 0; i < count; i++) {
    const dir = path.join(root, i % 2 ? '2025' : '2024');
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, `p${String(i).padStart(4, '0')}.txt`), `${name} picture ${i}\n`);
  }
  return root;
}

async function chooseFolder(page: Page, folder: string): Promise<void> {
  await page.getByRole('region', { name: 'Transfers' }).locator('input[aria-label="Folder to store"]').setInputFiles(folder);
}

/** What main recorded for a hash: every version's source name (the page's own call, with its cookie). */
async function sourcesOf(page: Page, namespace: string, hash: string): Promise<string[]> {
  return page.evaluate(async ({ namespace, hash }) => {
    const res = await fetch('/api/call/versions', { method: 'POST', body: JSON.stringify({ namespace, hash }) });
    const body = (await res.json()) as { ok: boolean; value: { versions: { source: string }[] } };
    return body.value.versions.map((v) => v.source);
  }, { namespace, hash });
}

const namespaceRow = (page: Page, name: string) => page.getByRole('region', { name: 'Namespaces' }).getByRole('option', { name: new RegExp(`^${name}`) });

test('a folder of 600 files is one progress view, stored in batches under its paths; a failed batch is listed and Retry failed stores it', async ({ page, bridge }) => {
  test.setTimeout(180_000);
  const folder = folderOf('photos', 600);
  let batches = 0;
  // The second batch never reaches main (the bridge answers as when its store was briefly unreachable): its files fail, nothing of them is stored.
  const unreachable = { ok: false, error: { code: 'storage_unreachable', message: 'the store did not answer' } };
  await page.route('**/api/batch?**', (route: Route) => (++batches === 2 ? route.fulfill({ contentType: 'application/json', body: JSON.stringify(unreachable) }) : route.continue()));
  await page.goto(bridge.url);
  await openNamespace(page, 'default');
  await chooseFolder(page, folder);
  const transfers = page.getByRole('region', { name: 'Transfers' });
  const view = transfers.getByRole('listitem', { name: 'Drop of 600 files' });
  await expect(view.getByRole('status')).toHaveText(/^Stored \d+ of 600 files/, { timeout: 60_000 });
  // The two batches (512 and 88 files) are sent at once: either may be the one that fails.
  const stored = Number(/^Stored (\d+)/.exec((await view.getByRole('status').textContent()) ?? '')![1]);
  expect([88, 512]).toContain(stored);
  await expect(view.getByText(`${600 - stored} files failed`)).toBeVisible();
  await expect(transfers.locator('li.transfer')).toHaveCount(1); // one view, not a row per file
  await expect(view.getByRole('list', { name: 'Failed files' })).toContainText('the store did not answer');
  await expect(namespaceRow(page, 'default')).toContainText(`${stored} entries`);
  await screenshot(page, '50-bulk-drop-failed-batch');

  await view.getByRole('button', { name: 'Retry failed' }).click();
  await expect(view.getByRole('status')).toHaveText(/^Stored 600 of 600 files/, { timeout: 60_000 });
  await expect(view.getByText(/failed/)).toHaveCount(0);
  await expect(namespaceRow(page, 'default')).toContainText('600 entries');
  // Each file is recorded under its path in the dropped folder, as `cache-admin store photos` records it.
  for (const file of ['2024/p0000.txt', '2025/p0599.txt']) expect(await sourcesOf(page, 'default', hashOf(path.join(folder, file)))).toEqual([`photos/${file}`]);
  await screenshot(page, '51-bulk-drop-done');
});

test('Cancel all stops a drop and says how many files were stored, which is what the store holds', async ({ page, bridge }) => {
  test.setTimeout(180_000);
  const folder = folderOf('scans', 1500);
  const held: Route[] = [];
  let batches = 0;
  // The first batch goes through; the others wait, as if the bridge were slow, until the cancel is in.
  await page.route('**/api/batch?**', (route: Route) => (++batches === 1 ? route.continue() : held.push(route)));
  await page.goto(bridge.url);
  const namespaces = page.getByRole('region', { name: 'Namespaces' });
  await namespaces.getByLabel('Filter namespaces').fill('scans');
  await namespaces.getByRole('button', { name: 'Use new namespace “scans”' }).click();
  await chooseFolder(page, folder);
  const view = page.getByRole('region', { name: 'Transfers' }).getByRole('listitem', { name: 'Drop of 1,500 files' });
  await expect(view.getByRole('status')).toHaveText(/^512 of 1,500 files/, { timeout: 60_000 });
  await view.getByRole('button', { name: 'Cancel all' }).click();
  await expect.poll(() => held.length).toBeGreaterThan(0);
  for (const route of held.splice(0)) await route.continue(); // main refuses them: the drop was cancelled
  await expect(view.getByRole('status')).toHaveText('Cancelled: 512 of 1,500 files were stored (they stay); the rest were not.');
  await expect(view.getByRole('button', { name: 'Retry failed' })).toHaveCount(0); // cancelled files are not failures
  await namespaces.getByLabel('Filter namespaces').fill('');
  await expect(namespaceRow(page, 'scans')).toContainText('512 entries');
  await screenshot(page, '52-bulk-drop-cancelled');
});
