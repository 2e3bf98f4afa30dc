import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { dropFiles, expect, screenshot, test } from './bridge';

const HELLO = path.join(import.meta.dirname, 'files/hello.txt');
const CONFIG = path.join(import.meta.dirname, 'files/config.json');
const helloHash = createHash('sha256').update(readFileSync(HELLO)).digest('hex').slice(0, 16);

test.describe.configure({ mode: 'serial' });

test('stores a dropped file, then a new version of it, and finds it by hash and cache id', async ({ page, bridge }) => {
  await page.goto(bridge.url);
  await expect(page.getByRole('region', { name: 'Namespaces' })).toContainText('Nothing stored yet');
  await expect(page.getByText('conditional writes: supported')).toBeVisible();
  await expect(page).not.toHaveURL(/token=/); // the token leaves the address bar
  await screenshot(page, '01-empty-store');

  const transfers = page.getByRole('region', { name: 'Transfers' });
  await dropFiles(page, '[aria-label="Drop files to store"]', [HELLO]);
  const first = transfers.getByRole('listitem').first();
  await expect(first).toContainText(helloHash);
  await expect(first).toContainText(`${helloHash}-v1`);
  await expect(first).toContainText('new content');

  // Dropped anywhere on the window, not just on the zone.
  await dropFiles(page, 'main', [HELLO]);
  const second = transfers.getByRole('listitem').first();
  await expect(second).toContainText(`${helloHash}-v2`);
  await expect(second).toContainText('new version v2 of content already stored');
  await expect(second).not.toContainText('Same content as v1'); // said while storing; done, the badge says it
  await screenshot(page, '02-transfers');

  const lookup = page.getByRole('searchbox').or(page.getByLabel('Look up hash or cache id'));
  await lookup.fill(helloHash.toUpperCase());
  await lookup.press('Enter');
  const entry = page.getByRole('region', { name: 'Entry' });
  await expect(entry.getByTestId('entry-cache-id')).toHaveText(`${helloHash}-v2`);
  await expect(entry).toContainText('latest');
  await expect(entry.getByLabel('Preview')).toContainText('Hello from the operator');

  const versions = page.getByRole('region', { name: 'Versions' });
  await expect(versions.locator('tbody').getByRole('row')).toHaveCount(2);
  await screenshot(page, '03-entry-and-versions');

  await lookup.fill(`${helloHash}-v1`);
  await lookup.press('Enter');
  await expect(entry.getByTestId('entry-cache-id')).toHaveText(`${helloHash}-v1`);
  await expect(entry).toContainText('latest is v2');

  // Selecting a version in the table shows it.
  await versions.locator('tbody').getByRole('row').filter({ hasText: `${helloHash}-v2` }).click();
  await expect(entry.getByTestId('entry-cache-id')).toHaveText(`${helloHash}-v2`);
});

test('tells the operator when input is invalid and when nothing is found', async ({ page, bridge }) => {
  await page.goto(bridge.url);
  await page.keyboard.press('/');
  const lookup = page.getByLabel('Look up hash or cache id');
  await expect(lookup).toBeFocused();
  await lookup.fill('not-a-hash');
  await lookup.press('Enter');
  await expect(page.getByRole('alert')).toContainText('is not a cache hash');
  await screenshot(page, '04-invalid-lookup');
  await lookup.fill('0123456789abcdef');
  await lookup.press('Enter');
  await expect(page.getByRole('region', { name: 'Entry' }).getByRole('alert')).toContainText('Nothing found');
  await lookup.press('Escape');
  await expect(lookup).toHaveValue('');
});

