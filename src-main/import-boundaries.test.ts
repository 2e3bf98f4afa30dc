import * as path from 'node:path';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from './test-support/cli-harness';

const eslint = new ESLint({ cwd: REPO_ROOT });

async function restricted(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: path.join(REPO_ROOT, file) });
  return result!.messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

describe('the lint rule holds the import boundaries', () => {
  it.each([
    ['src-shared/x.ts', "import { app } from 'electron';"],
    ['src-shared/x.ts', "import * as fs from 'node:fs';"],
    ['src-main/core/x.ts', "import { app } from 'electron';"],
    ['src-renderer/x.ts', "import { ipcRenderer } from 'electron';"],
    ['src-renderer/x.ts', "import * as fs from 'node:fs';"],
    ['src-renderer/x.ts', "import { CacheService } from '../src-main/core/cache-service';"],
  ])('rejects in %s: %s', async (file, code) => {
    expect(await restricted(file, `${code}\nexport {};\n`)).not.toEqual([]);
  });

  it('allows electron in the thin adapters and shared code in the renderer', async () => {
    expect(await restricted('src-main/electron/x.ts', "import { app } from 'electron';\nexport {};\n")).toEqual([]);
    expect(await restricted('src-renderer/x.ts', "import { parseCacheHash } from '../src-shared/domain';\nexport {};\n")).toEqual([]);
  });
});
