import { mkdtempSync } from 'node:fs';
import * as path from 'node:path';
import { expect, test } from '@playwright/test';
import { startWeb, type RunningBridge } from './bridge';

// `npm run web` stopped and started again on the same port has a new token: the page's cookie is
// refused (401). The page kept its lists and said nothing until the next click failed. The 401s and
// the refused reconnects are expected in its console here, so this spec does not fail on them.
test.describe.configure({ timeout: 300_000 });

test('a bridge restarted on the same port: the connection bar says the token was refused, with no click', async ({ page }) => {
  test.setTimeout(300_000); // `npm run web` builds the renderer first: slow on a loaded machine
  const store = mkdtempSync(path.join(process.env.E2E_ROOT ?? '/tmp', 'restart-'));
  let bridge: RunningBridge | undefined = await startWeb(store);
  try {
    const port = new URL(bridge.url).port;
    await page.goto(bridge.url);
    const bar = page.getByRole('banner');
    await expect(bar.getByTestId('store-layout')).toBeVisible();
    await expect(page.getByRole('region', { name: 'Namespaces' })).toBeVisible();
    await expect(bar.getByTestId('access-refused')).toHaveCount(0);

    await bridge.stop();
    bridge = undefined;
    bridge = await startWeb(store, ['--port', port]); // the last --port given is the one taken
    expect(new URL(bridge.url).port).toBe(port);

    // Nothing is clicked: the page's event stream reconnects, is refused, and the bar says so.
    const refused = bar.getByTestId('access-refused');
    await expect(refused).toBeVisible({ timeout: 20_000 });
    await expect(refused).toHaveText(/^Not connected: the bridge refused this page's token \(it was restarted, or its token changed\): open the URL it printed$/);
    await expect(refused).toHaveAttribute('role', 'alert');
    // Nothing else says the connection works: no layout badge, and storing is off.
    await expect(bar.getByTestId('store-layout')).toHaveCount(0);
    await expect(page.getByRole('button', { name: 'Drop files to store' })).toHaveAttribute('aria-disabled', 'true');

    // Opening the URL the new bridge printed brings the page back.
    await page.goto(bridge.url);
    await expect(bar.getByTestId('store-layout')).toBeVisible();
    await expect(bar.getByTestId('access-refused')).toHaveCount(0);
  } finally {
    await page.goto('about:blank');
    await bridge?.stop();
  }
});

test('a bridge stopped: the connection bar says so with no click, not that the store is missing, and takes no drop', async ({ page }) => {
  test.setTimeout(300_000);
  const store = mkdtempSync(path.join(process.env.E2E_ROOT ?? '/tmp', 'stopped-'));
  const bridge = await startWeb(store);
  try {
    await page.goto(bridge.url);
    const bar = page.getByRole('banner');
    await expect(bar.getByTestId('store-layout')).toBeVisible();
    await bridge.stop();

    // The event stream's retries find no bridge: said at once ("Store missing or unreachable: … Failed to fetch" before).
    const gone = bar.getByTestId('access-refused');
    await expect(gone).toHaveText('Not connected: the bridge has stopped (npm run web is no longer running): start it again and open the URL it prints', { timeout: 20_000 });
    await expect(bar.getByTestId('store-problem')).toHaveCount(0);
    await expect(bar.getByTestId('store-layout')).toHaveCount(0);
    await expect(page.getByRole('button', { name: 'Drop files to store' })).toHaveAttribute('aria-disabled', 'true');
  } finally {
    await page.goto('about:blank');
  }
});
