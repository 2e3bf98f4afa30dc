import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { Page } from '@playwright/test';
import { expect, screenshot, startWeb, test, type RunningBridge } from './bridge';

// The entries list's Name column: the files of one folder drop showed alike ("photos/2024…"), cut at
// their end, with the hash column wider than the names. A store of its own: 50 files of one folder,
// and the same files in a namespace whose entries have expired (a badge beside each name).
test.describe.configure({ mode: 'serial', timeout: 300_000 });

const REPO_ROOT = path.resolve(import.meta.dirname, '..');
const NAMES = Array.from({ length: 50 }, (_, i) => `photos/2024/summer/beach-${String(i + 1).padStart(3, '0')}.jpg`);

let bridge: RunningBridge;

test.beforeAll(async () => {
  test.setTimeout(300_000); // `npm run web` builds the renderer first: slow on a loaded machine
  const root = mkdtempSync(path.join(process.env.E2E_ROOT ?? '/tmp', 'names-'));
  const drop = path.join(root, 'drop');
  const store = path.join(root, 'store');
  mkdirSync(path.join(drop, 'photos/2024/summer'), { recursive: true });
  mkdirSync(store);
  for (const name of NAMES) writeFileSync(path.join(drop, name), `the picture ${name}`);
  const cli = (...args: string[]) => execFileSync(process.execPath, [path.join(REPO_ROOT, 'scripts/cli.mjs'), '--store', store, ...args], { cwd: drop, stdio: 'pipe' });
  cli('--ns', 'default', 'store', 'photos'); // recorded under their paths in the folder, as a folder drop is
  cli('--ns', 'old', 'store', 'photos');
  cli('--ns', 'old', 'policy', 'set', '--ttl', '1s');
  await new Promise((r) => setTimeout(r, 1500));
  bridge = await startWeb(store);
});
test.afterAll(async () => bridge?.stop());

/**
 * For each row on show: its full name, and whether the file's name (`beach-001.jpg`; its last `fileEnd`
 * characters) lies whole in the box the name is clipped to, clear of an ellipsis; also the characters of
 * the name that are on show.
 */
function namesOnShow(page: Page, fileEnd: number) {
  return page.evaluate((fileEnd) => {
    const ellipsis = 14; // a "…" at 12 px, with a pixel to spare
    return [...document.querySelectorAll('.entry-row')].flatMap((row) => {
      const cell = row.querySelector('.name');
      const full = cell?.getAttribute('title');
      if (!cell || !full) return [];
      const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
      let text: Text | null = null;
      while (walker.nextNode()) if ((walker.currentNode as Text).data.includes(full)) text = walker.currentNode as Text;
      if (!text) return [{ full, fileShown: false, shown: '' }];
      // The box the name is clipped to: every box that hides overflow, from the text up to its cell.
      let clip = cell.getBoundingClientRect();
      let overflows = false;
      for (let el: Element | null = text.parentElement; el && el !== row; el = el.parentElement) {
        if (getComputedStyle(el).overflow === 'visible') continue;
        const r = el.getBoundingClientRect();
        clip = new DOMRect(Math.max(clip.left, r.left), r.top, Math.min(clip.right, r.right) - Math.max(clip.left, r.left), r.height);
        overflows ||= el.scrollWidth > el.clientWidth;
      }
      const start = text.data.indexOf(full);
      const rectOf = (from: number, to: number) => {
        const range = document.createRange();
        range.setStart(text, start + from);
        range.setEnd(text, start + to);
        return range.getBoundingClientRect();
      };
      // Where the name is cut, an ellipsis covers that edge: what lies under it is not on show.
      const whole = rectOf(0, full.length);
      const left = clip.left + (overflows && whole.left < clip.left - 0.5 ? ellipsis : 0) - 0.5;
      const right = clip.right - (overflows && whole.right > clip.right + 0.5 ? ellipsis : 0) + 0.5;
      const inside = (r: DOMRect) => r.left >= left && r.right <= right;
      const file = full.slice(full.lastIndexOf('/') + 1).slice(-fileEnd);
      const fileShown = inside(rectOf(full.length - file.length, full.length));
      let shown = '';
      for (let i = 0; i < full.length; i++) if (inside(rectOf(i, i + 1))) shown += full[i];
      return [{ full, fileShown, shown }];
    });
  }, fileEnd);
}

for (const size of [
  { width: 1440, height: 900 },
  { width: 1024, height: 700 },
]) {
  test(`at ${size.width}x${size.height} each row of one folder drop shows its own file name, beside an expired badge too, and keeps the whole name in its title and accessible name`, async ({ page }) => {
    await page.setViewportSize(size);
    await page.goto(bridge.url);
    for (const namespace of ['default', 'old']) {
      await page.getByRole('region', { name: 'Namespaces' }).getByRole('option', { name: new RegExp(`^${namespace}\\b`) }).click();
      const entries = page.getByRole('region', { name: 'Entries' });
      await expect(entries.getByTestId('entries-count')).toHaveText('50 entries');
      await expect(entries.getByRole('option').first()).toContainText('photos/2024/summer/beach-');
      if (namespace === 'old') await expect(entries.getByRole('option').first().locator('.badge.expired')).toBeVisible();
      await screenshot(page, `entry-names-${size.width}x${size.height}-${namespace}`);
      // The file's name whole; beside a badge in the narrowest list (about 60 px of name), its number and extension.
      const fileEnd = size.width >= 1440 || namespace === 'default' ? Infinity : '014.jpg'.length;
      const rows = await namesOnShow(page, fileEnd);
      expect(rows.length, 'rows on show').toBeGreaterThanOrEqual(10);
      expect(rows.filter((r) => !r.fileShown).map((r) => `${r.full} shows as "${r.shown}"`), `${namespace}: names whose file name is cut`).toEqual([]);
      expect(new Set(rows.map((r) => r.shown)).size, `${namespace}: rows that look alike: ${rows.map((r) => r.shown).join(' | ')}`).toBe(rows.length);
      // The whole name is still the row's, for a screen reader and under the pointer.
      const first = rows[0]!.full;
      expect(NAMES).toContain(first);
      await expect(entries.getByRole('option', { name: new RegExp(`\\b${first.replace(/[./]/g, '\\$&')}\\b`) })).toHaveCount(1);
      await expect(entries.locator(`.entry-row .name[title="${first}"]`)).toHaveCount(1);
      // The hash is whole, in a column no wider than its 16 digits need.
      const hash = await entries.locator('.entry-row .hash').first().evaluate((e) => ({ cut: e.scrollWidth > e.clientWidth, spare: e.getBoundingClientRect().width - (() => { const r = document.createRange(); r.selectNodeContents(e); return r.getBoundingClientRect().width; })() }));
      expect(hash.cut).toBe(false);
      expect(hash.spare).toBeLessThan(4);
    }
  });
}
