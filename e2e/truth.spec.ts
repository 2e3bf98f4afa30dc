import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import * as path from 'node:path';
import type { Page, Route } from '@playwright/test';
import { dropFiles, expect, screenshot, startWeb, test, type RunningBridge } from './bridge';

// Issue 17 items 2, 5, 6, 7 and issue 16's store choices: the app says what really happened.
// One bridge of its own, with a short connect time limit, so a silent endpoint gives up in seconds.
test.describe.configure({ mode: 'serial' });

const CONNECT_TIMEOUT_S = 4;
let bridge: RunningBridge;
let root: string;
let silent: Server;
let silentEndpoint: string;
const sockets = new Set<Socket>();
const hashOf = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex').slice(0, 16);
const contentFile = (store: string, hash: string) => path.join(store, 'default/objects', hash.slice(0, 2), hash.slice(2, 4), hash);

function fileWith(name: string, text: string): string {
  const file = path.join(mkdtempSync(path.join(root, 'files-')), name);
  writeFileSync(file, text);
  return file;
}

test.beforeAll(async () => {
  test.setTimeout(300_000); // `npm run web` builds the renderer first: slow on a loaded machine
  root = mkdtempSync(path.join(process.env.E2E_ROOT ?? '/tmp', 'truth-'));
  // Accepts connections and never answers: a firewall that drops replies, a hung proxy.
  silent = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  silentEndpoint = `http://127.0.0.1:${(silent.address() as { port: number }).port}`;
  process.env.CACHE_ADMIN_CONNECT_TIMEOUT_MS = String(CONNECT_TIMEOUT_S * 1000);
  try {
    bridge = await startWeb(mkdtempSync(path.join(root, 'store-')));
  } finally {
    delete process.env.CACHE_ADMIN_CONNECT_TIMEOUT_MS;
  }
});
test.afterAll(async () => {
  await bridge?.stop();
  for (const socket of sockets) socket.destroy();
  await new Promise((resolve) => silent?.close(resolve));
});

/** Holds the bridge upload that stores (not the one that hashes) until the test lets it go. */
async function holdStoreUpload(page: Page): Promise<{ route: Promise<Route> }> {
  let held!: (route: Route) => void;
  const route = new Promise<Route>((resolve) => (held = resolve));
  await page.route('**/api/upload?**', async (r) => {
    if (new URL(r.request().url()).searchParams.get('op') === 'store') held(r);
    else await r.continue();
  });
  return { route }; // wrapped: an async function's returned promise would be awaited with it
}

async function openStoresForm(page: Page, add: 'Add local folder' | 'Add S3 bucket') {
  await page.getByRole('button', { name: 'Stores…' }).click();
  await page.getByRole('dialog', { name: 'Stores' }).getByRole('button', { name: add }).click();
  return page.getByRole('form', { name: add });
}

test('a cancel that arrives after the version was committed says "stored as v1", and the counts show it', async ({ page }) => {
  const file = fileWith('committed.txt', 'committed before the cancel\n');
  const held = await holdStoreUpload(page);
  await page.goto(bridge.url);
  await dropFiles(page, 'main', [file]);
  const route = await held.route;
  const stored = await route.fetch(); // main has stored it; the answer is still on its way to the page
  const row = page.getByRole('region', { name: 'Transfers' }).getByRole('listitem', { name: 'Transfer committed.txt' });
  await row.getByRole('button', { name: 'Cancel committed.txt' }).click();
  await expect(row).toContainText('The cancel came after the version was committed: stored as v1.');
  await expect(row).toContainText(`${hashOf(file)}-v1`);
  await expect(row).not.toContainText('nothing was stored');
  await route.fulfill({ response: stored }).catch(() => undefined); // the page may have stopped waiting
  await expect(page.getByRole('region', { name: 'Namespaces' }).getByRole('option', { name: /^default/ })).toContainText('1 entry');
  expect(existsSync(contentFile(bridge.storeDir, hashOf(file)))).toBe(true);
  await screenshot(page, '30-cancel-after-commit');
});

