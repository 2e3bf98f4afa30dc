import AxeBuilder from '@axe-core/playwright';
import { mkdtempSync } from 'node:fs';
import * as path from 'node:path';
import { dropFiles, expect, screenshot, startWeb, test, type RunningBridge } from './bridge';
import type { Page } from '@playwright/test';

// Every screen and dialog at a laptop size and a big screen: usable panels, screenshots, and axe-core
// (light and dark) with no serious or critical violation. A store of its own with two entries.
test.describe.configure({ mode: 'serial', timeout: 300_000 });

const FILES = ['files/hello.txt', 'files/config.json'].map((f) => path.join(import.meta.dirname, f));
const SIZES = [
  { name: '1024x700', width: 1024, height: 700 },
  { name: '1920x1080', width: 1920, height: 1080 },
];

let bridge: RunningBridge;
test.beforeAll(async () => {
  test.setTimeout(300_000); // `npm run web` builds the renderer first: slow on a loaded machine
  bridge = await startWeb(mkdtempSync(path.join(process.env.E2E_ROOT ?? '/tmp', 'screens-store-')));
});
test.afterAll(async () => bridge?.stop());

/** Each screen, opened from the one before it; `open` leaves the page showing it. */
const SCREENS: { name: string; open: (page: Page) => Promise<void> }[] = [
  {
    name: 'browse',
    open: async (page) => {
      await page.getByRole('tab', { name: 'Browse' }).click();
      await page.getByRole('region', { name: 'Entries' }).getByRole('option').first().click();
      await expect(page.getByRole('region', { name: 'Versions' }).locator('tbody tr')).toHaveCount(1);
    },
  },
  {
    name: 'delete-confirm',
    open: async (page) => {
      await page.getByRole('region', { name: 'Entry' }).getByRole('button', { name: 'Delete…' }).click();
      await expect(page.getByRole('alertdialog', { name: 'Delete entry' })).toBeVisible();
    },
  },
  {
    name: 'layout',
    open: async (page) => {
      await page.getByRole('alertdialog', { name: 'Delete entry' }).getByRole('button', { name: 'Keep' }).click();
      await page.getByRole('region', { name: 'Entry' }).getByRole('list').getByRole('button').first().click();
      await expect(page.getByLabel('Key details')).toBeVisible();
      await expect(page.getByRole('grid', { name: 'Shard heatmap' })).toBeVisible();
    },
  },
  {
    name: 'stats',
    open: async (page) => {
      await page.getByRole('tab', { name: 'Stats' }).click();
      await expect(page.getByLabel('Namespace stats')).toBeVisible();
    },
  },
  {
    name: 'verify',
    open: async (page) => {
      await page.getByRole('tab', { name: 'Verify' }).click();
      await page.getByRole('region', { name: 'Verify' }).getByRole('button', { name: 'Verify', exact: true }).click();
      await expect(page.getByLabel('Verify report')).toContainText('No problems');
    },
  },
  {
    name: 'stores-dialog',
    open: async (page) => {
      await page.getByRole('button', { name: 'Stores…' }).click();
      await expect(page.getByRole('dialog', { name: 'Stores' })).toBeVisible();
    },
  },
  {
    name: 'add-folder-dialog',
    open: async (page) => {
      await page.getByRole('dialog', { name: 'Stores' }).getByRole('button', { name: 'Add local folder' }).click();
      await expect(page.getByRole('form', { name: 'Add local folder' })).toBeVisible();
    },
  },
  {
    name: 'add-s3-dialog',
    open: async (page) => {
      await page.getByRole('button', { name: 'Back' }).click();
      await page.getByRole('dialog', { name: 'Stores' }).getByRole('button', { name: 'Add S3 bucket' }).click();
      await expect(page.getByRole('form', { name: 'Add S3 bucket' })).toBeVisible();
    },
  },
];

test('stores two files to show', async ({ page }) => {
  await page.goto(bridge.url);
  await dropFiles(page, 'main', FILES);
  await expect(page.getByRole('region', { name: 'Transfers' }).getByText('new content', { exact: true })).toHaveCount(2);
});

/** Opens every screen in turn; `each` runs on each one (a screenshot, an axe run). */
async function visitScreens(page: Page, each: (name: string) => Promise<void>): Promise<void> {
  await page.goto(bridge.url);
  for (const screen of SCREENS) {
    await screen.open(page);
    await each(screen.name);
  }
}

for (const size of SIZES) {
  test(`screenshots of every screen and dialog at ${size.name}`, async ({ page }) => {
    test.setTimeout(300_000); // the shared 2-core machine runs at a load of ~20
    await page.setViewportSize(size);
    await visitScreens(page, (name) => screenshot(page, `screen-${size.name}-${name}`));
  });
}