test('switches namespace, stores into a new one, and browses the layout to the entry shard', async ({ page, bridge }) => {
  await page.goto(bridge.url);
  const namespaces = page.getByRole('region', { name: 'Namespaces' });
  await namespaces.getByLabel('Filter namespaces').fill('docs');
  await namespaces.getByRole('button', { name: 'Use new namespace “docs”' }).click();
  await dropFiles(page, '[aria-label="Drop files to store"]', [CONFIG]);
  await expect(page.getByRole('region', { name: 'Transfers' }).getByRole('listitem').first()).toContainText('new content');
  await namespaces.getByLabel('Filter namespaces').fill('');
  const list = namespaces.getByRole('listbox');
  await expect(list.getByRole('option')).toHaveCount(2);
  await expect(list.getByRole('option').nth(0)).toHaveText(/^default/);
  await expect(list.getByRole('option').nth(1)).toHaveText(/^docs\s*1 entry · 1 version/);

  await list.getByRole('option', { name: /^default/ }).click();
  const entries = page.getByRole('region', { name: 'Entries' });
  await expect(entries.getByRole('option')).toHaveCount(1);
  await entries.getByRole('option').first().click();
  await expect(page.getByRole('region', { name: 'Entry' }).getByTestId('entry-hash')).toHaveText(helloHash);

  await page.getByRole('tab', { name: 'Layout' }).click();
  const layout = page.getByRole('region', { name: 'Layout' });
  const tree = layout.getByRole('tree', { name: 'Storage keys' });
  // The entry shown: the tree opens down to its keys by itself (issue #17).
  await expect(tree.getByRole('treeitem', { name: helloHash, exact: true })).toBeVisible();
  await expect(layout.getByRole('gridcell', { name: `Shard ${helloHash.slice(0, 2)}: 1 entry` })).toBeVisible();
  await tree.getByRole('treeitem', { name: `${helloHash}.v00000002.json` }).getByRole('button').click();
  await expect(layout.getByLabel('Key details')).toContainText(/version record/i); // the native format's own explanation
  await screenshot(page, '05-layout');

  await page.getByRole('tab', { name: 'Stats' }).click();
  await expect(page.getByRole('region', { name: 'Stats' }).getByLabel('Namespace stats')).toContainText('Versions2');
  await screenshot(page, '06-stats');

  await page.getByRole('tab', { name: 'Verify' }).click();
  const verify = page.getByRole('region', { name: 'Verify' });
  await verify.getByRole('radio', { name: /Whole store/ }).check();
  await verify.getByRole('button', { name: 'Verify', exact: true }).click();
  await expect(verify.getByLabel('Verify report')).toContainText('No problems in the whole store');
  await screenshot(page, '09-verify');
});

test('theme toggle switches between system, dark and light', async ({ page, bridge }) => {
  await page.emulateMedia({ colorScheme: 'light' });
  await page.goto(bridge.url);
  await page.goto(bridge.url.replace(/\?.*/, '')); // the token is remembered for this tab
  const toggle = page.getByRole('button', { name: /^Theme:/ });
  await expect(toggle).toHaveAccessibleName('Theme: system');
  await toggle.click();
  await expect(page.locator('html')).toHaveAttribute('data-theme', 'dark');
  await screenshot(page, '07-dark');
  await toggle.click();
  await expect(page.locator('html')).toHaveAttribute('data-theme', 'light');
});

test('deletes one version, then the last one with its bytes, after asking', async ({ page, bridge }) => {
  await page.goto(bridge.url);
  const lookup = page.getByLabel('Look up hash or cache id');
  await lookup.fill(helloHash);
  await lookup.press('Enter');
  const entry = page.getByRole('region', { name: 'Entry' });
  await expect(entry.getByTestId('entry-cache-id')).toHaveText(`${helloHash}-v2`);
  const confirm = entry.getByRole('alertdialog', { name: 'Delete entry' });
  await entry.getByRole('button', { name: 'Delete…' }).click();
  await expect(confirm.getByRole('button', { name: 'Delete all 2 versions' })).toBeVisible();
  await screenshot(page, '12-delete-confirm');
  await confirm.getByRole('button', { name: 'Keep' }).click();
  await expect(confirm).toBeHidden();

  await entry.getByRole('button', { name: 'Delete…' }).click();
  await confirm.getByRole('button', { name: 'Delete v2' }).click();
  const notice = page.getByRole('status').filter({ hasText: 'Deleted' });
  await expect(notice).toContainText(`Deleted ${helloHash}-v2: the other versions stay`);
  await expect(entry.getByTestId('entry-cache-id')).toHaveText(`${helloHash}-v1`);
  await expect(entry).toContainText('latest');
  await expect(page.getByRole('region', { name: 'Versions' }).locator('tbody').getByRole('row')).toHaveCount(1);

  await entry.getByRole('button', { name: 'Delete…' }).click();
  await expect(confirm.getByRole('button', { name: /Delete all/ })).toHaveCount(0);
  await confirm.getByRole('button', { name: 'Delete v1' }).click();
  await expect(notice).toContainText(`Deleted ${helloHash}-v1: no version of it is left, ${statSync(HELLO).size} B freed`);
  expect(existsSync(path.join(bridge.storeDir, 'default/objects', helloHash.slice(0, 2), helloHash.slice(2, 4), helloHash))).toBe(false);
  await expect(page.getByRole('region', { name: 'Entries' })).toContainText('no entries');
  await lookup.fill(helloHash);
  await lookup.press('Enter');
  await expect(entry.getByRole('alert')).toContainText('Nothing found');
});
