/** Issue #17 over the loopback bridge: the same calls as IPC carry whole image previews and the heatmap's shard ranges. */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CONTENT_SECURITY_POLICY } from '../../src-shared/csp';
import type { EntryView, MethodResults } from '../../src-shared/contract';
import { createDispatcher } from '../ipc/dispatch';
import { AppSession } from '../ipc/session';
import { ProfileStore } from '../profiles/profiles';
import { NO_KEYRING } from '../profiles/secret-box';
import { startBridge, type Bridge } from './server';

const dir = mkdtempSync(path.join(tmpdir(), 'bridge-preview-'));
let bridge: Bridge | undefined;
afterAll(() => bridge?.close());

async function setup() {
  mkdirSync(path.join(dir, 'renderer'), { recursive: true });
  writeFileSync(path.join(dir, 'renderer', 'index.html'), '<!doctype html><title>Cache Admin</title>');
  const session = new AppSession({ profiles: new ProfileStore(path.join(dir, 'profiles.json'), NO_KEYRING, path.join(dir, 'store')), commandLine: { kind: 'memory' } });
  await session.start();
  bridge = await startBridge({ session, dispatch: createDispatcher(session), staticDir: path.join(dir, 'renderer') });
  const { port, token } = bridge;
  return async <T>(method: string, payload: unknown): Promise<T> => {
    const res = await fetch(`http://127.0.0.1:${port}/api/call/${method}`, { method: 'POST', headers: { 'x-cache-admin-token': token, 'content-type': 'application/json' }, body: JSON.stringify(payload) });
    const body = (await res.json()) as { ok: boolean; value: T; error?: { message: string } };
    if (!body.ok) throw new Error(body.error?.message);
    return body.value;
  };
}

describe('bridge: image previews and shard counts (issue #17)', () => {
  it('an image over 64 KiB comes whole and verified; shard ranges come with their folders', async () => {
    const call = await setup();
    const image = Buffer.alloc(300 * 1024, 3);
    Buffer.from([0x89, 0x50, 0x4e, 0x47]).copy(image);
    const stored = await call<MethodResults['storeBytes']>('storeBytes', { namespace: 'default', name: 'a.png', base64: image.toString('base64') });
    const view = await call<EntryView>('entry', { namespace: 'default', ref: stored.cache_id });
    expect(view).toMatchObject({ previewTruncated: false, previewVerified: true, record: { content_type: 'image/png' } });
    expect(Buffer.from(view.preview, 'base64').equals(image)).toBe(true);

    const shard = stored.hash.slice(0, 2);
    const counted = await call<MethodResults['shardCounts']>('shardCounts', { namespace: 'default', shards: [shard] });
    expect(counted.shards).toEqual([{ shard, prefix: `default/objects/${shard}/`, entries: 1 }]);
  });

  it('the page may show images only from itself or from bytes it already holds (data:, blob:), never another origin', () => {
    const imgSrc = CONTENT_SECURITY_POLICY.split('; ').find((d) => d.startsWith('img-src '));
    expect(imgSrc?.split(' ').slice(1).sort()).toEqual(["'self'", 'blob:', 'data:']);
  });
});