// Colors and names do not depend on the window size: axe runs at the laptop size, in both themes.
for (const theme of ['light', 'dark'] as const) {
  test(`every screen and dialog in the ${theme} theme: no serious or critical axe violation`, async ({ page }) => {
    test.setTimeout(600_000); // eight axe runs take ~40 s each on a loaded 2-core machine
    await page.setViewportSize(SIZES[0]!);
    await page.emulateMedia({ colorScheme: theme });
    const found: string[] = [];
    await visitScreens(page, async (name) => {
      const { violations } = await new AxeBuilder({ page }).analyze();
      for (const v of violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')) {
        found.push(`${name}: ${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
      }
    });
    expect(found).toEqual([]);
  });
}

test('at 1024x700 every panel keeps a usable size, and the transfers column folds to a button', async ({ page }) => {
  await page.setViewportSize({ width: 1024, height: 700 });
  await page.goto(bridge.url);
  await SCREENS[0]!.open(page);
  const box = async (name: string) => (await page.getByRole('region', { name, exact: true }).boundingBox())!;
  for (const [name, width, height] of [
    ['Namespaces', 180, 300],
    ['Entries', 320, 300],
    ['Entry', 320, 220],
    ['Versions', 320, 120],
  ] as const) {
    const b = await box(name);
    expect(b.width, `${name} width`).toBeGreaterThanOrEqual(width);
    expect(b.height, `${name} height`).toBeGreaterThanOrEqual(height);
  }
  // Nothing spills out of the window, and the entry's storage keys wrap inside their panel.
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(1024);
  // The top bar keeps one row (the theme toggle beside the store picker), and the date filter's two
  // fields stay together on one line, after the word that says what they filter.
  const spread = (selector: string) =>
    page.evaluate((s) => {
      const middles = [...document.querySelectorAll(s)].filter((e) => e.getBoundingClientRect().height > 0).map((e) => e.getBoundingClientRect().top + e.getBoundingClientRect().height / 2);
      return { count: middles.length, spread: Math.max(...middles) - Math.min(...middles) };
    }, selector);
  expect((await spread('.topbar > *')).spread).toBeLessThan(8);
  const dates = await spread('.entry-date-range > *');
  expect(dates.count).toBe(4);
  expect(dates.spread).toBeLessThan(8);
  await expect(page.locator('.entry-date-range')).toContainText('Stored');
  const keysSpill = await page.evaluate(() =>
    [...document.querySelectorAll('.keys .link')].filter((key) => key.getBoundingClientRect().right > key.closest('.keys')!.getBoundingClientRect().right + 1).map((key) => key.textContent),
  );
  expect(keysSpill).toEqual([]);
  // The versions table fits its panel (about 330 px here, 390 at 1920): the cache id (shown in the
  // Entry panel) moves into the version's tooltip, and the store time's clock goes under its date.
  const versionsTable = async () =>
    page.evaluate(() => {
      const scroll = document.querySelector('.versions-panel .table-scroll')!;
      const heads = [...scroll.querySelectorAll('th')].filter((h) => getComputedStyle(h).display !== 'none');
      return { sideways: scroll.scrollWidth - scroll.clientWidth, columns: heads.map((h) => h.textContent) };
    });
  expect(await versionsTable()).toEqual({ sideways: 0, columns: ['Version', 'Stored at', 'Size', 'Source'] });
  await expect(page.getByRole('region', { name: 'Versions' }).locator('tbody .clock').first()).toBeVisible();
  await expect(page.getByRole('region', { name: 'Versions' }).locator('tbody td').first()).toHaveAttribute('title', /-v1$/);
  await expect(page.getByRole('region', { name: 'Transfers' })).toBeHidden();
  await page.getByRole('button', { name: 'Transfers' }).click();
  const transfers = await box('Transfers');
  expect(transfers.width).toBeGreaterThanOrEqual(300);
  await screenshot(page, 'screen-1024x700-transfers-open');
  await page.getByRole('button', { name: 'Transfers' }).click(); // it lies over the view: fold it again
  await expect(page.getByRole('region', { name: 'Transfers' })).toBeHidden();
  // Escape folds it too, from the button or from inside it, and leaves focus on the button.
  await page.getByRole('button', { name: 'Transfers' }).click();
  await page.getByRole('region', { name: 'Transfers' }).getByRole('button').first().focus();
  await page.keyboard.press('Escape');
  await expect(page.getByRole('region', { name: 'Transfers' })).toBeHidden();
  await expect(page.getByRole('button', { name: 'Transfers' })).toBeFocused();

  await page.getByRole('tab', { name: 'Layout' }).click();
  for (const label of ['Storage keys', 'Shard heatmap']) {
    const b = (await page.getByLabel(label, { exact: true }).boundingBox())!;
    expect(b.width, `${label} width`).toBeGreaterThanOrEqual(280);
  }

  // A big screen shows the transfers column beside the lists, no button needed; versions fit as well.
  await page.setViewportSize({ width: 1920, height: 1080 });
  await expect(page.getByRole('button', { name: 'Transfers' })).toBeHidden();
  await page.getByRole('tab', { name: 'Browse' }).click();
  expect(await versionsTable()).toEqual({ sideways: 0, columns: ['Version', 'Stored at', 'Size', 'Source'] });
  await expect(page.getByRole('region', { name: 'Versions' }).locator('tbody .clock').first()).toBeVisible();
  expect((await box('Transfers')).width).toBeGreaterThanOrEqual(340);
});

test('the entries list shows each column it keeps whole, at every window width from 1024 to 1920 px', async ({ page }) => {
  await page.goto(bridge.url);
  await SCREENS[0]!.open(page);
  // The widest badge a row shows ("content missing"), put before the first row's name as the list does.
  await page.evaluate(() => document.querySelector('.entry-row .name')!.insertAdjacentHTML('afterbegin', '<span class="badge expired" data-short="!">content missing</span>'));
  for (const width of [1024, 1280, 1366, 1440, 1600, 1920]) {
    await page.setViewportSize({ width, height: 800 });
    const shown = await page.evaluate(() => {
      const list = document.querySelector('.entries-panel')!.getBoundingClientRect();
      const visible = (e: Element) => getComputedStyle(e).display !== 'none';
      const heads = [...document.querySelectorAll('.entry-columns button')].filter(visible);
      const cells = [...document.querySelector('.entry-row')!.children].filter(visible);
      return {
        columns: heads.map((h) => h.textContent!.replace(/[▲▼]/g, '').trim()),
        clipped: [...heads, ...cells].filter((e) => e.getBoundingClientRect().right > list.right).map((e) => e.textContent),
        cutHeads: heads.filter((h) => h.scrollWidth > h.clientWidth + 1).map((h) => h.textContent),
        nameWidth: document.querySelector('.entry-row .name')!.getBoundingClientRect().width,
        badgeWidth: document.querySelector('.entry-row .name .badge')!.getBoundingClientRect().width,
      };
    });
    // Beside a badge, the name still shows (at 1024 px the badge shrinks to its mark).
    expect(shown.nameWidth - shown.badgeWidth, `${width} px`).toBeGreaterThanOrEqual(45);
    expect(shown.clipped, `${width} px`).toEqual([]);
    // Every head shows whole ("Versions" read "Ver" at 1920 px beside an empty name column, and at 1280 px).
    expect(shown.cutHeads, `${width} px`).toEqual([]);
    // Names keep room for ten characters (at 1024 px the store time shows its date only; before, 40 px).
    expect(shown.nameWidth, `${width} px`).toBeGreaterThanOrEqual(70);
    // A narrow list drops only the Type column.
    expect(shown.columns, `${width} px`).toEqual(expect.arrayContaining(['Hash', 'Name', 'Size', 'Versions', 'Stored']));
  }
});

test("the lookup box's hint shows whole at every window width from 1024 to 1920 px, and its shortcut is said", async ({ page }) => {
  await page.goto(bridge.url);
  for (const width of [1024, 1280, 1366, 1440, 1600, 1920]) {
    await page.setViewportSize({ width, height: 800 });
    const fit = await page.evaluate(() => {
      const input = document.querySelector<HTMLInputElement>('form[role="search"] input')!;
      const style = getComputedStyle(input);
      const context = document.createElement('canvas').getContext('2d')!;
      context.font = style.font;
      const room = input.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
      return { text: context.measureText(input.placeholder).width, room };
    });
    // At 1440 px the hint, with its shortcut, was cut after "( / or"; at 1024 px after "storage".
    expect(fit.text, `${width} px`).toBeLessThanOrEqual(fit.room);
  }
  await expect(page.getByRole('searchbox', { name: 'Look up hash or cache id' }).or(page.getByRole('textbox', { name: 'Look up hash or cache id' }))).toHaveAttribute('aria-keyshortcuts', '/ Control+K');
});

test('dialogs keep focus inside and give it back to what opened them', async ({ page }) => {
  await page.goto(bridge.url);
  const opener = page.getByRole('button', { name: 'Stores…' });
  await opener.click();
  const dialog = page.getByRole('dialog', { name: 'Stores' });
  await expect(dialog.getByRole('button', { name: 'Close' })).toBeFocused();
  const inside = () => page.evaluate(() => Boolean(document.activeElement?.closest('dialog')));
  for (let i = 0; i < 8; i++) {
    await page.keyboard.press('Tab');
    expect(await inside(), `after ${i + 1} Tab`).toBe(true);
  }
  for (let i = 0; i < 8; i++) {
    await page.keyboard.press('Shift+Tab');
    expect(await inside(), `after ${i + 1} Shift+Tab`).toBe(true);
  }
  await dialog.getByRole('button', { name: 'Add local folder' }).click();
  await expect(page.getByRole('form', { name: 'Add local folder' }).getByLabel('Name')).toBeFocused();
  await page.keyboard.press('Escape'); // back to the list
  await expect(dialog.getByRole('button', { name: 'Add local folder' })).toBeVisible();
  await page.keyboard.press('Escape');
  await expect(dialog).toBeHidden();
  await expect(opener).toBeFocused();
});
