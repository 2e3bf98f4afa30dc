import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { dropFiles, expect, screenshot, startWeb, test, type RunningBridge } from './bridge';

// Issue 17: data goes where the operator put it, nothing stale is shown, and the entries browser
// works from the keyboard. One store of its own, so the other specs' stores are not touched.
test.describe.configure({ mode: 'serial' });

let bridge: RunningBridge;
let files: string[];
const hashOf = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex').slice(0, 16);

test.beforeAll(async () => {
  test.setTimeout(300_000); // `npm run web` builds the renderer first: slow on a loaded machine
  const root = mkdtempSync(path.join(process.env.E2E_ROOT ?? '/tmp', 'operator-'));
  files = Array.from({ length: 6 }, (_, i) => {
    const file = path.join(root, `file-${i}.txt`);
    writeFileSync(file, `dropped file ${i}\n`);
    return file;
  });
  bridge = await startWeb(mkdtempSync(path.join(root, 'store-')));
});
test.afterAll(async () => bridge?.stop());

test('queued drops are stored in the namespace they were dropped in, though the operator moved to another', async ({ page }) => {
  const targets: string[] = [];
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  await page.route('**/api/upload?**', async (route) => {
    targets.push(new URL(route.request().url()).searchParams.get('namespace') ?? '');
    await released; // as if the first files were big: the rest wait in the queue
    await route.continue();
  });
  await page.goto(bridge.url);
  await dropFiles(page, 'main', files);
  const transfers = page.getByRole('region', { name: 'Transfers' });
  await expect(transfers.getByRole('listitem')).toHaveCount(6);

  const namespaces = page.getByRole('region', { name: 'Namespaces' });
  await namespaces.getByLabel('Filter namespaces').fill('elsewhere');
  await namespaces.getByRole('button', { name: 'Use new namespace “elsewhere”' }).click();
  await expect(page.getByRole('region', { name: 'Entries' }).getByRole('heading')).toHaveText('Entries in elsewhere');
  release();

  await expect(transfers.getByText('new content', { exact: true })).toHaveCount(6);
  for (const row of await transfers.getByRole('listitem').all()) await expect(row).toContainText('into default');
  await screenshot(page, '13-drop-stays-in-its-namespace');
  expect(targets).toHaveLength(12); // a hash and a store request per file
  expect(new Set(targets)).toEqual(new Set(['default']));
  await expect(page.getByRole('region', { name: 'Entries' })).toContainText('no entries');
  await namespaces.getByLabel('Filter namespaces').fill('');
  await expect(namespaces.getByRole('option', { name: /^default/ })).toContainText('6 entries');
});

test('the entries list follows lookups and takes Home, End and the page keys; tabs take arrows; Copy confirms', async ({ page }) => {
  await page.context().grantPermissions(['clipboard-read', 'clipboard-write']);
  await page.goto(bridge.url);
  const entries = page.getByRole('region', { name: 'Entries' });
  const list = entries.getByRole('listbox', { name: 'Entry list' });
  await expect(entries.getByRole('option')).toHaveCount(6);
  const hashes = (await entries.getByRole('option').locator('code').allTextContents()).map((h) => h.trim());

  const lookup = page.getByLabel('Look up hash or cache id');
  await lookup.fill(hashes[3]!);
  await lookup.press('Enter');
  await expect(entries.getByRole('option', { selected: true })).toContainText(hashes[3]!);

  await list.focus();
  await page.keyboard.press('End');
  await expect(entries.getByRole('option', { selected: true })).toContainText(hashes[5]!);
  await page.keyboard.press('Home');
  await expect(entries.getByRole('option', { selected: true })).toContainText(hashes[0]!);
  await page.keyboard.press('PageDown');
  await expect(entries.getByRole('option', { selected: true })).toContainText(hashes[5]!); // fewer rows than a page
  await page.keyboard.press('Enter');
  const entry = page.getByRole('region', { name: 'Entry' });
  await expect(entry.getByTestId('entry-hash')).toHaveText(hashes[5]!);

  await entry.getByRole('button', { name: 'Copy hash' }).click();
  await expect(entry.getByRole('button', { name: 'Copied hash' })).toBeVisible();
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(hashes[5]);

  await page.getByRole('tab', { name: 'Browse' }).focus();
  await page.keyboard.press('ArrowRight');
  await expect(page.getByRole('tab', { name: 'Layout' })).toBeFocused();
  await expect(page.getByRole('tab', { name: 'Layout' })).toHaveAttribute('aria-selected', 'true');
  await page.keyboard.press('End'); // the last tab
  await expect(page.getByRole('tab', { name: 'Retention' })).toBeFocused();
  await page.keyboard.press('ArrowRight');
  await expect(page.getByRole('tab', { name: 'Browse' })).toHaveAttribute('aria-selected', 'true');
});