test('a cancel that arrives before the store starts says nothing was stored, and main then refuses that upload', async ({ page }) => {
  const file = fileWith('never.txt', 'cancelled before it was stored\n');
  const held = await holdStoreUpload(page);
  await page.goto(bridge.url);
  await dropFiles(page, 'main', [file]);
  const route = await held.route;
  const row = page.getByRole('region', { name: 'Transfers' }).getByRole('listitem', { name: 'Transfer never.txt' });
  await row.getByRole('button', { name: 'Cancel never.txt' }).click();
  await expect(row).toContainText('Cancelled: nothing was stored.');
  // The upload reaches main only now, after the cancel: it is refused, and that is the truth.
  const late = await route.fetch();
  expect(await late.json()).toMatchObject({ ok: false, error: { code: 'cancelled' } });
  await route.abort().catch(() => undefined);
  expect(existsSync(contentFile(bridge.storeDir, hashOf(file)))).toBe(false);
  await expect(page.getByRole('region', { name: 'Namespaces' }).getByRole('option', { name: /^default/ })).toContainText('1 entry');
});

test('a corrupt entry is marked, not previewed or saved, and can be deleted; a missing one is marked too', async ({ page }) => {
  const corrupt = fileWith('flipped.txt', 'a byte of this will change\n');
  const missing = fileWith('gone.txt', 'this content file will be deleted\n');
  await page.goto(bridge.url);
  await dropFiles(page, 'main', [corrupt, missing]);
  await expect(page.getByRole('region', { name: 'Transfers' }).getByText('new content', { exact: true })).toHaveCount(2);
  writeFileSync(contentFile(bridge.storeDir, hashOf(corrupt)), 'a byte of thiS will change\n');
  rmSync(contentFile(bridge.storeDir, hashOf(missing)));

  const lookup = page.getByLabel('Look up hash or cache id');
  const entry = page.getByRole('region', { name: 'Entry' });
  await lookup.fill(hashOf(corrupt));
  await lookup.press('Enter');
  await expect(entry.getByTestId('content-problem')).toContainText(`Corrupt: the content of ${hashOf(corrupt)}-v1 no longer matches its hash`);
  await expect(entry.getByLabel('Preview')).toHaveCount(0);
  await expect(entry.getByRole('button', { name: 'Save to file…' })).toHaveCount(0);
  await expect(entry.getByRole('button', { name: 'Verify default' })).toBeVisible();
  await screenshot(page, '34-corrupt-entry');
  await entry.getByTestId('content-problem').getByRole('button', { name: 'Delete…' }).click();
  await entry.getByRole('alertdialog', { name: 'Delete entry' }).getByRole('button', { name: 'Delete v1' }).click();
  await expect(page.getByRole('status').filter({ hasText: `Deleted ${hashOf(corrupt)}-v1` })).toBeVisible();

  await lookup.fill(hashOf(missing));
  await lookup.press('Enter');
  await expect(entry.getByTestId('content-problem')).toContainText(`Missing: the content of ${hashOf(missing)}-v1 is not in the store`);
});

test('a hash whose newest record is damaged keeps its versions in reach: the older opens, the damaged one can be deleted', async ({ page }) => {
  const twice = fileWith('twice.txt', 'stored twice, then its second record is broken\n');
  const hash = hashOf(twice);
  await page.goto(bridge.url);
  const transfers = page.getByRole('region', { name: 'Transfers' });
  await dropFiles(page, 'main', [twice]);
  await expect(transfers.getByText(`${hash}-v1`)).toBeVisible();
  await dropFiles(page, 'main', [twice]);
  await expect(transfers.getByText(`${hash}-v2`)).toBeVisible();
  writeFileSync(`${path.dirname(contentFile(bridge.storeDir, hash))}/${hash}.v00000002.json`, '{bad');

  const lookup = page.getByLabel('Look up hash or cache id');
  const entry = page.getByRole('region', { name: 'Entry' });
  const versions = page.getByRole('region', { name: 'Versions' });
  await lookup.fill(hash);
  await lookup.press('Enter');
  await expect(entry.getByRole('alert')).toContainText('is damaged');
  // The key in the message is one long word: it wraps inside the box, not past the panel's edge.
  expect(await entry.getByRole('alert').evaluate((e) => e.scrollWidth - e.clientWidth)).toBeLessThanOrEqual(0);
  await expect(entry.getByTestId('other-versions')).toBeVisible();
  await expect(versions.locator('tbody').getByRole('row')).toHaveCount(2);
  await versions.locator('tbody').getByRole('row').last().click(); // newest first: v2, then v1
  await expect(entry.getByTestId('entry-cache-id')).toHaveText(`${hash}-v1`);
  await versions.locator('tbody').getByRole('row').first().click();
  await entry.getByRole('button', { name: 'Delete v2…' }).click();
  await entry.getByRole('alertdialog', { name: 'Delete entry' }).getByRole('button', { name: 'Delete v2' }).click();
  await expect(page.getByRole('status').filter({ hasText: `Deleted ${hash}-v2` })).toBeVisible();
  await expect(entry.getByTestId('entry-cache-id')).toHaveText(`${hash}-v1`);
  // Gone with its last version: the namespace is as the tests after this one expect it.
  await entry.getByRole('button', { name: 'Delete…' }).click();
  await entry.getByRole('alertdialog', { name: 'Delete entry' }).getByRole('button', { name: 'Delete v1' }).click();
  await expect(page.getByRole('status').filter({ hasText: `Deleted ${hash}-v1: no version of it is left` })).toBeVisible();
});

