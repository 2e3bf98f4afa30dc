import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { EMULATOR_CREDENTIALS, type S3Endpoint, startS3 } from '../src-main/test-support/s3-emulator';
import { dropFiles, expect, openNamespace, screenshot, test } from './bridge';

const HELLO = path.join(import.meta.dirname, 'files/hello.txt');
const helloHash = createHash('sha256').update(readFileSync(HELLO)).digest('hex').slice(0, 16);

test.describe.configure({ mode: 'serial' });

let s3: S3Endpoint;
test.beforeAll(async () => {
  s3 = await startS3('e2e-stores');
});
test.afterAll(async () => s3?.stop());

test('adds an S3 bucket, says why it cannot connect, never shows the secret, stores into it, and removes it', async ({ page, bridge }) => {
  // s3rver checks the key id, not the signature, so a distinctive made-up secret can be traced; a
  // server that checks signatures needs its own secret, and a real endpoint the environment's pair.
  const accessKeyId = s3.real ? process.env.AWS_ACCESS_KEY_ID : s3.credentials!.accessKeyId;
  const ownSecret = s3.real ? process.env.AWS_SECRET_ACCESS_KEY : s3.credentials!.secretAccessKey;
  const secret = ownSecret === EMULATOR_CREDENTIALS.secretAccessKey ? 'e2e-Secret-7fQk2xZp' : ownSecret;
  test.skip(!accessKeyId || !secret, 'a real endpoint needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY');
  const bodies: string[] = [];
  page.on('response', async (response) => {
    if (response.headers()['content-type']?.includes('json')) bodies.push(await response.text().catch(() => ''));
  });

  await page.goto(bridge.url);
  await page.getByRole('button', { name: 'Stores…' }).click();
  const stores = page.getByRole('dialog', { name: 'Stores' });
  await expect(stores.getByRole('row', { name: /Command line/ })).toContainText('connected');
  await page.keyboard.press('Escape');
  await expect(stores).toBeHidden();
  await page.getByRole('button', { name: 'Stores…' }).click();
  await stores.getByRole('button', { name: 'Add S3 bucket' }).click();

  const form = page.getByRole('form', { name: 'Add S3 bucket' });
  await form.getByLabel('Name').fill('e2e bucket');
  await form.getByLabel('Bucket').fill(s3.bucket);
  await form.getByLabel('Prefix').fill(`e2e-${Date.now()}/`);
  await form.getByLabel('Region').fill(s3.region);
  if (s3.endpoint) await form.getByLabel('Endpoint').fill(s3.endpoint);
  await form.getByLabel('Path-style addressing').check();
  // The bridge has no keyring at all: the note says so without naming a backend.
  await expect(form.getByText(/No OS keyring here: keep the secret key on disk unencrypted/)).toBeVisible();
  await form.getByLabel('Access key id').fill('WRONGKEYID000000');
  await form.getByRole('textbox', { name: 'Secret key' }).fill(secret!);
  await form.getByRole('button', { name: 'Save and connect' }).click();
  // The form stays open with the reason, and the app stays on the store it was using.
  await expect(form.getByRole('alert')).toContainText(/Could not connect: .*denied/);
  await expect(page.getByLabel('Store profile')).toHaveValue('command-line');
  // A profile that could not connect is not kept.
  await expect(page.getByLabel('Store profile').locator('option', { hasText: 'e2e bucket' })).toHaveCount(0);
  await screenshot(page, '10-s3-connect-error');

  // Saving again under the same name replaces the profile.
  await form.getByLabel('Access key id').fill(accessKeyId!);
  await form.getByRole('textbox', { name: 'Secret key' }).fill(secret!);
  await form.getByRole('button', { name: 'Save and connect' }).click();
  await expect(form).toBeHidden();
  await expect(page.getByLabel('Store profile').locator('option:checked')).toHaveText(new RegExp(`^e2e bucket — s3://${s3.bucket}/e2e-`));
  await expect(page.getByText(/conditional writes: (supported|not supported)/)).toBeVisible();

  await dropFiles(page, 'main', [HELLO]);
  await expect(page.getByRole('region', { name: 'Transfers' }).getByRole('listitem').first()).toContainText(`${helloHash}-v1`);
  await expect(page.getByRole('region', { name: 'Namespaces' })).toContainText('1 entry');

  await page.getByRole('button', { name: 'Stores…' }).click();
  const s3Row = stores.getByRole('row', { name: /e2e bucket/ });
  await expect(s3Row).toContainText('connected');
  await expect(s3Row).toContainText(/secret kept until the app exits/); // the bridge has no OS keyring
  await expect(s3Row.getByRole('button', { name: 'Remove e2e bucket' })).toHaveCount(0); // not while connected
  await screenshot(page, '11-stores');
  expect(await page.content()).not.toContain(secret);
  for (const body of bodies) expect(body).not.toContain(secret);

  // Back to the command-line store, then remove the bucket's profile (its data stays in the bucket).
  await stores.getByRole('row', { name: /Command line/ }).getByRole('button', { name: 'Connect' }).click();
  await expect(stores).toBeHidden();
  await expect(page.getByLabel('Store profile')).toHaveValue('command-line');
  await page.getByRole('button', { name: 'Stores…' }).click();
  await s3Row.getByRole('button', { name: 'Remove e2e bucket' }).click();
  await s3Row.getByRole('button', { name: 'Confirm removal' }).click();
  await expect(stores.getByRole('row', { name: /e2e bucket/ })).toHaveCount(0);
  await expect(page.getByLabel('Store profile').locator('option', { hasText: 'e2e bucket' })).toHaveCount(0);
  // The default folder is always offered: it has no Remove button.
  await expect(stores.getByRole('row', { name: /Local folder/ }).getByRole('button', { name: /Remove/ })).toHaveCount(0);
});

