import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import * as path from 'node:path';
import { test as base, expect, type Page } from '@playwright/test';

const REPO_ROOT = path.resolve(import.meta.dirname, '..');

export interface RunningBridge {
  url: string;
  storeDir: string;
  stop(): Promise<void>;
}

/** `npm run web` on a store folder, as an operator starts it; resolves with the URL it prints. */
export async function startWeb(storeDir: string, options: string[] = []): Promise<RunningBridge> {
  const configHome = mkdtempSync(path.join(process.env.E2E_ROOT ?? '/tmp', 'config-'));
  const child: ChildProcess = spawn('npm', ['run', '--silent', 'web', '--', '--store', storeDir, '--port', '0', ...options], {
    cwd: REPO_ROOT,
    env: { ...process.env, XDG_CONFIG_HOME: configHome },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (c: Buffer) => {
      out += c.toString();
      const match = /http:\/\/127\.0\.0\.1:\d+\/\?token=\S+/.exec(out);
      if (match) resolve(match[0]);
    });
    child.on('exit', (code) => reject(new Error(`npm run web exited with ${code}: ${stderr}`)));
  });
  return {
    url,
    storeDir,
    stop: async () => {
      if (child.exitCode === null) {
        process.kill(-child.pid!, 'SIGTERM');
        await new Promise((r) => child.once('exit', r));
      }
    },
  };
}

/**
 * Runs `use` on a bridge of its own over `storeDir`, and leaves it before stopping it: a request the
 * page had in flight when its bridge stopped (a poll, a count) failed the test as a console error
 * (net::ERR_EMPTY_RESPONSE), now and then.
 */
export async function onOwnBridge(page: Page, storeDir: string, options: string[], use: (bridge: RunningBridge) => Promise<void>): Promise<void> {
  const bridge = await startWeb(storeDir, options);
  try {
    await use(bridge);
  } finally {
    await page.goto('about:blank');
    await bridge.stop();
  }
}

/**
 * A fresh temporary store per test file, served by `npm run web`. Every page fails its test if it
 * throws or logs an error (a failed request, a React warning): an operator would see it in the console.
 */
export const test = base.extend<object, { bridge: RunningBridge }>({
  page: async ({ page }, use) => {
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(`uncaught: ${err.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(`console: ${message.text()} (${message.location().url})`);
    });
    await use(page);
    expect(errors, 'errors in the page').toEqual([]);
  },
  bridge: [
    // eslint-disable-next-line no-empty-pattern
    async ({}, use) => {
      const bridge = await startWeb(mkdtempSync(path.join(process.env.E2E_ROOT ?? '/tmp', 'store-')));
      await use(bridge);
      await bridge.stop();
    },
    { scope: 'worker' },
  ],
});

export { expect };

/** Drops files from disk onto `target` the way a browser delivers an OS drop: a DataTransfer of real Files. */
export async function dropFiles(page: Page, target: string, files: string[], options: { beforeDrop?: () => Promise<void> } = {}): Promise<void> {
  const input = await page.evaluateHandle(() => {
    const el = document.createElement('input');
    el.type = 'file';
    el.multiple = true;
    el.style.display = 'none';
    document.body.append(el);
    return el;
  });
  await input.setInputFiles(files);
  const dataTransfer = await page.evaluateHandle((el) => {
    const dt = new DataTransfer();
    for (const file of el.files ?? []) dt.items.add(file);
    el.remove();
    return dt;
  }, input);
  await options.beforeDrop?.(); // the Files are picked: what happens to them on disk now, the browser learns as it reads them
  const zone = page.locator(target);
  await zone.dispatchEvent('dragenter', { dataTransfer });
  await zone.dispatchEvent('dragover', { dataTransfer });
  await zone.dispatchEvent('drop', { dataTransfer });
}

/**
 * Shows namespace `name`, the drop target, whether or not anything is stored in it yet (the app
 * opens on a namespace the store holds, and this worker's store is shared by its tests).
 */
export async function openNamespace(page: Page, name: string): Promise<void> {
  const namespaces = page.getByRole('region', { name: 'Namespaces' });
  await namespaces.getByLabel('Filter namespaces').fill(name);
  const listed = namespaces.getByRole('option', { name: new RegExp(`^${name}\\b`) });
  const fresh = namespaces.getByRole('button', { name: `Use new namespace “${name}”` });
  await expect(listed.or(fresh).first()).toBeVisible();
  await ((await fresh.isVisible()) ? fresh : listed).click();
  await namespaces.getByLabel('Filter namespaces').fill('');
  await expect(namespaces.getByRole('option', { name: new RegExp(`^${name}\\b`) })).toHaveAttribute('aria-selected', 'true');
}

export async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: path.join(REPO_ROOT, 'test-results', 'screenshots', `${name}.png`) });
}
