/** The CLI's retention commands, and what get, info, versions and ls show of expired versions. */
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli } from '../test-support/cli-harness';
import { CacheService } from '../core/cache-service';
import { LocalFolderStorage } from '../core/storage/local';

const DAY = 86_400_000;

/** A local store with "old" stored 3 days ago and again 1 hour ago, and "gone" 3 days ago. */
async function store() {
  const dir = mkdtempSync(path.join(tmpdir(), 'cli-retention-'));
  const storeAt = async (text: string, ms: number) => {
    const cache = new CacheService(await LocalFolderStorage.open(dir), { now: () => new Date(Date.now() - ms) });
    return cache.store('docs', { source: { kind: 'bytes', bytes: Buffer.from(text) }, name: `${text}.txt` });
  };
  const old1 = await storeAt('old', 3 * DAY);
  const old2 = await storeAt('old', 3_600_000);
  const gone = await storeAt('gone', 3 * DAY);
  const run = (...args: string[]) => cli(['--store', dir, ...args]);
  return { dir, old1, old2, gone, run };
}

describe('cache-admin policy', () => {
  it('refuses a bad age or count with invalid_input (exit 2) and writes nothing', async () => {
    const { dir, run } = await store();
    for (const args of [['--ttl', 'abc'], ['--ttl', '12'], ['--keep-versions', '0'], ['--ttl', 'default']]) {
      const r = await run('policy', 'set', ...args);
      expect([r.code, r.stderr], args.join(' ')).toEqual([2, expect.stringMatching(/^cache-admin: invalid_input: /)]);
    }
    expect((await run('policy', 'bogus')).code).toBe(2);
    expect(existsSync(path.join(dir, '_cache-admin.d'))).toBe(false);
  });

  it('sets the store-wide rule and a namespace override, and shows both', async () => {
    const { run } = await store();
    expect((await run('policy', 'set', '--ttl', '30d')).stdout).toBe('store-wide  ttl 30d  keep-versions none\n');
    expect((await run('--ns', 'docs', 'policy', 'set', '--ttl', '2d', '--keep-versions', '3')).stdout).toBe('docs  ttl 2d  keep-versions 3\n  in effect: ttl 2d  keep-versions 3\n');
    expect((await run('policy', 'get')).stdout).toBe('store-wide  ttl 30d  keep-versions none\ndocs  ttl 2d  keep-versions 3\n');
    expect(JSON.parse((await run('--json', 'policy', 'get')).stdout)).toMatchObject({
      default: { ttl_seconds: 30 * 86_400, keep_versions: null },
      namespaces: { docs: { ttl_seconds: 2 * 86_400, keep_versions: 3 } },
      generation: 2,
      key: '_cache-admin.d/retention/policy.00000002.json',
    });
  });
});

describe('expired versions in the CLI', () => {
  it('get fails with expired (exit 3) unless --allow-expired; info, versions and ls say which and when', async () => {
    const { run, old1, old2 } = await store();
    await run('--ns', 'docs', 'policy', 'set', '--ttl', '2d');
    const refused = await run('--ns', 'docs', 'get', old1.cache_id);
    expect([refused.code, refused.stdout]).toEqual([3, '']);
    expect(refused.stderr).toMatch(/^cache-admin: expired: .*-v1 expired at .* \(TTL 2d in namespace docs\); --allow-expired reads it anyway\n$/);
    expect((await run('--ns', 'docs', 'get', '--allow-expired', old1.cache_id)).stdout).toBe('old');
    expect((await run('--ns', 'docs', 'get', old2.hash)).stdout).toBe('old'); // the latest is live

    const info = JSON.parse((await run('--ns', 'docs', '--json', 'info', old1.cache_id)).stdout) as { expired: boolean; expires_at: string; stored_at: string };
    expect(info.expired).toBe(true);
    expect(Date.parse(info.expires_at) - Date.parse(info.stored_at)).toBe(2 * DAY);
    expect((await run('--ns', 'docs', 'info', old1.cache_id)).stdout).toMatch(/^expired +true$/m);

    const versions = (await run('--ns', 'docs', 'versions', old1.hash)).stdout.trim().split('\n');
    expect(versions.map((l) => l.endsWith('  expired'))).toEqual([true, false]);
    const ls = (await run('ls', 'docs/temporal/')).stdout.trim().split('\n');
    expect(ls.filter((l) => l.endsWith('\texpired'))).toHaveLength(2); // old v1 and gone v1
    expect(ls).toHaveLength(3);
  });
});

