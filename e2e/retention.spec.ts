import AxeBuilder from '@axe-core/playwright';
import { mkdtempSync } from 'node:fs';
import * as path from 'node:path';
import type { Page } from '@playwright/test';
import { LocalFolderStorage } from '../src-main/core/storage/local';
import { populateNamespace } from '../src-main/test-support/fixture-store';
import { dropFiles, expect, screenshot, startWeb, test, type RunningBridge } from './bridge';

// Issue #19 in the app: set a TTL, see expired badges, preview the prune, prune with a confirmation, counts drop.
// The store starts with entries stored on 2026-01-01 (30 in "old", 3 in "other"); a fresh file is dropped into "old".
test.describe.configure({ mode: 'serial', timeout: 300_000 });

const HELLO = path.join(import.meta.dirname, 'files/hello.txt');
let bridge: RunningBridge;
let oldHash: string;

test.beforeAll(async () => {
  test.setTimeout(300_000); // `npm run web` builds the renderer first: slow on a loaded machine
  const storeDir = mkdtempSync(path.join(process.env.E2E_ROOT ?? '/tmp', 'retention-store-'));
  const storage = await LocalFolderStorage.open(storeDir);
  oldHash = (await populateNamespace(storage, 'old', 30))[0]!.hash;
  await populateNamespace(storage, 'other', 3);
  await storage.close();
  bridge = await startWeb(storeDir);
});
test.afterAll(async () => bridge?.stop());

async function noSeriousAxeViolations(page: Page, screen: string): Promise<void> {
  const { violations } = await new AxeBuilder({ page }).analyze();
  expect(violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${screen}: ${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`)).toEqual([]);
}

test('set a TTL, see expired badges, preview the prune, prune with confirmation, counts drop', async ({ page }) => {
  await page.goto(bridge.url);
  const namespaces = page.getByRole('region', { name: 'Namespaces' });
  const row = (name: string) => namespaces.getByRole('option', { name: new RegExp(`^${name}`) });
  await row('old').click();
  await expect(row('old')).toContainText('30 entries');
  await dropFiles(page, '[aria-label="Drop files to store"]', [HELLO]);
  await expect(row('old')).toContainText('31 entries');
  await expect(row('other')).toContainText('3 entries');

  await page.getByRole('tab', { name: 'Retention' }).click();
  const panel = page.getByRole('region', { name: 'Retention' });
  await expect(panel.getByTestId('store-ttl')).toHaveText('keep forever');
  await expect(panel.getByText(/Nothing to prune/)).toBeVisible();

  // A bad AGE is refused by main with its typed error; nothing changes.
  await panel.getByLabel('TTL').fill('12');
  await panel.getByRole('button', { name: 'Save policy' }).click();
  await expect(panel.getByRole('alert')).toContainText('Invalid input: ');
  await expect(panel.getByTestId('store-ttl')).toHaveText('keep forever');

  await panel.getByLabel('Store-wide').check();
  await panel.getByLabel('TTL').fill('30d');
  await panel.getByRole('button', { name: 'Save policy' }).click();
  await page.getByRole('dialog', { name: 'Confirm TTL' }).getByRole('button', { name: 'Save policy' }).click();
  await expect(panel.getByTestId('store-ttl')).toHaveText('30d');
  await expect(panel.getByTestId('namespace-ttl')).toHaveText('store-wide');
  await expect(panel.getByTestId('plan-summary')).toContainText('30 versions of 30 hashes would go (30 hashes gone entirely');
  await expect(panel.getByRole('table', { name: 'Versions to prune' }).locator('tbody tr')).toHaveCount(30);
  await screenshot(page, '19-retention-plan');
  await noSeriousAxeViolations(page, 'retention');

  // Expired badges, and the preview withheld until the operator asks for it anyway.
  await page.getByLabel('Look up hash or cache id').fill(oldHash);
  await page.getByLabel('Look up hash or cache id').press('Enter');
  await page.getByRole('tab', { name: 'Browse' }).click();
  // The entries list marks expired entries too (the row of the lookup), not the file dropped today.
  const list = page.getByRole('listbox', { name: 'Entry list' });
  await expect(list.getByRole('option', { name: new RegExp(oldHash) })).toContainText('expired');
  await page.getByLabel('Filter by name or hash').fill('hello');
  await expect(list.getByRole('option')).toHaveCount(1);
  await expect(list.getByRole('option')).not.toContainText('expired');
  await page.getByLabel('Filter by name or hash').fill('');
  const entry = page.getByRole('region', { name: 'Entry' });
  await expect(entry.getByTestId('entry-expiry')).toContainText('expired');
  await expect(page.getByRole('region', { name: 'Versions' }).locator('tbody tr')).toContainText('expired');
  await expect(entry.getByTestId('expired-withheld')).toContainText('Expired:');
  await expect(entry.getByLabel('Preview')).toHaveCount(0);
  await noSeriousAxeViolations(page, 'expired entry');
  await entry.getByRole('button', { name: 'Show anyway' }).click();
  await expect(entry.getByLabel('Preview')).toContainText('fixture entry 0 of old');

  // Prune, behind a confirmation: only "old" loses its expired versions; the fresh file and "other" stay.
  await page.getByRole('tab', { name: 'Retention' }).click();
  await panel.getByRole('button', { name: 'Prune 30 versions…' }).click();
  const dialog = page.getByRole('dialog', { name: 'Confirm prune' });
  await expect(dialog).toContainText('Prune 30 versions from old?');
  await expect(dialog.getByRole('button', { name: 'Keep them' })).toBeFocused();
  await noSeriousAxeViolations(page, 'prune confirmation');
  await dialog.getByRole('button', { name: 'Prune', exact: true }).click();
  await expect(panel.getByTestId('prune-summary')).toHaveText(/^Pruned 30 versions from old \(30 hashes gone entirely, [\d.]+ [kK]?B freed\)\.$/);
  await expect(panel.getByText(/Nothing to prune/)).toBeVisible();
  await expect(row('old')).toContainText('1 entry');
  await expect(row('other')).toContainText('3 entries');
  await screenshot(page, '19-retention-pruned');
});