test('a file path in the lookup says what the lookup takes, and no namespace appears from it', async ({ page }) => {
  await page.goto(bridge.url);
  const lookup = page.getByLabel('Look up hash or cache id');
  const hash = hashOf(files[0]!);
  // What an operator copies from a terminal: the content file's path inside the store folder.
  await lookup.fill(path.join(bridge.storeDir, 'default/objects', hash.slice(0, 2), hash.slice(2, 4), hash));
  await lookup.press('Enter');
  await expect(page.getByRole('search').getByRole('alert')).toContainText('is a file path. The lookup takes a cache hash');
  const namespaces = page.getByRole('region', { name: 'Namespaces' }).getByRole('listbox');
  await expect(namespaces.getByRole('option')).toHaveCount(1);
  await expect(namespaces.getByRole('option')).toHaveText(/^default/);
  await expect(page.getByRole('region', { name: 'Entries' }).getByRole('heading')).toHaveText('Entries in default');
  await screenshot(page, '14-file-path-lookup');
});

test('switching store empties every panel at once, and a late answer from the previous store is never shown', async ({ page }) => {
  const second = mkdtempSync(path.join(process.env.E2E_ROOT ?? '/tmp', 'second-store-'));
  await page.goto(bridge.url);
  const entries = page.getByRole('region', { name: 'Entries' });
  await entries.getByRole('option').first().click();
  const entry = page.getByRole('region', { name: 'Entry' });
  await expect(entry.getByTestId('entry-hash')).toHaveText(/[0-9a-f]{16}/);
  await page.getByRole('tab', { name: 'Verify' }).click();
  await page.getByRole('region', { name: 'Verify' }).getByRole('button', { name: 'Verify', exact: true }).click();
  await expect(page.getByLabel('Verify report')).toContainText('No problems in default');
  // The previous store's shard counts arrive after the switch; the new store counts its namespaces slowly.
  let switched!: () => void;
  const afterSwitch = new Promise<void>((resolve) => (switched = resolve));
  await page.route('**/api/call/shardCounts', async (route) => {
    const response = await route.fetch();
    await afterSwitch;
    await route.fulfill({ response });
  });
  await page.route('**/api/call/namespaces', async (route) => {
    await new Promise((resolve) => setTimeout(resolve, 8000));
    await route.continue();
  });
  await page.getByRole('tab', { name: 'Browse' }).click();
  await entry.getByRole('list').getByRole('button').first().click(); // a storage key: opens it in Layout
  const layout = page.getByRole('region', { name: 'Layout' });
  await expect(layout.getByLabel('Key details')).toBeVisible();
  await expect(layout).toContainText('Counting shards: 0 / 256');

  await page.getByRole('button', { name: 'Stores…' }).click();
  await page.getByRole('dialog', { name: 'Stores' }).getByRole('button', { name: 'Add local folder' }).click();
  const form = page.getByRole('form', { name: 'Add local folder' });
  await form.getByLabel('Name').fill('second');
  await form.getByLabel('Folder').fill(second);
  await form.getByRole('button', { name: 'Save and connect' }).click();
  await expect(form).toBeHidden();
  switched();

  const soon = { timeout: 4000 }; // well before the slow count is done
  await expect(layout.locator('figcaption')).toContainText('(0 entries)', soon);
  await expect(layout.getByLabel('Key details')).toHaveCount(0);
  await expect(page.getByRole('tree', { name: 'Storage keys' })).not.toContainText('objects/');
  await page.getByRole('tab', { name: 'Stats' }).click();
  await expect(page.getByLabel('Namespace stats')).toContainText('Entries0');
  await page.getByRole('tab', { name: 'Browse' }).click();
  await expect(entries).toContainText('no entries', soon);
  await expect(entry).toContainText('Look up a hash');
  await page.getByRole('tab', { name: 'Verify' }).click();
  await expect(page.getByLabel('Verify report')).toHaveCount(0);
  await screenshot(page, '15-switched-store');
});
