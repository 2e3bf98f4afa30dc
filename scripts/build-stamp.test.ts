import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { appBuild } from './build-app.mjs';
import { cliBuild } from './build-cli.mjs';
import { buildIfStale } from './build-stamp.mjs';

// Which files a start reads (the stamp alone, while stat says nothing changed).
vi.mock('node:fs', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:fs')>();
  return { ...actual, readFileSync: vi.fn(actual.readFileSync) };
});

// A repository in miniature: the real lists of what each build reads, a counting stand-in for the build.
let root: string;
const write = (rel: string, text: string) => {
  mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
  writeFileSync(path.join(root, rel), text);
};

beforeEach(() => {
  root = mkdtempSync(path.join(tmpdir(), 'build-stamp-'));
  write('package.json', '{"name":"app"}');
  write('package-lock.json', '{}');
  write('tsconfig.json', '{}');
  write('electron.vite.config.ts', 'export default {};');
  write('node_modules/.package-lock.json', '{}');
  write('src-main/cli/main.ts', 'console.log(1);');
  write('src-main/bridge/main.ts', 'console.log(2);');
  write('src-shared/domain.ts', 'export const a = 1;');
  write('src-renderer/index.html', '<div id="root"></div>');
  write('src-renderer/app.tsx', 'export const App = () => null;');
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

describe.each([
  ['app (npm start, npm run web)', appBuild, ['src-main/bridge/main.ts', 'src-shared/domain.ts', 'src-renderer/index.html', 'src-renderer/app.tsx', 'electron.vite.config.ts', 'tsconfig.json', 'package.json', 'package-lock.json', 'node_modules/.package-lock.json']],
  ['cli (npm run cli)', cliBuild, ['src-main/cli/main.ts', 'src-shared/domain.ts', 'tsconfig.json', 'package.json', 'package-lock.json', 'node_modules/.package-lock.json']],
])('the %s build', (_name, spec, sources) => {
  let builds = 0;
  const start = () =>
    buildIfStale({
      root,
      ...spec(root),
      build: async () => {
        builds++;
        for (const output of spec(root).outputs) write(output, `built ${builds}`);
      },
    });
  beforeEach(() => (builds = 0));

  it('is built on the first start and not again while nothing changed', async () => {
    expect(await start()).toBe(true);
    expect(await start()).toBe(false);
    expect(await start()).toBe(false);
    expect(builds).toBe(1);
  });

  it.each(sources)('is rebuilt on the next start after %s changes, then reused', async (source) => {
    await start();
    write(source, 'changed');
    expect(await start()).toBe(true);
    expect(await start()).toBe(false);
    expect(builds).toBe(2);
  });

  it('is rebuilt when a source is added or deleted, or changes with an older modification time', async () => {
    await start();
    write('src-shared/added.ts', 'export const b = 2;');
    expect(await start()).toBe(true);
    rmSync(path.join(root, 'src-shared/added.ts'));
    expect(await start()).toBe(true);
    write('src-shared/domain.ts', 'export const a = 2;'); // as tar or cp -p leave it: content new, time old
    utimesSync(path.join(root, 'src-shared/domain.ts'), new Date(2000, 0, 1), new Date(2000, 0, 1));
    expect(await start()).toBe(true);
    expect(builds).toBe(4);
  });

  it('is not rebuilt when a file is only touched, or only a test file changed', async () => {
    await start();
    utimesSync(path.join(root, 'src-shared/domain.ts'), new Date(), new Date(Date.now() + 60_000));
    write('src-shared/domain.test.ts', 'it()');
    expect(await start()).toBe(false);
  });

  it('with its sources settled, is reused on what stat says, and still rebuilt after an edit that keeps the size and puts the modification time back', async () => {
    await start(); // sources written just now: their change times cannot yet tell a later write apart, so nothing but the digest is stamped
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      vi.setSystemTime(Date.now() + 60_000); // a minute later: settled
      expect(await start()).toBe(false); // read once more, and their signature stamped
      vi.mocked(readFileSync).mockClear();
      expect(await start()).toBe(false); // stat alone: no source is read, only the stamp
      expect(vi.mocked(readFileSync).mock.calls.map(([file]) => path.relative(root, String(file)))).toEqual([`out/.stamps/${spec(root).name}.json`]);
      const stamp = JSON.parse(readFileSync(path.join(root, 'out/.stamps', `${spec(root).name}.json`), 'utf8')) as { signature: string | null };
      expect(stamp.signature).toMatch(/^[0-9a-f]{64}$/);
      const source = path.join(root, 'src-shared/domain.ts');
      const { mtime } = statSync(source);
      write('src-shared/domain.ts', 'export const a = 5;'); // the same size, its time put back (cp -p, tar)
      utimesSync(source, mtime, mtime);
      expect(await start()).toBe(true);
      expect(builds).toBe(2);
    } finally {
      vi.useRealTimers();
    }
  });

  it('is rebuilt when one of its outputs is missing', async () => {
    await start();
    rmSync(path.join(root, spec(root).outputs.at(-1)!));
    expect(await start()).toBe(true);
  });

  it('is rebuilt after a build that failed halfway, even with the sources unchanged', async () => {
    await start();
    rmSync(path.join(root, spec(root).outputs[0]!));
    const failing = buildIfStale({
      root,
      ...spec(root),
      build: async () => {
        for (const output of spec(root).outputs) write(output, 'half written');
        throw new Error('out of disk space');
      },
    });
    await expect(failing).rejects.toThrow('out of disk space');
    expect(await start()).toBe(true);
  });

  it('is rebuilt when a source changed while it was being built', async () => {
    const midBuild = buildIfStale({
      root,
      ...spec(root),
      build: async () => {
        for (const output of spec(root).outputs) write(output, 'built from the old source');
        write('src-shared/domain.ts', 'export const a = 4;');
      },
    });
    expect(await midBuild).toBe(true);
    expect(await start()).toBe(true);
  });

  it('is built once when several starts find it stale at the same time', async () => {
    const results = await Promise.all([start(), start(), start()]);
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(builds).toBe(1);
  });
});