test('adds another local folder, refusing a relative path', async ({ page, bridge }) => {
  const folder = mkdtempSync(path.join(process.env.E2E_ROOT ?? '/tmp', 'second-store-'));
  await page.goto(bridge.url);
  await page.getByRole('button', { name: 'Stores…' }).click();
  await page.getByRole('dialog', { name: 'Stores' }).getByRole('button', { name: 'Add local folder' }).click();
  const form = page.getByRole('form', { name: 'Add local folder' });
  await form.getByLabel('Name').fill('second folder');
  await form.getByLabel('Folder').fill('relative/store');
  await form.getByRole('button', { name: 'Save and connect' }).click();
  await expect(form.getByRole('alert')).toHaveText('Folder: must be an absolute path (a ~ is not expanded: write the folder out, such as /home/me/cache)');
  await expect(form.getByLabel('Folder')).toBeFocused();
  await form.getByLabel('Folder').fill(folder);
  await form.getByRole('button', { name: 'Save and connect' }).click();
  await expect(form).toBeHidden();
  await expect(page.getByLabel('Store profile').locator('option:checked')).toHaveText(`second folder — ${folder}`);
  await expect(page.getByRole('region', { name: 'Namespaces' })).toContainText('Nothing stored yet');
  await dropFiles(page, 'main', [HELLO]);
  await expect(page.getByRole('region', { name: 'Transfers' }).getByRole('listitem').first()).toContainText(`${helloHash}-v1`);
  expect(readFileSync(path.join(folder, 'default/objects', helloHash.slice(0, 2), helloHash.slice(2, 4), helloHash), 'utf8')).toBe(readFileSync(HELLO, 'utf8'));
});

test('a switch in one tab moves every other tab on the bridge to that store, and says so there', async ({ page, context, bridge }) => {
  await page.goto(bridge.url);
  const other = await context.newPage();
  await other.goto(bridge.url);
  await expect(other.getByLabel('Store profile').locator('option:checked')).toHaveText(/^second folder/);
  await page.getByLabel('Store profile').selectOption('command-line');
  await expect(page.getByLabel('Store profile')).toHaveValue('command-line');
  // The other tab follows at once (it showed the second folder, and would have dropped into this store under that name).
  await expect(other.getByText(/^Another window switched to .*: every panel here now shows that store\./)).toBeVisible();
  await expect(other.getByLabel('Store profile')).toHaveValue('command-line');
  // Its drop goes into the store it now shows (content no other test of this bridge stores).
  const dropped = path.join(mkdtempSync(path.join(process.env.E2E_ROOT ?? '/tmp', 'tab-drop-')), 'tab-b.txt');
  writeFileSync(dropped, `dropped from the other tab at ${Date.now()}\n`);
  const hash = createHash('sha256').update(readFileSync(dropped)).digest('hex').slice(0, 16);
  await openNamespace(other, 'default');
  await dropFiles(other, 'main', [dropped]);
  await expect(other.getByRole('region', { name: 'Transfers' }).getByRole('listitem').first()).toContainText(`${hash}-v1`);
  await expect(other.getByRole('region', { name: 'Transfers' }).getByRole('listitem').first()).toContainText('on Command line');
  expect(readFileSync(path.join(bridge.storeDir, 'default/objects', hash.slice(0, 2), hash.slice(2, 4), hash), 'utf8')).toBe(readFileSync(dropped, 'utf8'));
  await other.close();
});