test('a silent S3 endpoint: "Connecting…" at once, Cancel works, then a clear timeout; the open store stays and nothing is saved', async ({ page }) => {
  await page.goto(bridge.url);
  // The store that was open, as the tests before this one left it (counted: it says its versions).
  const defaultNamespace = page.getByRole('region', { name: 'Namespaces' }).getByRole('option', { name: /^default/ });
  await expect(defaultNamespace).toContainText('version');
  const before = await defaultNamespace.textContent();
  const form = await openStoresForm(page, 'Add S3 bucket');
  await form.getByLabel('Name').fill('silent bucket');
  await form.getByLabel('Bucket').fill('quiet-bucket');
  await form.getByLabel('Region').fill('us-east-1');
  await form.getByLabel('Endpoint').fill(silentEndpoint);
  await form.getByLabel('Path-style addressing').check();
  await form.getByLabel('Access key id').fill('AKIAEXAMPLE12345');
  await form.getByRole('textbox', { name: 'Secret key' }).fill('not-a-real-secret');
  await form.getByRole('button', { name: 'Save and connect' }).click();
  const soon = { timeout: 1000 };
  await expect(form.getByRole('status')).toHaveText('Connecting…', soon);
  await expect(page.getByRole('status').filter({ hasText: 'Connecting to silent bucket…' })).toBeVisible(soon); // the connection bar
  await screenshot(page, '31-connecting');
  await form.getByRole('button', { name: 'Cancel' }).click();
  await expect(form.getByRole('alert')).toContainText('connecting to silent bucket was cancelled; the store that was open stays open');
  await expect(page.getByLabel('Store profile')).toHaveValue('command-line');

  const started = Date.now();
  await form.getByRole('button', { name: 'Save and connect' }).click();
  await expect(form.getByRole('alert')).toContainText(`Could not connect: silent bucket (s3://quiet-bucket/) did not answer within ${CONNECT_TIMEOUT_S} s; the store that was open stays open`, {
    timeout: (CONNECT_TIMEOUT_S + 10) * 1000,
  });
  expect(Date.now() - started).toBeGreaterThanOrEqual((CONNECT_TIMEOUT_S - 1) * 1000);
  await expect(page.getByLabel('Store profile')).toHaveValue('command-line');
  await expect(page.getByLabel('Store profile').locator('option', { hasText: 'silent bucket' })).toHaveCount(0);
  await expect(defaultNamespace).toHaveText(before!); // the store that was open, as it was
});

test('the store shows before its counts: namespace names and entries at once, counts filled in when the full listing is done', async ({ page }) => {
  let countsDone!: () => void;
  const counting = new Promise<void>((resolve) => (countsDone = resolve));
  await page.route('**/api/call/namespaces', async (route) => {
    await counting; // a store so big that counting it takes a while
    await route.continue();
  });
  await page.goto(bridge.url);
  const soon = { timeout: 3000 };
  const namespaces = page.getByRole('region', { name: 'Namespaces' });
  await expect(namespaces.getByRole('option', { name: /^default/ })).toContainText('counting…', soon);
  await expect(page.getByRole('region', { name: 'Entries' }).getByRole('option').first()).toContainText(/[0-9a-f]{16}/, soon);
  countsDone();
  await expect(namespaces.getByRole('option', { name: /^default/ })).toContainText('2 versions');
});