describe('cache-admin prune', () => {
  it('--dry-run lists what would go and changes nothing; the real run prunes exactly that, one JSON object per version', async () => {
    const { dir, run, old1, old2, gone } = await store();
    const before = (await run('ls', 'docs/')).stdout;
    const dry = await run('--json', '--ns', 'docs', 'prune', '--older-than', '2d', '--dry-run');
    expect(dry.code).toBe(0);
    const lines = dry.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toEqual([
      expect.objectContaining({ cache_id: old1.cache_id, reason: 'older_than', content_removed: false, bytes_freed: 0 }),
      expect.objectContaining({ cache_id: gone.cache_id, reason: 'older_than', content_removed: true, bytes_freed: 4 }),
      { summary: { dry_run: true, versions: 2, hashes: 2, content_removed: 1, bytes_freed: 4, unreadable_refs: 0, unfinished: 0 } },
    ]);
    expect((await run('ls', 'docs/')).stdout).toBe(before);

    const real = await run('--json', '--ns', 'docs', 'prune', '--older-than', '2d');
    expect(real.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)).toEqual([
      expect.objectContaining({ cache_id: old1.cache_id }),
      expect.objectContaining({ cache_id: gone.cache_id }),
      { summary: { dry_run: false, versions: 2, hashes: 2, pruned: 2, skipped: 0, resumed: 0, content_removed: 1, bytes_freed: 4, unreadable_refs: 0, unfinished: 0 } },
    ]);
    expect((await run('--ns', 'docs', 'versions', old1.hash)).stdout).toMatch(new RegExp(`^2  ${old2.cache_id}  `));
    expect((await run('--ns', 'docs', 'get', gone.hash)).code).toBe(1);
    expect((await run('verify')).stdout).toMatch(/: no problems\n$/);
    expect(existsSync(path.join(dir, '_cache-admin.d', 'prune'))).toBe(false);
    expect((await run('--ns', 'docs', 'prune', '--expired')).stdout).toBe('pruned 0 versions (0 hashes gone entirely, 0 bytes freed)\n');
  });

  it('a dry run after a killed prune says that the next real run finishes the killed one first', async () => {
    const { dir, run, old1 } = await store();
    // A prune killed after writing its journal (as `kill -9` leaves it): the next prune of docs deletes what it names.
    const journal = path.join(dir, '_cache-admin.d', 'prune', 'docs', 'killed.json');
    mkdirSync(path.dirname(journal), { recursive: true });
    const { stored_at } = JSON.parse((await run('--json', '--ns', 'docs', 'info', old1.cache_id)).stdout) as { stored_at: string };
    writeFileSync(journal, `${JSON.stringify({ namespace: 'docs', versions: [{ hash: old1.hash, cache_id: old1.cache_id, version: 1, stored_at, reason: 'older_than' }] })}\n`);
    const dry = await run('--ns', 'docs', 'prune', '--older-than', '100d', '--dry-run');
    expect(dry.stdout).toBe('would prune 0 versions of 0 hashes (0 hashes gone entirely, 0 bytes freed); up to 1 more version that another prune planned and has not finished (killed, or still running) would go too: a real prune finishes them first, or waits for that prune\n');
    expect((await run('--ns', 'docs', 'versions', old1.hash)).stdout.trim().split('\n')).toHaveLength(2);
    expect((await run('--ns', 'docs', 'prune', '--older-than', '100d')).stdout).toBe(`docs  ${old1.cache_id}  ${old1.hash}  ${stored_at}  older_than\npruned 1 version (0 hashes gone entirely, 0 bytes freed); finished 1 of an interrupted prune\n`);
    expect((await run('--ns', 'docs', 'prune', '--older-than', '100d', '--dry-run')).stdout).toBe('would prune 0 versions of 0 hashes (0 hashes gone entirely, 0 bytes freed)\n');
  });

  it('refuses a bad age, and an age with --expired, with invalid_input (exit 2)', async () => {
    const { run } = await store();
    for (const args of [['--older-than', '5x'], ['--older-than', '1d', '--expired'], ['--keep-versions', 'none'], ['extra']]) {
      const r = await run('prune', ...args);
      expect([r.code, r.stderr], args.join(' ')).toEqual([2, expect.stringMatching(/^cache-admin: invalid_input: /)]);
    }
  });
});
