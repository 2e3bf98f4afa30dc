import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { expect, startWeb, test, type RunningBridge } from './bridge';

// Issue 15: the printed URL's token becomes an HttpOnly cookie, and another site cannot use the
// bridge even when it knows the token. One store of its own, so the other specs' stores are not touched.
test.describe.configure({ mode: 'serial' });

let bridge: RunningBridge;

test.beforeAll(async () => {
  bridge = await startWeb(mkdtempSync(path.join(process.env.E2E_ROOT ?? '/tmp', 'token-')));
});
test.afterAll(async () => bridge?.stop());

const namespacesOf = (page: import('@playwright/test').Page) =>
  page.evaluate(async () => (await (await fetch('/api/call/namespaceNames', { method: 'POST', body: '{}' })).json()) as { ok: boolean; value?: { names: string[] } });

test('opening the printed URL leaves an HttpOnly SameSite cookie and a URL without the token; events and downloads run on it', async ({ page, context }) => {
  const events = page.waitForResponse((r) => r.url().endsWith('/api/events'));
  await page.goto(bridge.url);
  expect(page.url()).toBe(`${new URL(bridge.url).origin}/`);
  expect((await events).status()).toBe(200);
  const port = new URL(bridge.url).port;
  expect(await context.cookies()).toEqual([expect.objectContaining({ name: `cache-admin-token-${port}`, httpOnly: true, sameSite: 'Strict', path: '/' })]);
  expect(await page.evaluate(() => document.cookie)).toBe(''); // page script never sees the token

  const stored = await page.evaluate(async () => {
    const body = JSON.stringify({ namespace: 'default', name: 'note.txt', base64: btoa('saved through the cookie') });
    return (await (await fetch('/api/call/storeBytes', { method: 'POST', body })).json()) as { value: { hash: string } };
  });
  const lookup = page.getByLabel('Look up hash or cache id');
  await lookup.fill(stored.value.hash);
  await lookup.press('Enter');
  const download = page.waitForEvent('download');
  await page.getByRole('button', { name: 'Save to file…' }).click();
  expect(readFileSync(await (await download).path(), 'utf8')).toBe('saved through the cookie');
});

test('a page on another port of 127.0.0.1, which gets the cookie, cannot store even with the token', async ({ page, context }) => {
  await page.goto(bridge.url);
  // Cookies ignore ports and SameSite counts every port of 127.0.0.1 as the same site: only the Origin check stops this page.
  const other = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>another app</title>'));
  await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
  const evil = await context.newPage(); // its refused request would count as an error of the app's page
  try {
    await evil.goto(`http://127.0.0.1:${(other.address() as AddressInfo).port}/`);
    const url = new URL(bridge.url);
    // The answer never reaches this page (CORP), but it came: what counts is that the bridge stored nothing.
    const failed = evil.waitForEvent('requestfailed');
    await evil.evaluate(async (target) => {
      const body = JSON.stringify({ namespace: 'planted', name: 'x', base64: btoa('planted') });
      await fetch(target, { method: 'POST', mode: 'no-cors', credentials: 'include', headers: { 'content-type': 'text/plain' }, body }).catch(() => null);
    }, `${url.origin}/api/call/storeBytes?token=${url.searchParams.get('token')}`);
    expect((await failed).failure()?.errorText).toContain('ERR_BLOCKED_BY_RESPONSE');
  } finally {
    await evil.close();
    other.close();
  }
  expect(await namespacesOf(page)).toMatchObject({ ok: true, value: { names: expect.not.arrayContaining(['planted']) } });
});
