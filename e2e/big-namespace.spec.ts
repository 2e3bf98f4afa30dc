import { expect, startWeb, screenshot, test, type RunningBridge } from './bridge';

let bridge: RunningBridge;
test.beforeAll(async () => {
  bridge = await startWeb(process.env.E2E_BIG_STORE!);
});
test.afterAll(async () => bridge.stop());

test('a 100,000-entry namespace renders its first rows fast and scrolls through pages', async ({ page }) => {
  await page.goto(bridge.url);
  const namespaces = page.getByRole('region', { name: 'Namespaces' });
  await namespaces.getByLabel('Filter namespaces').fill('big');
  const started = Date.now();
  await namespaces.getByRole('button', { name: 'Use new namespace “big”' }).or(namespaces.getByRole('option', { name: /^big/ })).first().click();
  const entries = page.getByRole('region', { name: 'Entries' });
  await expect(entries.getByRole('option').first()).toContainText(/[0-9a-f]{16}/);
  console.log(`first rows of the 100,000-entry namespace after ${Date.now() - started} ms`);
  await screenshot(page, '08-big-namespace');

  const list = entries.getByRole('listbox', { name: 'Entry list' });
  const firstHash = await entries.getByRole('option').first().locator('code').textContent();
  for (let i = 0; i < 8; i++) {
    await list.evaluate((el) => el.scrollBy(0, el.scrollHeight));
    await page.waitForTimeout(150);
  }
  // Virtualized: a few dozen rows in the DOM however many are loaded.
  expect(await entries.getByRole('option').count()).toBeLessThan(120);
  await expect(entries.getByRole('option').last()).toContainText(/[0-9a-f]{16}|Loading more/);
  const header = await entries.locator('.panel-head').textContent();
  expect(header).toMatch(/100,000 entries|[\d,]+\+? loaded/);
  expect(await entries.getByRole('option').first().locator('code').textContent()).not.toBe(firstHash);

  // On a laptop-sized window a row still shows its whole stored-at minute, not an ellipsis.
  await page.setViewportSize({ width: 1280, height: 800 });
  const time = entries.getByRole('option').first().locator('.time');
  await expect(time).toHaveText(/^\d{4}-\d\d-\d\d \d\d:\d\d$/);
  expect(await time.evaluate((el) => el.scrollWidth <= el.clientWidth)).toBe(true);

  // Keyboard: the list takes arrow keys and Enter opens the entry.
  await list.focus();
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('Enter');
  await expect(page.getByRole('region', { name: 'Entry' }).getByTestId('entry-cache-id')).toHaveText(/-v1$/);
});