test('a folder that does not exist is refused with a clear error and not saved; a saved folder profile can be edited', async ({ page }) => {
  const missing = path.join(root, 'no-such-folder');
  const first = mkdtempSync(path.join(root, 'first-'));
  const second = mkdtempSync(path.join(root, 'second-'));
  await page.goto(bridge.url);
  const form = await openStoresForm(page, 'Add local folder');
  await form.getByLabel('Name').fill('work');
  await form.getByLabel('Folder').fill(missing);
  await form.getByRole('button', { name: 'Save and connect' }).click();
  await expect(form.getByRole('alert')).toHaveText(`the folder ${missing} does not exist: create it first, or choose another`);
  await expect(page.getByLabel('Store profile').locator('option', { hasText: 'work' })).toHaveCount(0);
  expect(existsSync(missing)).toBe(false);
  await form.getByLabel('Folder').fill(first);
  await form.getByRole('button', { name: 'Save and connect' }).click();
  await expect(form).toBeHidden();
  await expect(page.getByLabel('Store profile').locator('option:checked')).toHaveText(`work — ${first}`);

  await page.getByRole('button', { name: 'Stores…' }).click();
  await page.getByRole('dialog', { name: 'Stores' }).getByRole('row', { name: /work/ }).getByRole('button', { name: 'Edit work' }).click();
  const edit = page.getByRole('form', { name: 'Edit work' });
  await expect(edit.getByLabel('Folder')).toHaveValue(first);
  await edit.getByLabel('Name').fill('work (moved)');
  await edit.getByLabel('Folder').fill(second);
  await edit.getByRole('button', { name: 'Save and connect' }).click();
  await expect(edit).toBeHidden();
  await expect(page.getByLabel('Store profile').locator('option:checked')).toHaveText(`work (moved) — ${second}`);
  await expect(page.getByLabel('Store profile').locator('option', { hasText: 'work —' })).toHaveCount(0);
});

