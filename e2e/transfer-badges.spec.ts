import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { dropFiles, expect, test } from './bridge';

test('a long result badge wraps inside its transfer card at 1440 px (it ran past the panel, its end unreadable)', async ({ page, bridge }) => {
  await page.setViewportSize({ width: 1440, height: 900 });
  const text = `stored again after its content was lost ${Date.now()}\n`;
  const file = path.join(mkdtempSync(path.join(process.env.E2E_ROOT ?? '/tmp', 'badge-')), 'report.txt');
  writeFileSync(file, text);
  const hash = createHash('sha256').update(text).digest('hex').slice(0, 16);
  await page.goto(bridge.url);
  const transfers = page.getByRole('region', { name: 'Transfers' });
  await dropFiles(page, '[aria-label="Drop files to store"]', [file]);
  await expect(transfers.getByRole('listitem').first()).toContainText(`${hash}-v1`);
  // The content lost by hand: the next drop stores it again, and says so at length.
  rmSync(path.join(bridge.storeDir, 'default', 'objects', hash.slice(0, 2), hash.slice(2, 4), hash));
  await dropFiles(page, '[aria-label="Drop files to store"]', [file]);
  const badge = transfers.getByRole('listitem').first().getByText('new version v2; its content was missing or damaged, and is stored again');
  await expect(badge).toBeVisible();
  const [inner, outer] = [(await badge.boundingBox())!, (await transfers.boundingBox())!];
  expect(inner.x + inner.width).toBeLessThanOrEqual(outer.x + outer.width);
});
