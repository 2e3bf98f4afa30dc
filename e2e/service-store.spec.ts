// A store written by the Python cache service (test-fixtures/mgraph/store), opened in the bridge.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { dropFiles, expect, screenshot, startWeb, test, type RunningBridge } from './bridge';

const FIXTURE = path.resolve(import.meta.dirname, '../test-fixtures/mgraph/store');
const UPSTREAM = process.env.CACHE_ADMIN_UPSTREAM_RUN;
// A direct-strategy JSON entry in `reports` with child data, as the service stored it.
const GUID = '673ba2a8-1dd7-4ecc-b702-9cc49e44f642';
const HASH = 'a2a0c3b8c3a32ed2';
const DROPPED = Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 31) % 256));

let bridge: RunningBridge;
let dropped: string;
let droppedHash = '';
// In order: the service reads back what the drop stored.
test.describe.configure({ mode: 'serial' });
test.beforeAll(async () => {
  const root = process.env.E2E_ROOT ?? '/tmp';
  const store = mkdtempSync(path.join(root, 'service-store-'));
  cpSync(FIXTURE, store, { recursive: true });
  dropped = path.join(mkdtempSync(path.join(root, 'drop-')), 'dropped.bin');
  writeFileSync(dropped, DROPPED);
  bridge = await startWeb(store);
});
test.afterAll(async () => bridge?.stop());

test('a service store: the layout in the connection bar, its namespaces, a GUID and a hash looked up with strategy and child data', async ({ page }) => {
  await page.goto(bridge.url);
  await expect(page.getByTestId('store-layout')).toHaveText('layout: Python cache service (mgraph)');
  const namespaces = page.getByRole('region', { name: 'Namespaces' });
  await expect(namespaces.getByRole('option', { name: /^TeamA/ })).toContainText('2 entries');
  await namespaces.getByRole('option', { name: /^reports/ }).click();
  // Its listing has GUIDs and hashes only: no type or size filter that would say "no entry matches" of entries that do.
  const entries = page.getByRole('region', { name: 'Entries' });
  await expect(entries.getByTestId('entries-count')).toHaveText('14 entries');
  await expect(entries.getByLabel('Filter by type')).toHaveCount(0);
  await expect(entries.getByLabel('Smallest size')).toHaveCount(0);
  await expect(entries.getByRole('button', { name: /^Size/ })).toBeDisabled();
  await expect(entries.getByTestId('unlisted-note')).toHaveText("This layout's listing has no names, types, sizes or version counts (they are in each entry's refs): look an entry up for them.");
  await entries.getByLabel('Filter by name or hash').fill(HASH.slice(0, 6));
  await expect(entries.getByTestId('entries-count')).toHaveText('1 of 14 entries');
  await entries.getByLabel('Filter by name or hash').fill('');

  const lookup = page.getByLabel('Look up hash or cache id');
  await lookup.fill(GUID);
  await lookup.press('Enter');
  const entry = page.getByRole('region', { name: 'Entry' });
  await expect(entry.getByTestId('entry-cache-id')).toHaveText(GUID);
  await expect(entry.getByTestId('entry-hash')).toHaveText(HASH);
  await expect(entry.getByTestId('entry-detail-strategy')).toHaveText('direct');
  await expect(entry.getByRole('list', { name: 'Child data' })).toContainText(`${GUID}/data/analysis/summary.json`);
  await expect(entry.getByRole('list', { name: 'Storage keys' })).toContainText(`reports/refs/by-hash/a2/a0/${HASH}.json`);
  await expect(entry.getByLabel('Preview')).toContainText('"title": "Quarterly report"');
  await screenshot(page, '20-service-entry');

  await lookup.fill(HASH);
  await lookup.press('Enter');
  await expect(entry.getByTestId('entry-cache-id')).toHaveText(GUID);
  await expect(page.getByRole('region', { name: 'Versions' }).getByRole('row')).toHaveCount(2); // header + v1
});

test('a file dropped on a service store is stored the service way', async ({ page }) => {
  await page.goto(bridge.url);
  await page.getByRole('region', { name: 'Namespaces' }).getByRole('option', { name: /^TeamA/ }).click();
  // Service namespaces are case-sensitive (TeamA and teama are two): headings show them as they are, not upper-cased.
  await expect(page.getByRole('region', { name: 'Entries' }).getByRole('heading')).toHaveText('Entries in TeamA');
  expect(await page.getByRole('region', { name: 'Entries' }).getByRole('heading').evaluate((h) => (h as HTMLElement).innerText)).toBe('ENTRIES IN TeamA');
  const transfers = page.getByRole('region', { name: 'Transfers' });
  // The layout's own choices fit the column at 1440 px (a long option no longer pushes a field past its edge).
  const column = (await transfers.boundingBox())!;
  for (const field of ['Store as', 'Strategy']) {
    const box = (await transfers.getByLabel(field).boundingBox())!;
    expect(box.x + box.width, field).toBeLessThanOrEqual(column.x + column.width);
  }
  await dropFiles(page, 'main', [dropped]);
  await expect(transfers.getByText('new content', { exact: true })).toHaveCount(1);
  await expect(transfers.getByRole('listitem')).toContainText('into TeamA');
  droppedHash = (await transfers.getByRole('listitem').locator('code').filter({ hasText: /^[0-9a-f]{16}$/ }).textContent())!.trim();

  const lookup = page.getByLabel('Look up hash or cache id');
  await lookup.fill(droppedHash);
  await lookup.press('Enter');
  const entry = page.getByRole('region', { name: 'Entry' });
  await expect(entry.getByTestId('entry-detail-strategy')).toHaveText('temporal');
  // The long key it is served from wraps inside the panel at 1440 px (it ran past the edge, cut off).
  const served = entry.getByTestId('entry-detail-served_from');
  await expect(served).toContainText(`TeamA/data/temporal/`);
  const panel = (await entry.boundingBox())!;
  const box = (await served.boundingBox())!;
  expect(box.x + box.width).toBeLessThanOrEqual(panel.x + panel.width);
  expect(await served.evaluate((dd) => dd.scrollWidth - dd.clientWidth)).toBeLessThanOrEqual(0);
});

test('the real Python service retrieves the dropped file by hash, byte-exact (needs CACHE_ADMIN_UPSTREAM_RUN)', async () => {
  test.skip(!UPSTREAM, 'needs CACHE_ADMIN_UPSTREAM_RUN (the path of the service\'s run.py)');
  expect(droppedHash, 'the drop test stored the file').toMatch(/^[0-9a-f]{16}$/);
  const out = spawnSync('python3', [UPSTREAM!, '--store', bridge.storeDir], { input: JSON.stringify({ op: 'retrieve_by_hash', hash: droppedHash, namespace: 'TeamA' }), encoding: 'utf8', timeout: 60_000 });
  expect(out.status, out.stderr).toBe(0);
  const answer = JSON.parse(out.stdout.trim()) as { found: boolean; data_b64?: string };
  expect(answer.found).toBe(true);
  expect(Buffer.from(answer.data_b64 ?? '', 'base64').equals(DROPPED)).toBe(true);
});