test('a store folder that disappears is shown as missing, drops are refused and nothing recreates it, until it is back and reconnected', async ({ page }) => {
  const folder = mkdtempSync(path.join(root, 'vanishing-'));
  const file = fileWith('after.txt', 'dropped while the store was gone\n');
  await page.goto(bridge.url);
  const form = await openStoresForm(page, 'Add local folder');
  await form.getByLabel('Name').fill('vanishing');
  await form.getByLabel('Folder').fill(folder);
  await form.getByRole('button', { name: 'Save and connect' }).click();
  await expect(form).toBeHidden();
  renameSync(folder, `${folder}-away`);
  await page.getByRole('button', { name: 'Refresh namespaces' }).click();
  await expect(page.getByTestId('store-problem')).toContainText('Store missing or unreachable');
  await dropFiles(page, 'main', [file]);
  await expect(page.getByRole('status').filter({ hasText: 'Nothing was stored' })).toContainText('vanishing is missing or unreachable');
  await expect(page.getByRole('region', { name: 'Transfers' }).getByRole('listitem')).toHaveCount(0);
  expect(existsSync(folder)).toBe(false);
  await screenshot(page, '32-store-missing');
  // A long problem gives way: Reconnect, the store picker and the theme button stay on screen, whole.
  for (const width of [1024, 1440]) {
    await page.setViewportSize({ width, height: 800 });
    for (const control of [page.getByRole('button', { name: 'Reconnect' }), page.getByRole('button', { name: /^Theme:/ }), page.locator('.profile select')]) {
      const box = (await control.boundingBox())!;
      expect(box.x + box.width).toBeLessThanOrEqual(width);
      expect(box.width).toBeGreaterThan(40);
    }
  }

  await page.getByRole('button', { name: 'Reconnect' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Could not connect' })).toContainText(`the store folder ${folder} is gone`);
  expect(existsSync(folder)).toBe(false);
  renameSync(`${folder}-away`, folder);
  await page.getByRole('button', { name: 'Reconnect' }).click();
  await expect(page.getByTestId('store-problem')).toHaveCount(0);
  await dropFiles(page, 'main', [file]);
  await expect(page.getByRole('region', { name: 'Transfers' }).getByRole('listitem').first()).toContainText(`${hashOf(file)}-v1`);
});

test.describe('a service store', () => {
  let service: RunningBridge;
  test.beforeAll(async () => {
    test.setTimeout(300_000);
    const store = mkdtempSync(path.join(root, 'service-'));
    cpSync(path.resolve(import.meta.dirname, '../test-fixtures/mgraph/store'), store, { recursive: true });
    service = await startWeb(store);
  });
  test.afterAll(async () => service?.stop());

  test('a drop is stored with the strategy and "as" chosen; a new namespace takes upper case and _, as the service does', async ({ page }) => {
    const file = fileWith('notes.txt', 'stored as text, direct\n');
    await page.goto(service.url);
    await expect(page.getByTestId('store-layout')).toHaveText('layout: Python cache service (mgraph)');
    const namespaces = page.getByRole('region', { name: 'Namespaces' });
    await namespaces.getByLabel('Filter namespaces').fill('Team_B');
    await namespaces.getByRole('button', { name: 'Use new namespace “Team_B”' }).click();
    await namespaces.getByLabel('Filter namespaces').fill('a.b');
    await expect(namespaces.getByTestId('namespace-refused')).toContainText('“a.b” cannot be a namespace here');
    const transfers = page.getByRole('region', { name: 'Transfers' });
    await transfers.getByLabel('Store as').selectOption('string');
    await transfers.getByLabel('Strategy').selectOption('direct');
    await screenshot(page, '33-service-store-choice');
    await dropFiles(page, 'main', [file]);
    const row = transfers.getByRole('listitem').first();
    await expect(row).toContainText('into Team_B');
    await expect(row).toContainText('as string · strategy direct');
    await expect(row).toContainText('new content');
    const hash = (await row.locator('code').filter({ hasText: /^[0-9a-f]{16}$/ }).textContent())!.trim();
    const lookup = page.getByLabel('Look up hash or cache id');
    await lookup.fill(hash);
    await lookup.press('Enter');
    const entry = page.getByRole('region', { name: 'Entry' });
    await expect(entry.getByTestId('entry-detail-strategy')).toHaveText('direct');
    await expect(entry).toContainText('(stored as a string)');
  });

  test('pasted text is stored like a drop, as the JSON the operator chose', async ({ page }) => {
    await page.goto(service.url);
    await page.getByRole('region', { name: 'Namespaces' }).getByRole('option', { name: /^TeamA/ }).click();
    const transfers = page.getByRole('region', { name: 'Transfers' });
    await transfers.getByLabel('Store as').selectOption('json');
    await page.evaluate(() => {
      const data = new DataTransfer();
      data.setData('text/plain', '{"pasted": true, "n": 1}');
      window.dispatchEvent(new ClipboardEvent('paste', { clipboardData: data }));
    });
    const row = transfers.getByRole('listitem', { name: 'Transfer pasted.txt' });
    await expect(row).toContainText('into TeamA');
    await expect(row).toContainText('new content');
    const hash = (await row.locator('code').filter({ hasText: /^[0-9a-f]{16}$/ }).textContent())!.trim();
    const lookup = page.getByLabel('Look up hash or cache id');
    await lookup.fill(hash);
    await lookup.press('Enter');
    await expect(page.getByRole('region', { name: 'Entry' })).toContainText('(stored as JSON)');
  });

  test('in a native store the same name is refused by the native rules', async ({ page }) => {
    await page.goto(bridge.url);
    const namespaces = page.getByRole('region', { name: 'Namespaces' });
    await namespaces.getByLabel('Filter namespaces').fill('Team_B');
    await expect(namespaces.getByTestId('namespace-refused')).toContainText('“Team_B” cannot be a namespace here');
    await expect(namespaces.getByRole('button', { name: /Use new namespace/ })).toHaveCount(0);
  });
});
