import AxeBuilder from '@axe-core/playwright';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { crc32, deflateSync } from 'node:zlib';
import type { Page } from '@playwright/test';
import type { CacheHash, Namespace } from '../src-shared/domain';
import { CacheService } from '../src-main/core/cache-service';
import { LocalFolderStorage } from '../src-main/core/storage/local';
import { populateNamespace } from '../src-main/test-support/fixture-store';
import { expect, screenshot, startWeb, test, type RunningBridge } from './bridge';

// Issue #17 in the browser: a 200 KiB PNG previewed as an image, a corrupt one not drawn; the heatmap
// shows progress and fills in, its cells open their shard in the tree, an opened entry opens the tree
// to its keys, and coming back to a namespace shows its heatmap at once.
test.describe.configure({ mode: 'serial', timeout: 300_000 });

let bridge: RunningBridge;
let storeDir: string;
let goodPng: string;
let badPng: string;
let textPng: string;
let manyHash: string;

/** A real PNG of random RGB pixels (so it does not compress): `width` x 256 is about width x 768 bytes. */
function randomPng(width: number, height = 256): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([length, body, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
  const rows = Buffer.concat(Array.from({ length: height }, () => Buffer.concat([Buffer.from([0]), randomBytes(width * 3)])));
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', header), chunk('IDAT', deflateSync(rows)), chunk('IEND', Buffer.alloc(0))]);
}

test.beforeAll(async () => {
  test.setTimeout(300_000); // `npm run web` builds the renderer first: slow on a loaded machine
  storeDir = mkdtempSync(path.join(process.env.E2E_ROOT ?? '/tmp', 'preview-layout-store-'));
  const storage = await LocalFolderStorage.open(storeDir);
  const cache = new CacheService(storage);
  const good = randomPng(280);
  expect(good.length).toBeGreaterThan(200 * 1024);
  goodPng = (await cache.store('images', { source: { kind: 'bytes', bytes: good }, name: 'photo.png' })).hash;
  badPng = (await cache.store('images', { source: { kind: 'bytes', bytes: randomPng(280) }, name: 'broken.png' })).hash;
  textPng = (await cache.store('images', { source: { kind: 'bytes', bytes: Buffer.from('not a picture at all\n') }, name: 'notes.png' })).hash;
  manyHash = (await populateNamespace(storage, 'many', 600))[0]!.hash;
  await storage.close();
  // One byte flipped past the first 64 KiB, on disk: only a whole, checked read finds it.
  const contentFile = path.join(storeDir, cache.layout.content('images' as Namespace, badPng as CacheHash));
  const bytes = readFileSync(contentFile);
  bytes[150_000] = bytes[150_000]! ^ 0xff;
  writeFileSync(contentFile, bytes);
  bridge = await startWeb(storeDir);
});
test.afterAll(async () => bridge?.stop());

async function noSeriousAxeViolations(page: Page, screen: string): Promise<void> {
  const { violations } = await new AxeBuilder({ page }).analyze();
  expect(violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${screen}: ${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`)).toEqual([]);
}

async function lookUp(page: Page, ref: string): Promise<void> {
  await page.getByLabel('Look up hash or cache id').fill(ref);
  await page.getByLabel('Look up hash or cache id').press('Enter');
}

test('a 200 KiB PNG is previewed as an image, verified; a corrupt one is marked and never drawn', async ({ page }) => {
  await page.goto(bridge.url);
  await page.getByRole('region', { name: 'Namespaces' }).getByRole('option', { name: /^images/ }).click();
  const entry = page.getByRole('region', { name: 'Entry' });
  await lookUp(page, goodPng);
  const image = entry.getByRole('img', { name: `Preview of ${goodPng}-v1` });
  await expect(image).toBeVisible();
  await expect.poll(() => image.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth)).toBe(280);
  await expect(entry.getByRole('heading', { name: /^Preview/ })).toHaveText('Previewverified');
  await screenshot(page, '17-image-preview');
  await noSeriousAxeViolations(page, 'image preview');

  await lookUp(page, badPng);
  await expect(entry.getByTestId('content-problem')).toContainText('Corrupt:');
  await expect(entry.getByRole('img')).toHaveCount(0);
  await expect(entry.getByRole('button', { name: 'Save to file…' })).toHaveCount(0);

  // Named .png, it is text: Chromium cannot draw it, so its bytes show, and the panel says why.
  await lookUp(page, textPng);
  await expect(entry.getByTestId('not-an-image')).toContainText('its name says image/png');
  await expect(entry.getByRole('img')).toHaveCount(0);
  await expect(entry.getByLabel('Preview')).toHaveText('not a picture at all');
});

test('the heatmap shows progress then fills; a cell opens its shard; an entry opens the tree to its keys; coming back is instant', async ({ page }) => {
  // Each shard range answers a little late, as on a big store, so the progress can be seen.
  let shardCalls = 0;
  await page.route('**/api/call/shardCounts', async (route) => {
    shardCalls++;
    await new Promise((r) => setTimeout(r, 120));
    await route.continue();
  });
  await page.goto(bridge.url);
  const namespaces = page.getByRole('region', { name: 'Namespaces' });
  await namespaces.getByRole('option', { name: /^many/ }).click();
  await page.getByRole('tab', { name: 'Layout' }).click();
  const layout = page.getByRole('region', { name: 'Layout' });
  const progress = layout.getByRole('status').filter({ hasText: 'Counting shards' });
  await expect(progress).toContainText(/Counting shards: \d+ \/ 256 \(\d+%\)/);
  await expect(layout.getByRole('gridcell', { name: 'Shard ff: not counted yet' })).toBeVisible();
  await expect(layout.getByRole('gridcell', { name: /^Shard 00: \d+ entr/ })).toBeVisible(); // filled before the end
  await expect(progress).toHaveCount(0, { timeout: 30_000 });
  await expect(layout.getByRole('figure')).toContainText('(600 entries)');
  await expect(layout.getByRole('gridcell', { name: /not counted yet/ })).toHaveCount(0);
  await noSeriousAxeViolations(page, 'layout heatmap');

  const shard = manyHash.slice(0, 2);
  await layout.getByRole('button', { name: new RegExp(`^Open shard ${shard} in the tree \\([\\d,]+ entr(y|ies)\\)$`) }).click();
  const shardItem = layout.getByRole('treeitem', { name: `${shard}/`, exact: true }).first();
  await expect(shardItem).toHaveAttribute('aria-expanded', 'true');
  await expect(shardItem).toBeInViewport();
  await screenshot(page, '17-heatmap-shard-open');
  // The last shard, far down the tree: it scrolls to the top of the tree, the heatmap and the cell
  // just clicked stay where they were, and a key opened there shows its details in view beside it.
  const farCell = layout.getByRole('button', { name: /^Open shard [0-9a-f]{2} in the tree \([\d,]+ entr(y|ies)\)$/ }).last();
  const far = /shard ([0-9a-f]{2})/.exec((await farCell.getAttribute('aria-label'))!)![1]!;
  await farCell.click();
  const farItem = layout.getByRole('treeitem', { name: `${far}/`, exact: true }).first();
  await expect(farItem).toHaveAttribute('aria-expanded', 'true');
  await expect(farItem).toBeInViewport();
  await expect(farCell).toBeInViewport();
  const sub = farItem.getByRole('treeitem').first();
  await expect(sub).toBeVisible();
  // A shard holding one folder opened it too (a shard of one entry); with more, the operator picks one.
  if ((await sub.getAttribute('aria-expanded')) === 'false') await sub.getByRole('button').first().click();
  const key = sub.getByRole('treeitem').first();
  await key.getByRole('button').click();
  await expect(layout.getByLabel('Key details')).toBeInViewport();
  await expect(key).toBeInViewport();

  await lookUp(page, manyHash);
  const leaf = layout.getByRole('treeitem', { name: manyHash, exact: true });
  await expect(leaf).toBeVisible();
  await expect(leaf).toHaveClass(/highlight/);

  const counted = shardCalls;
  await namespaces.getByRole('option', { name: /^images/ }).click();
  await expect(layout.getByRole('figure')).toContainText('images');
  await namespaces.getByRole('option', { name: /^many/ }).click();
  // Cached: every cell at once, no progress, no new count of "many".
  await expect(layout.getByRole('figure')).toContainText('(600 entries)', { timeout: 1000 });
  await expect(progress).toHaveCount(0);
  await expect(layout.getByRole('gridcell', { name: /not counted yet/ })).toHaveCount(0);
  await page.waitForTimeout(500);
  expect(shardCalls - counted).toBeLessThanOrEqual(32); // at most the count of "images", which was under way
});
