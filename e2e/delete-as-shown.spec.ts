import { execFileSync } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { expect, test } from './bridge';

// "Delete all 2 versions" deleted a third one another program (the CLI, the service) had stored since
// the panel showed two: the operator lost a version they were never shown.
// Content of its own: the worker's store is shared with other spec files.
const text = `quarterly numbers ${randomUUID()}\n`;
const HELLO = path.join(mkdtempSync(path.join(process.env.E2E_ROOT ?? '/tmp', 'shown-')), 'report.txt');
writeFileSync(HELLO, text);
const helloHash = createHash('sha256').update(text).digest('hex').slice(0, 16);
const CLI = path.resolve(import.meta.dirname, '../scripts/cli.mjs');

test('Delete all N versions deletes those shown: one stored since by another program refuses it, and the panel then shows it', async ({ page, bridge }) => {
  const cli = (...args: string[]) => execFileSync(process.execPath, [CLI, '--store', bridge.storeDir, '--ns', 'shown', ...args], { encoding: 'utf8' });
  cli('store', HELLO);
  cli('store', HELLO);
  await page.goto(bridge.url);
  await page.getByRole('region', { name: 'Namespaces' }).getByRole('option', { name: /^shown/ }).click();
  const lookup = page.getByLabel('Look up hash or cache id');
  await lookup.fill(helloHash);
  await lookup.press('Enter');
  const entry = page.getByRole('region', { name: 'Entry' });
  const versions = page.getByRole('region', { name: 'Versions' }).locator('tbody').getByRole('row');
  await expect(versions).toHaveCount(2);

  cli('store', HELLO); // v3, which this page has not heard of
  const confirm = entry.getByRole('alertdialog', { name: 'Delete entry' });
  await entry.getByRole('button', { name: 'Delete…' }).click();
  await confirm.getByRole('button', { name: 'Delete all 2 versions' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Could not delete' })).toHaveText(
    new RegExp(`Could not delete: ${helloHash} changed since it was shown \\(3 versions now, 2 shown\\): nothing of it was deleted; look at its versions again`),
  );
  await expect(versions).toHaveCount(3); // the panel reads the entry again
  expect(cli('--json', 'versions', helloHash)).toContain(`${helloHash}-v3`);

  await entry.getByRole('button', { name: 'Delete…' }).click();
  await confirm.getByRole('button', { name: 'Delete all 3 versions' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Deleted' })).toContainText(`Deleted ${helloHash}-v1, ${helloHash}-v2, ${helloHash}-v3: no version of it is left`);
});
