import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { Page } from '@playwright/test';
import { CacheService } from '../src-main/core/cache-service';
import { LocalFolderStorage } from '../src-main/core/storage/local';
import { populateNamespace } from '../src-main/test-support/fixture-store';
import { dropFiles, expect, openNamespace, startWeb, test, type RunningBridge } from './bridge';

// Where the entries list stands after the namespace changes under it, and what a damaged entry's
// lookup leaves in reach: its namespace, its versions, its row. Each test damages its own entry, so
// any of them runs alone, or after another failed (on a store of its own then).

let bridge: RunningBridge;
let root: string;
/** Each namespace's hashes, in the list's default order (by hash). */
const hashes: Record<string, string[]> = {};
/** Stored five times in `default`; its v5 record is damaged by hand in the test that looks it up. */
let fiveVersions: string;
/** One version in `default`; its record is damaged by hand in the test that looks it up. */
let oneVersion: string;

const recordFile = (ns: string, hash: string, version: number) => path.join(bridge.storeDir, recordKey(ns, hash, version));
const recordKey = (ns: string, hash: string, version: number) => `${ns}/objects/${hash.slice(0, 2)}/${hash.slice(2, 4)}/${hash}.v${String(version).padStart(8, '0')}.json`;

test.beforeAll(async () => {
  test.setTimeout(300_000); // `npm run web` builds the renderer first: slow on a loaded machine
  root = mkdtempSync(path.join(process.env.E2E_ROOT ?? '/tmp', 'list-position-'));
  mkdirSync(path.join(root, 'store'));
  const storage = await LocalFolderStorage.open(path.join(root, 'store'));
  try {
    for (const [ns, count] of [['default', 164], ['logs', 150]] as const) hashes[ns] = (await populateNamespace(storage, ns, count)).map((r) => r.hash).sort();
    const cache = new CacheService(storage);
    const bytes = Buffer.from('stored five times, then its newest record is broken\n');
    for (let i = 0; i < 5; i++) fiveVersions = (await cache.store('default', { source: { kind: 'bytes', bytes } })).hash;
    oneVersion = (await cache.store('default', { source: { kind: 'bytes', bytes: Buffer.from('stored once, then its record is broken\n') } })).hash;
  } finally {
    await storage.close();
  }
  bridge = await startWeb(path.join(root, 'store'));
});
test.afterAll(async () => bridge?.stop());

const entriesOf = (page: Page) => page.getByRole('region', { name: 'Entries' });

/** Scrolls the entries list to its end, as the wheel or the scrollbar does, and waits for its last row. */
async function scrollToEnd(page: Page, lastHash: string) {
  const list = entriesOf(page).getByRole('listbox', { name: 'Entry list' });
  await list.evaluate((el) => (el.scrollTop = el.scrollHeight));
  await expect(entriesOf(page).getByRole('option').filter({ hasText: lastHash })).toBeInViewport();
}

test('another namespace opens at its first row, not where the last list was scrolled to', async ({ page }) => {
  await page.goto(bridge.url);
  await openNamespace(page, 'default');
  await expect(entriesOf(page).getByTestId('entries-count')).toHaveText('166 entries');
  await scrollToEnd(page, [...hashes.default!, fiveVersions, oneVersion].sort().at(-1)!);

  await page.getByRole('region', { name: 'Namespaces' }).getByRole('option', { name: /^logs/ }).click();
  await expect(entriesOf(page).getByTestId('entries-count')).toHaveText('150 entries');
  await expect(entriesOf(page).getByRole('option').filter({ hasText: hashes.logs![0]! })).toBeInViewport();
  expect(await entriesOf(page).getByRole('listbox', { name: 'Entry list' }).evaluate((el) => el.scrollTop)).toBe(0);
});

