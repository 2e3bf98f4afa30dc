import AxeBuilder from '@axe-core/playwright';
import { mkdtempSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { Locator, Page } from '@playwright/test';
import { LocalFolderStorage } from '../src-main/core/storage/local';
import { populateNamespace } from '../src-main/test-support/fixture-store';
import { tarMembers } from '../src-main/test-support/tar-members';
import { expect, onOwnBridge, screenshot, startWeb, test, type RunningBridge } from './bridge';

// Issue #17 (and #19's badge in the list): columns, sort and filter by main, multi-select with
// bulk delete and save, the expired badge, and a jump to the end of a 100,000-entry namespace.
test.describe.configure({ mode: 'serial', timeout: 300_000 });

let small: RunningBridge;
let big: RunningBridge;

test.beforeAll(async () => {
  test.setTimeout(300_000); // `npm run web` builds the renderer first: slow on a loaded machine
  const storage = await LocalFolderStorage.open(mkdtempSync(path.join(process.env.E2E_ROOT ?? '/tmp', 'browser-store-')));
  await populateNamespace(storage, 'docs', 40).finally(() => storage.close()); // entry-<i>.txt, stored from 2026-01-01, a second apart
  [small, big] = await Promise.all([startWeb(storage.root), startWeb(process.env.E2E_BIG_STORE!)]);
});
test.afterAll(async () => Promise.all([small?.stop(), big?.stop()]));

async function noSeriousAxeViolations(page: Page, screen: string): Promise<void> {
  const { violations } = await new AxeBuilder({ page }).analyze();
  expect(violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${screen}: ${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`)).toEqual([]);
}

async function openNamespace(page: Page, name: string) {
  const namespaces = page.getByRole('region', { name: 'Namespaces' });
  await namespaces.getByRole('option', { name: new RegExp(`^${name}`) }).click();
  return page.getByRole('region', { name: 'Entries' });
}

test('columns, sort, filter, multi-select, bulk delete with a confirmation, bulk save, expired badges', async ({ page }) => {
  await page.goto(small.url);
  const entries = await openNamespace(page, 'docs');
  const rows = entries.getByRole('option');
  const count = entries.getByTestId('entries-count');
  await expect(count).toHaveText('40 entries');
  for (const column of ['Hash', 'Name', 'Type', 'Size', 'Versions', 'Stored']) await expect(entries.getByRole('button', { name: new RegExp(`^${column}`) })).toBeVisible();
  await expect(rows.first()).toContainText('text/plain');

  // Sorted by main: by name, then the other way.
  await entries.getByRole('button', { name: /^Name/ }).click();
  await expect(rows.first()).toContainText('entry-0.txt');
  await expect(rows.nth(1)).toContainText('entry-1.txt');
  await entries.getByRole('button', { name: /^Name/ }).click();
  await expect(rows.first()).toContainText('entry-9.txt');
  await entries.getByRole('button', { name: /^Stored/ }).click();
  await expect(rows.first()).toContainText('entry-0.txt');

  // Filtered by main: the count says how many of the namespace show.
  await entries.getByLabel('Filter by name or hash').fill('entry-1');
  await expect(count).toHaveText('11 of 40 entries');
  await expect(rows).toHaveCount(11);
  await expect(rows.first()).toContainText('entry-1.txt');
  await screenshot(page, '17-entries-browser');
  await noSeriousAxeViolations(page, 'entries browser');

  // Click, Shift+click, Ctrl+click: three rows; Delete asks first, naming the count.
  await rows.nth(0).click();
  await rows.nth(3).click({ modifiers: ['Shift'] });
  await expect(count).toHaveText('11 of 40 entries · 4 selected');
  expect(await page.evaluate(() => String(window.getSelection()))).toBe(''); // rows picked, not their text highlighted
  // Shift+clicked from elsewhere (the lookup box), the list takes the keys that follow.
  await page.getByLabel('Look up hash or cache id').focus();
  await rows.nth(3).click({ modifiers: ['Shift'] });
  await expect(entries.getByRole('listbox', { name: 'Entry list' })).toBeFocused();
  await rows.nth(1).click({ modifiers: ['Control'] });
  await expect(count).toHaveText('11 of 40 entries · 3 selected');
  await expect(entries.getByRole('option', { selected: true })).toHaveCount(3);
  // A row Ctrl+clicked back in is under the pointer, and still looks selected, like the others.
  await rows.nth(1).click({ modifiers: ['Control'] });
  const background = (row: number) => rows.nth(row).evaluate((el) => getComputedStyle(el).backgroundColor);
  expect(await background(1)).toBe(await background(0));
  expect(await background(1)).not.toBe(await background(5));
  await rows.nth(1).click({ modifiers: ['Control'] });
  await expect(count).toHaveText('11 of 40 entries · 3 selected');
  await entries.getByRole('button', { name: 'Delete…' }).click();
  const confirm = page.getByRole('dialog', { name: 'Delete 3 entries' });
  await expect(confirm).toContainText('This cannot be undone');
  await noSeriousAxeViolations(page, 'bulk delete dialog');
  await confirm.getByRole('button', { name: 'Keep them' }).click();
  await expect(count).toHaveText('11 of 40 entries · 3 selected'); // kept: nothing changed
  await entries.getByRole('button', { name: 'Delete…' }).click();
  await page.getByRole('dialog', { name: 'Delete 3 entries' }).getByRole('button', { name: 'Delete 3 entries' }).click();
  await expect(page.getByText('Deleted 3 entries')).toBeVisible();
  await expect(count).toHaveText('8 of 37 entries');
  await expect(page.getByRole('region', { name: 'Namespaces' }).getByRole('option', { name: /^docs/ })).toContainText('37 entries');

  // A selected entry deleted from the Entry panel leaves the selection (a bulk Delete… offered it, and deleted nothing).
  const goneName = /entry-\d+\.txt/.exec((await rows.first().textContent()) ?? '')![0];
  await rows.first().click();
  await expect(count).toHaveText('8 of 37 entries · 1 selected');
  const entry = page.getByRole('region', { name: 'Entry' });
  await entry.getByRole('button', { name: 'Delete…' }).click();
  await entry.getByRole('alertdialog', { name: 'Delete entry' }).getByRole('button', { name: 'Delete v1' }).click();
  await expect(count).toHaveText('7 of 36 entries');
  await expect(entries.getByRole('option', { selected: true })).toHaveCount(0);

  // Ctrl+A selects all the filter shows; Save streams them as one tar, each checked as read.
  await entries.getByRole('listbox', { name: 'Entry list' }).focus();
  await page.keyboard.press('Control+a');
  await expect(count).toHaveText('7 of 36 entries · 7 selected');
  await entries.getByRole('button', { name: 'Save…' }).click();
  const save = page.getByRole('dialog', { name: 'Save 7 entries' });
  await noSeriousAxeViolations(page, 'bulk save dialog');
  const downloading = page.waitForEvent('download');
  await save.getByRole('button', { name: 'Save', exact: true }).click();
  const download = await downloading;
  expect(download.suggestedFilename()).toBe('docs-entries.tar');
  const files = await tarMembers(readFileSync((await download.path())!));
  const kept = ['entry-10.txt', 'entry-13.txt', 'entry-14.txt', 'entry-15.txt', 'entry-16.txt', 'entry-17.txt', 'entry-18.txt', 'entry-19.txt'].filter((n) => n !== goneName);
  expect(Object.keys(files).sort()).toEqual(['cache-admin-summary.json', ...kept].sort());
  expect(files[kept[0]!]).toBe(`fixture ${kept[0]!.replace('.txt', '').replace('-', ' ')} of docs\n`);

  // A TTL makes the list say expired (#19); saving then leaves expired entries out unless asked.
  await page.getByRole('tab', { name: 'Retention' }).click();
  const retention = page.getByRole('region', { name: 'Retention' });
  await retention.getByLabel('TTL').fill('30d');
  await retention.getByRole('button', { name: 'Save policy' }).click();
  await page.getByRole('dialog', { name: 'Confirm TTL' }).getByRole('button', { name: 'Save policy' }).click();
  await expect(retention.getByTestId('namespace-ttl')).toHaveText('30d');
  await page.getByRole('tab', { name: 'Browse' }).click();
  await expect(rows.first().locator('.badge.expired')).toHaveText('expired');
  await expect(entries.locator('.badge.expired')).toHaveCount(7);
  await noSeriousAxeViolations(page, 'expired badges in the list');
  await entries.getByRole('listbox', { name: 'Entry list' }).focus();
  await page.keyboard.press('Control+a');
  await entries.getByRole('button', { name: 'Save…' }).click();
  const skipping = page.waitForEvent('download');
  await page.getByRole('dialog', { name: 'Save 7 entries' }).getByRole('button', { name: 'Save', exact: true }).click();
  const summary = await tarMembers(readFileSync((await (await skipping).path())!));
  expect(Object.keys(summary)).toEqual(['cache-admin-summary.json']);
  expect(JSON.parse(summary['cache-admin-summary.json']!)).toMatchObject({ done: 0, skippedExpired: 7 });
});

test('a 100,000-entry namespace: the scrollbar spans all of it, End jumps to the last row at once, a lookup selects its row', async ({ page }) => {
  await page.goto(big.url);
  const entries = await openNamespace(page, 'big');
  await expect(entries.getByTestId('entries-count')).toHaveText('100,000 entries', { timeout: 60_000 });
  const list = entries.getByRole('listbox', { name: 'Entry list' });
  // Sized to the whole namespace, not to what was fetched.
  expect(await list.evaluate((el) => el.scrollHeight)).toBeGreaterThan(100_000 * 29);
  await entries.getByRole('button', { name: /^Stored/ }).click();
  await expect(entries.getByRole('option').first()).toContainText('entry-0.txt');
  await list.focus();
  const started = Date.now();
  await page.keyboard.press('End');
  await expect(entries.getByRole('option', { selected: true })).toContainText('entry-99999.txt');
  console.log(`End on 100,000 entries: the last row selected after ${Date.now() - started} ms`);
  await page.keyboard.press('PageUp');
  await page.keyboard.press('Home');
  await expect(entries.getByRole('option', { selected: true })).toContainText('entry-0.txt');

  // A lookup far from the rows fetched so far: its row is fetched, scrolled to and selected.
  const lookup = page.getByLabel('Look up hash or cache id');
  const hash = await entries.getByRole('option').first().locator('code').textContent();
  await page.keyboard.press('End');
  await expect(entries.getByRole('option', { selected: true })).toContainText('entry-99999.txt');
  await lookup.fill(hash!.trim());
  await lookup.press('Enter');
  await expect(entries.getByRole('option', { selected: true })).toContainText('entry-0.txt');
  await noSeriousAxeViolations(page, 'big namespace');
});

test("a script's upload into the namespace on show appears in the list and its count, with no Refresh", async ({ page }) => {
  const url = new URL(small.url);
  const upload = async (name: string, text: string) => {
    const res = await fetch(`${url.origin}/api/upload?${new URLSearchParams({ op: 'store', namespace: 'scripted', name, transferId: name.replace('.', '-') })}`, {
      method: 'POST',
      headers: { 'x-cache-admin-token': url.searchParams.get('token')! },
      body: text,
    });
    expect(await res.json()).toMatchObject({ ok: true });
  };
  await upload('first.txt', 'stored by a script before the page opened');
  await page.goto(small.url);
  const entries = await openNamespace(page, 'scripted');
  await expect(entries.getByTestId('entries-count')).toHaveText('1 entry');
  await upload('second.txt', 'stored by a script while the page shows the namespace');
  await expect(entries.getByRole('option', { name: /second\.txt/ })).toBeVisible();
  await expect(entries.getByTestId('entries-count')).toHaveText('2 entries');
  await expect(page.getByRole('region', { name: 'Namespaces' }).getByRole('option', { name: /^scripted/ })).toContainText('2');
});

/**
 * A bridge on a fresh store of `count` entries in namespace bulk, all of them picked (Ctrl+A) and their delete
 * confirmed and under way; `run` goes on from there.
 */
async function deletingAll(page: Page, count: number, run: (dialog: Locator, entries: Locator) => Promise<void>): Promise<void> {
  const storage = await LocalFolderStorage.open(mkdtempSync(path.join(process.env.E2E_ROOT ?? '/tmp', 'bulk-delete-store-')));
  await populateNamespace(storage, 'bulk', count).finally(() => storage.close());
  const n = count.toLocaleString('en-US');
  await onOwnBridge(page, storage.root, [], async (bridge) => {
    await page.goto(bridge.url);
    const entries = await openNamespace(page, 'bulk');
    await expect(entries.getByTestId('entries-count')).toHaveText(`${n} entries`);
    await entries.getByRole('listbox', { name: 'Entry list' }).focus();
    await page.keyboard.press('Control+a');
    await expect(entries.getByTestId('entries-count')).toHaveText(`${n} entries · ${n} selected`);
    await entries.getByRole('button', { name: 'Delete…' }).click();
    const dialog = page.getByRole('dialog', { name: `Delete ${n} entries` });
    await dialog.getByRole('button', { name: `Delete ${n} entries` }).click();
    await expect(dialog.getByText(new RegExp(`of ${n} entries done$`))).toBeVisible();
    await run(dialog, entries);
  });
}

/** A stopped bulk delete's notice (`said` captures how many went and how many are kept): they add up to `picked`, some are kept, and the list counts those. */
async function stoppedPartWay(page: Page, said: RegExp, picked: number): Promise<void> {
  const notice = page.getByRole('status').filter({ hasText: 'stopped as asked' });
  await expect(notice).toHaveText(said);
  const [deleted, kept] = said.exec((await notice.textContent())!)!.slice(1).map((n) => Number(n.replace(/,/g, '')));
  expect(deleted! + kept!).toBe(picked);
  expect(kept).toBeGreaterThan(0);
  await expect(page.getByRole('region', { name: 'Entries' }).getByTestId('entries-count')).toHaveText(`${kept!.toLocaleString('en-US')} ${kept === 1 ? 'entry' : 'entries'}`);
}

test('a bulk delete goes on in main through a reload: the reloaded page shows how far it has got, and its Stop keeps the rest', async ({ page }) => {
  await deletingAll(page, 8000, async () => {
    await page.reload();
    const running = page.getByRole('region', { name: 'Also running, started in another window or before this page was reloaded' });
    await expect(running.getByText('Deleting picked entries in namespace bulk')).toBeVisible();
    await expect(running.getByRole('progressbar', { name: 'Deleting picked entries in namespace bulk: progress' })).toBeVisible();
    await expect(running.getByText(/^[\d,]+ of 8,000 entries done$/)).toBeVisible();
    await screenshot(page, 'entries-delete-after-reload');
    await noSeriousAxeViolations(page, 'a delete running from before a reload');
    await running.getByRole('button', { name: 'Stop deleting picked entries in namespace bulk' }).click();
    await expect(running).toBeHidden();
    await stoppedPartWay(page, /^Deleting picked entries in namespace bulk \(started in another window or before a reload\): stopped as asked: deleted ([\d,]+) entries of the 8,000 picked; the ([\d,]+) not reached are kept/, 8000);
  });
});

test('a bulk delete of thousands shows how far it has got, and Stop keeps the rest, saying how many went', async ({ page }) => {
  await deletingAll(page, 4000, async (dialog, entries) => {
    await expect(dialog.getByRole('progressbar', { name: 'Entries deleted' })).toBeVisible();
    await dialog.getByRole('button', { name: 'Stop' }).click();
    await expect(dialog).toBeHidden();
    await stoppedPartWay(page, /^Deleting in namespace bulk stopped as asked: deleted ([\d,]+) entries of the 4,000 picked; the ([\d,]+) not reached are kept/, 4000);
    // Nothing picked now: Delete… is off, and looks it.
    const deleteButton = entries.getByRole('button', { name: 'Delete…' });
    await expect(deleteButton).toBeDisabled();
    await expect(deleteButton).toHaveCSS('opacity', '0.5');
  });
});