test('a drop into a new namespace, made from a scrolled list, shows its rows from the first', async ({ page }) => {
  const folder = path.join(root, 'fresh-files');
  mkdirSync(folder);
  const files = Array.from({ length: 300 }, (_, i) => {
    const file = path.join(folder, `file-${i}.txt`);
    writeFileSync(file, `fresh file ${i}\n`);
    return file;
  });
  await page.goto(bridge.url);
  await openNamespace(page, 'logs');
  await expect(entriesOf(page).getByTestId('entries-count')).toHaveText('150 entries');
  await scrollToEnd(page, hashes.logs!.at(-1)!);

  await openNamespace(page, 'fresh3');
  await expect(entriesOf(page).getByText('This namespace has no entries yet.')).toBeVisible();
  await dropFiles(page, 'main', files);
  await expect(page.getByRole('region', { name: 'Transfers' }).getByText('Stored 300 of 300 files')).toBeVisible({ timeout: 60_000 });
  await expect(entriesOf(page).getByTestId('entries-count')).toHaveText('300 entries');
  const rows = entriesOf(page).getByRole('option');
  await expect(rows.first()).toBeInViewport();
  await expect(rows.first().locator('code.hash')).toHaveText(/^[0-9a-f]{16}$/); // a row, not "Loading rows…"
  expect(await entriesOf(page).getByRole('listbox', { name: 'Entry list' }).evaluate((el) => el.scrollTop)).toBe(0);
});

test('a damaged version looked up by its storage key from another namespace: the list moves there, the versions are listed and the damaged one can be deleted', async ({ page }) => {
  writeFileSync(recordFile('default', fiveVersions, 5), 'garbage\n');
  await page.goto(bridge.url);
  await openNamespace(page, 'logs');
  const lookup = page.getByLabel('Look up hash or cache id');
  const entry = page.getByRole('region', { name: 'Entry' });
  const versions = page.getByRole('region', { name: 'Versions' });
  await lookup.fill(recordKey('default', fiveVersions, 5));
  await lookup.press('Enter');
  await expect(entry.getByRole('alert')).toContainText('is damaged');
  await expect(page.getByRole('region', { name: 'Namespaces' }).getByRole('option', { name: /^default/ })).toHaveAttribute('aria-selected', 'true');
  await expect(entriesOf(page).getByRole('heading')).toContainText('Entries in default');
  await expect(entry.getByRole('alert')).toContainText('is damaged'); // still said, in its namespace
  await expect(entry.getByTestId('other-versions')).toBeVisible();
  await expect(versions.locator('tbody').getByRole('row')).toHaveCount(5);
  // Its row is picked, as a healthy entry's is, so the list's Delete… acts on it.
  await expect(entriesOf(page).getByRole('option', { selected: true })).toContainText(fiveVersions);
  await expect(entriesOf(page).getByRole('option', { selected: true })).toBeInViewport();

  await versions.locator('tbody').getByRole('row').nth(1).click(); // newest first: v5, then v4
  await expect(entry.getByTestId('entry-cache-id')).toHaveText(`${fiveVersions}-v4`);
  await versions.locator('tbody').getByRole('row').first().click();
  await entry.getByRole('button', { name: 'Delete v5…' }).click();
  await entry.getByRole('alertdialog', { name: 'Delete entry' }).getByRole('button', { name: 'Delete v5' }).click();
  await expect(page.getByRole('status').filter({ hasText: `Deleted ${fiveVersions}-v5` })).toBeVisible();
});

test('a damaged entry looked up by its hash is picked in the list, so its Delete… acts on it', async ({ page }) => {
  writeFileSync(recordFile('default', oneVersion, 1), 'garbage\n');
  await page.goto(bridge.url);
  await openNamespace(page, 'default');
  const entries = entriesOf(page);
  await expect(entries.getByTestId('entries-count')).toHaveText(/^\d+ entries$/);
  const lookup = page.getByLabel('Look up hash or cache id');
  await lookup.fill(oneVersion);
  await lookup.press('Enter');
  await expect(page.getByRole('region', { name: 'Entry' }).getByRole('alert')).toContainText('is damaged');
  const picked = entries.getByRole('option', { selected: true });
  await expect(picked).toHaveCount(1);
  await expect(picked).toContainText(oneVersion);
  await expect(picked).toBeInViewport();
  await expect(entries.getByTestId('entries-count')).toContainText('1 selected');
  await expect(entries.getByRole('button', { name: 'Delete…' })).toBeEnabled();
});
