import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { createServer, request } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CONTENT_SECURITY_POLICY } from '../../src-shared/csp';
import { createDispatcher } from '../ipc/dispatch';
import { AppSession } from '../ipc/session';
import { ProfileStore } from '../profiles/profiles';
import { NO_KEYRING } from '../profiles/secret-box';
import { REPO_ROOT } from '../test-support/cli-harness';
import { startBridge, type Bridge } from './server';

const dir = mkdtempSync(path.join(tmpdir(), 'bridge-'));
const staticDir = path.join(dir, 'renderer');
const running: Bridge[] = [];

async function setup(maxEntryBytes?: number) {
  mkdirSync(staticDir, { recursive: true });
  writeFileSync(path.join(staticDir, 'index.html'), '<!doctype html><title>Cache Admin</title>');
  writeFileSync(path.join(dir, 'secret.txt'), 'outside the static folder');
  const profiles = new ProfileStore(path.join(dir, 'profiles.json'), NO_KEYRING, path.join(dir, 'store'));
  const session = new AppSession({ profiles, commandLine: { kind: 'memory' }, cacheOptions: { maxEntryBytes } });
  await session.start();
  const bridge = await startBridge({ session, dispatch: createDispatcher(session), staticDir });
  running.push(bridge);
  const base = `http://127.0.0.1:${bridge.port}`;
  const headers = { 'x-cache-admin-token': bridge.token };
  const call = async (method: string, payload: unknown, h: Record<string, string> = headers) => {
    const res = await fetch(`${base}/api/call/${method}`, { method: 'POST', headers: { ...h, 'content-type': 'application/json' }, body: JSON.stringify(payload) });
    return { status: res.status, body: (await res.json()) as { ok: boolean; value?: never; error?: { code: string } } };
  };
  return { bridge, session, base, headers, call };
}

/** One request exactly as written (fetch would normalize the path); resolves with status, headers and body. */
function raw(port: number, options: { path: string; method?: string; headers?: Record<string, string>; body?: string }) {
  return new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: options.method ?? 'GET', path: options.path, headers: options.headers }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

/** Collects Server-Sent Events until `stop` is called. */
async function listen(url: string, headers: Record<string, string>) {
  const controller = new AbortController();
  const res = await fetch(url, { headers, signal: controller.signal });
  const events: { type: string; transferId?: string; bytesDone?: number; namespace?: string | null }[] = [];
  const reading = (async () => {
    let buffer = '';
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += Buffer.from(chunk).toString();
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          if (frame.startsWith('data: ')) events.push(JSON.parse(frame.slice(6)));
        }
      }
    } catch {
      // aborted
    }
  })();
  return { status: res.status, events, stop: async () => (controller.abort(), reading) };
}

afterEach(async () => {
  await Promise.all(running.splice(0).map((b) => b.close()));
});

describe('loopback bridge', () => {
  it('listens on 127.0.0.1 only and prints a URL with a random token', async () => {
    const { bridge } = await setup();
    const other = await setup();
    expect(bridge.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?token=[A-Za-z0-9_-]{32}$/);
    expect(bridge.address).toBe('127.0.0.1');
    expect(other.bridge.token).not.toBe(bridge.token);
  });

  it('answers every API request without the right token with 401 and changes nothing', async () => {
    const { base, call } = await setup();
    const store = { namespace: 'default', name: 'a', base64: Buffer.from('x').toString('base64') };
    for (const h of [{}, { 'x-cache-admin-token': 'wrong' }, { 'x-cache-admin-token': '' }] as Record<string, string>[]) {
      expect((await call('storeBytes', store, h)).status).toBe(401);
    }
    const upload = await fetch(`${base}/api/upload?op=store&namespace=default&transferId=t1`, { method: 'POST', body: 'data' });
    expect(upload.status).toBe(401);
    expect((await fetch(`${base}/api/events`)).status).toBe(401);
    expect((await fetch(`${base}/api/content?namespace=default&ref=2d711642b726b044`)).status).toBe(401);
    expect((await fetch(`${base}/api/call/namespaces?token=nope`, { method: 'POST' })).status).toBe(401);
    expect((await call('namespaces', {})).body).toEqual({ ok: true, value: { namespaces: [] } });
  });

  it('refuses other Host names (DNS rebinding)', async () => {
    const { bridge } = await setup();
    expect((await raw(bridge.port, { path: '/', headers: { host: `evil.example:${bridge.port}` } })).status).toBe(403);
  });

  it('refuses a cross-site request with 403 even with the right token, and stores and deletes nothing', async () => {
    const { bridge, call, headers } = await setup();
    const hello = { namespace: 'default', name: 'a', base64: Buffer.from('hello world').toString('base64') };
    await call('storeBytes', hello);
    const own = `http://127.0.0.1:${bridge.port}`;
    const crossSite = [{ origin: 'http://evil.example' }, { origin: 'null' }, { origin: `http://localhost:${bridge.port}` }, { origin: own, 'sec-fetch-site': 'cross-site' }, { 'sec-fetch-site': 'same-site' }] as Record<string, string>[];
    for (const from of crossSite) {
      // A text/plain form post, the kind a page on any site can send without asking.
      const cookie = `cache-admin-token-${bridge.port}=${bridge.token}`;
      for (const [what, body] of [['storeBytes', { ...hello, base64: Buffer.from('planted').toString('base64') }], ['delete', { namespace: 'default', ref: 'b94d27b9934d3e08' }]] as const) {
        const res = await raw(bridge.port, { path: `/api/call/${what}?token=${bridge.token}`, method: 'POST', headers: { ...headers, cookie, ...from, 'content-type': 'text/plain' }, body: JSON.stringify(body) });
        expect(res.status, JSON.stringify(from)).toBe(403);
        expect(JSON.parse(res.body)).toMatchObject({ ok: false, error: { code: 'unauthorized' } });
      }
    }
    expect((await call('namespaces', {})).body).toMatchObject({ ok: true, value: { namespaces: [{ name: 'default', entries: 1 }] } });
    // The bridge's own page, and scripts (no Origin at all), still get through.
    expect((await call('namespaces', {}, { ...headers, origin: own, 'sec-fetch-site': 'same-origin' })).status).toBe(200);
  });

  it('takes the token in the query only on the first page load, which sets an HttpOnly SameSite cookie and drops it from the URL', async () => {
    const { bridge, base, call } = await setup();
    const name = `cache-admin-token-${bridge.port}`;
    for (const [method, route] of [['POST', '/api/call/namespaces'], ['POST', '/api/upload?op=store&namespace=default&transferId=q1'], ['GET', '/api/events'], ['GET', '/api/content?namespace=default&ref=b94d27b9934d3e08']] as const) {
      const res = await raw(bridge.port, { method, path: `${route}${route.includes('?') ? '&' : '?'}token=${bridge.token}`, body: method === 'POST' ? 'data' : undefined });
      expect(res.status, `${method} ${route}`).toBe(401);
    }
    expect((await call('namespaces', {})).body).toEqual({ ok: true, value: { namespaces: [] } });

    expect((await raw(bridge.port, { path: '/?token=wrong' })).status).toBe(401);
    const first = await raw(bridge.port, { path: `/?token=${bridge.token}`, headers: { 'sec-fetch-site': 'none' } });
    expect(first.status).toBe(303);
    expect(first.headers.location).toBe('/');
    expect(first.headers['set-cookie']).toEqual([`${name}=${bridge.token}; HttpOnly; SameSite=Strict; Path=/`]);
    // Everything after it carries the cookie alone: calls, the event stream, downloads.
    const cookie = { cookie: `other=1; ${name}=${bridge.token}` };
    expect((await call('storeBytes', { namespace: 'default', name: 'c.txt', base64: Buffer.from('hello world').toString('base64') }, cookie)).body).toMatchObject({ ok: true });
    const download = await fetch(`${base}/api/content?namespace=default&ref=b94d27b9934d3e08`, { headers: cookie });
    expect(await download.text()).toBe('hello world');
    const sse = await fetch(`${base}/api/events`, { headers: cookie });
    expect(sse.status).toBe(200);
    await sse.body?.cancel();
    expect((await call('namespaces', {}, { cookie: `${name}=wrong` })).status).toBe(401);
    expect((await call('namespaces', {}, { cookie: `cache-admin-token-1=${bridge.token}` })).status).toBe(401);
  });

  it('takes files as uploads only: storeFile and hashFile of a path are refused, whatever the path', async () => {
    const { call } = await setup();
    for (const file of ['/proc/self/environ', path.join(dir, 'profiles.json'), path.join(dir, 'secret.txt')]) {
      for (const method of ['storeFile', 'hashFile']) {
        const res = await call(method, { namespace: 'default', path: file, transferId: 'p1' });
        expect(res.body, `${method} ${file}`).toMatchObject({ ok: false, error: { code: 'access_denied' } });
      }
    }
    expect((await call('namespaces', {})).body).toEqual({ ok: true, value: { namespaces: [] } });
  });

  it('answers malformed URLs with 400 and a typed error, never 500', async () => {
    const { bridge } = await setup();
    for (const p of ['/%', '/%E0%A4%A', '/assets/%ZZ.js', '//[', 'http://[/', '/%C0%AF']) {
      const res = await raw(bridge.port, { path: p });
      expect(res.status, p).toBe(400);
      expect(JSON.parse(res.body), p).toMatchObject({ ok: false, error: { code: 'invalid_input' } });
    }
  });

  it('round-trips contract calls and maps bad payloads to typed errors', async () => {
    const { call } = await setup();
    const stored = await call('storeBytes', { namespace: 'default', name: 'hello.txt', base64: Buffer.from('hello world').toString('base64') });
    expect(stored.body).toMatchObject({ ok: true, value: { cache_id: 'b94d27b9934d3e08-v1' } });
    expect((await call('entry', { namespace: 'default', ref: 'b94d27b9934d3e08-v1' })).body).toMatchObject({ ok: true, value: { record: { latest_version: 1 } } });
    expect((await call('versions', { namespace: '../x', hash: 'b94d27b9934d3e08' })).body).toMatchObject({ ok: false, error: { code: 'invalid_namespace' } });
    expect((await call('nope', {})).body).toMatchObject({ ok: false, error: { code: 'invalid_input' } });
  });

  it('rejects bodies that are not JSON or too big', async () => {
    const { base, headers } = await setup();
    const notJson = await fetch(`${base}/api/call/namespaces`, { method: 'POST', headers, body: '{' });
    expect(await notJson.json()).toMatchObject({ ok: false, error: { code: 'invalid_input' } });
    // JSON's 1e400 parses to Infinity: a number out of range, said as such (zod says "received number").
    const infinite = await fetch(`${base}/api/call/entries`, { method: 'POST', headers, body: '{"namespace":"default","offset":1e400}' });
    expect(await infinite.json()).toEqual({ ok: false, error: { code: 'invalid_input', message: 'entries: offset: expected a finite number' } });
    const huge = await fetch(`${base}/api/call/storeBytes`, { method: 'POST', headers, body: 'x'.repeat(3 * 1024 * 1024) });
    expect(huge.status).toBe(413);
  });

  it('streams an upload into the store with progress events, then reports it as already stored', async () => {
    const { base, headers } = await setup();
    const sse = await listen(`${base}/api/events`, headers);
    expect(sse.status).toBe(200);
    const content = Buffer.alloc(8 * 1024 * 1024, 'ab');
    const sha256 = createHash('sha256').update(content).digest('hex');
    const chunks = (async function* () {
      for (let i = 0; i < content.length; i += 1 << 20) {
        yield content.subarray(i, i + (1 << 20));
        await new Promise((r) => setTimeout(r, 30)); // slow enough for progress events
      }
    })();
    const res = await fetch(`${base}/api/upload?op=store&namespace=uploads&name=big.bin&transferId=up1`, {
      method: 'POST',
      headers: { ...headers, 'content-length': String(content.length) },
      body: chunks as unknown as BodyInit,
      duplex: 'half',
    } as RequestInit);
    expect(await res.json()).toMatchObject({ ok: true, value: { hash: sha256.slice(0, 16), size: content.length, source: 'big.bin', version: 1 } });
    const again = await fetch(`${base}/api/upload?op=hash&namespace=uploads&transferId=up2`, { method: 'POST', headers, body: content });
    expect(await again.json()).toMatchObject({ ok: true, value: { sha256, existing: { version: 1 } } });
    await sse.stop();
    const progress = sse.events.filter((e) => e.type === 'progress' && e.transferId === 'up1');
    expect(progress.length).toBeGreaterThan(1);
    expect(progress.at(-1)).toMatchObject({ bytesDone: content.length });
  });

  it('a page that stops reading its events is not queued every event, and gets each transfer\'s latest progress and every namespace\'s change when it reads again', async () => {
    const { bridge, session, headers } = await setup();
    const socket = connect(bridge.port, '127.0.0.1');
    socket.write(`GET /api/events HTTP/1.1\r\nHost: 127.0.0.1:${bridge.port}\r\nx-cache-admin-token: ${headers['x-cache-admin-token']}\r\n\r\n`);
    await new Promise((resolve) => socket.once('data', resolve)); // the stream is open
    socket.pause();
    // 300,000 progress events of two transfers (about 40 MB of frames), sent while the page reads nothing.
    const events = 300_000;
    for (let i = 1; i <= events; i++) session.emit({ type: 'progress', transferId: i % 2 ? 'odd' : 'even', phase: 'store', bytesDone: i, totalBytes: events });
    for (const namespace of ['big', 'other', 'big', null]) session.emit({ type: 'entriesChanged', namespace });
    let received = '';
    socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
    socket.resume();
    const last = (id: string) => [...received.matchAll(new RegExp(`"transferId":"${id}","phase":"store","bytesDone":(\\d+)`, 'g'))].at(-1)?.[1];
    await expect.poll(() => [last('odd'), last('even')], { timeout: 10_000 }).toEqual([String(events - 1), String(events)]);
    // Each namespace's change is kept, not only the last change of any.
    const changes = [...received.matchAll(/"type":"entriesChanged","namespace":("\w+"|null)/g)].map((m) => JSON.parse(m[1]!) as string | null);
    expect(new Set(changes)).toEqual(new Set(['big', 'other', null]));
    // What a page that never reads costs the bridge: what its connection holds, not every frame.
    expect(received.length).toBeLessThan(8 << 20);
    socket.destroy();
  });

  it('a page stalled through more than a thousand transfers is cut off (its EventSource connects again)', async () => {
    const { bridge, session, headers } = await setup();
    const socket = connect(bridge.port, '127.0.0.1');
    socket.write(`GET /api/events HTTP/1.1\r\nHost: 127.0.0.1:${bridge.port}\r\nx-cache-admin-token: ${headers['x-cache-admin-token']}\r\n\r\n`);
    await new Promise((resolve) => socket.once('data', resolve));
    socket.pause();
    const progress = (transferId: string, i: number) => session.emit({ type: 'progress', transferId, phase: 'store', bytesDone: i, totalBytes: null });
    for (let i = 0; i < 300_000; i++) progress('big', i); // backs the connection up
    for (let i = 0; i < 999; i++) progress(`t${i}`, 1);
    const ended = new Promise((resolve) => socket.on('close', resolve));
    socket.resume();
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(socket.destroyed).toBe(false); // a thousand kinds wait: still connected
    socket.pause();
    for (let i = 0; i < 300_000; i++) progress('big', i);
    for (let i = 0; i < 1_001; i++) progress(`u${i}`, 1);
    socket.resume();
    await ended;
  });

  it("tells every client which namespace changed after a script's upload, a window's store or delete; a refused or failed call, or a verify that repaired nothing, tells nothing", async () => {
    const { base, headers, call } = await setup();
    const sse = await listen(`${base}/api/events`, headers);
    const changes = () => sse.events.filter((e) => e.type === 'entriesChanged').map((e) => e.namespace);
    const upload = (namespace: string, body: string) => fetch(`${base}/api/upload?op=store&namespace=${encodeURIComponent(namespace)}&name=a.txt&transferId=u${changes().length}`, { method: 'POST', headers, body });
    expect(await (await upload('scripted', 'from a script')).json()).toMatchObject({ ok: true });
    await expect.poll(changes).toEqual(['scripted']);
    // Refused or failed: nothing changed, nothing is said.
    expect(await (await upload('../x', 'refused')).json()).toMatchObject({ ok: false, error: { code: 'invalid_namespace' } });
    expect((await call('storeBytes', { namespace: '<b>x</b>', name: 'b.txt', base64: 'eA==' })).body).toMatchObject({ ok: false });
    expect((await call('delete', { namespace: 'scripted', ref: '0123456789abcdef' })).body).toMatchObject({ ok: false, error: { code: 'not_found' } });
    expect((await call('verify', { namespace: 'scripted', repair: true, transferId: 'v1' })).body).toMatchObject({ ok: true, value: { problems: [] } });
    expect((await call('verify', { transferId: 'v2' })).body).toMatchObject({ ok: true });
    const stored = await call('storeBytes', { namespace: 'docs', name: 'b.txt', base64: Buffer.from('from a window').toString('base64') });
    expect(stored.body).toMatchObject({ ok: true });
    await expect.poll(changes).toEqual(['scripted', 'docs']);
    expect((await call('delete', { namespace: 'docs', ref: (stored.body.value as unknown as { hash: string }).hash })).body).toMatchObject({ ok: true });
    await expect.poll(changes).toEqual(['scripted', 'docs', 'docs']);
    await sse.stop();
  });

  it('an upload the client abandons stores nothing', async () => {
    const { base, headers, call } = await setup();
    const controller = new AbortController();
    const body = (async function* () {
      yield Buffer.alloc(1 << 20, 1);
      controller.abort();
      await new Promise((r) => setTimeout(r, 1000));
      yield Buffer.alloc(1 << 20, 2);
    })();
    await expect(
      fetch(`${base}/api/upload?op=store&namespace=default&transferId=gone`, { method: 'POST', headers, body: body as unknown as BodyInit, duplex: 'half', signal: controller.signal } as RequestInit),
    ).rejects.toThrow();
    await new Promise((r) => setTimeout(r, 200));
    expect((await call('namespaces', {})).body).toEqual({ ok: true, value: { namespaces: [] } });
    expect((await call('cancel', { transferId: 'gone' })).body).toEqual({ ok: true, value: { cancelled: true } });
  });

  it('refuses an upload over the entry size limit with a typed error, storing nothing', async () => {
    const { base, headers, call } = await setup(1024 * 1024);
    const res = await fetch(`${base}/api/upload?op=store&namespace=default&transferId=big`, { method: 'POST', headers, body: Buffer.alloc(8 * 1024 * 1024) });
    expect(await res.json()).toMatchObject({ ok: false, error: { code: 'too_large' } });
    expect((await call('namespaces', {})).body).toEqual({ ok: true, value: { namespaces: [] } });
  });

  it('lets an upload take as long as it needs (no 5-minute cut), while headers must still come in time', async () => {
    const { bridge } = await setup();
    expect(bridge.server.requestTimeout).toBe(0);
    expect(bridge.server.headersTimeout).toBeGreaterThan(0);
  });

  it('rejects upload parameters it cannot trust', async () => {
    const { base, headers, call } = await setup();
    for (const [query, code] of [
      ['op=store&namespace=../etc&transferId=a', 'invalid_namespace'], // the code the CLI and the app's calls give
      ['op=store&namespace=&transferId=a', 'invalid_namespace'],
      ['op=store&namespace=default&transferId=../a', 'invalid_input'],
      ['op=rm&namespace=default&transferId=a', 'invalid_input'],
      ['op=store&namespace=default&transferId=a&extra=1', 'invalid_input'],
    ]) {
      const res = await fetch(`${base}/api/upload?${query}`, { method: 'POST', headers, body: 'data' });
      expect(res.status).toBe(400);
      expect(await res.json(), query).toMatchObject({ ok: false, error: { code } });
    }
    expect((await call('namespaces', {})).body).toEqual({ ok: true, value: { namespaces: [] } });
  });

  it('downloads content as an attachment that never renders on the bridge origin', async () => {
    const { base, headers, call } = await setup();
    await call('storeBytes', { namespace: 'default', name: 'page.html', base64: Buffer.from('<script>alert(1)</script>').toString('base64') });
    const hash = createHash('sha256').update('<script>alert(1)</script>').digest('hex').slice(0, 16);
    expect((await fetch(`${base}/api/content?namespace=default&ref=${hash}`)).status).toBe(401);
    const ok = await fetch(`${base}/api/content?namespace=default&ref=${hash}`, { headers });
    expect(ok.headers.get('content-type')).toBe('application/octet-stream');
    expect(ok.headers.get('content-disposition')).toBe("attachment; filename*=UTF-8''page.html");
    expect(await ok.text()).toBe('<script>alert(1)</script>');
    // A bad reference is the client's mistake (400), a missing one 404: never a server error.
    for (const [query, status, code] of [
      ['namespace=default&ref=../../etc/passwd', 400, 'invalid_key'],
      ['namespace=../etc&ref=' + hash, 400, 'invalid_namespace'],
      ['namespace=default&ref=0000000000000000', 404, 'not_found'],
    ] as const) {
      const refused = await fetch(`${base}/api/content?${query}`, { headers });
      expect([query, refused.status, ((await refused.json()) as { error: { code: string } }).error.code]).toEqual([query, status, code]);
    }
  });

  it('stopped mid-upload (Ctrl+C), the bridge leaves no partial file: closing waits for the cancelled store to clean up', async () => {
    const storeDir = path.join(dir, `stopped-${Date.now()}`);
    const session = new AppSession({ profiles: new ProfileStore(path.join(dir, 'stopped-profiles.json'), NO_KEYRING, storeDir), commandLine: { kind: 'local', dir: storeDir } });
    await session.start();
    const bridge = await startBridge({ session, dispatch: createDispatcher(session), staticDir });
    const upload = request({ host: '127.0.0.1', port: bridge.port, method: 'POST', path: '/api/upload?op=store&namespace=default&transferId=stop1', headers: { 'x-cache-admin-token': bridge.token, 'content-length': String(64 << 20) } });
    upload.on('error', () => undefined); // the bridge goes away mid-body
    upload.write(Buffer.alloc(9 << 20, 3)); // two ring buffers: the second opens the spool file; the rest never comes
    const staged = () => readdirSync(path.join(storeDir, '.staging')).length;
    await expect.poll(() => (existsSync(path.join(storeDir, '.staging')) ? staged() : 0), { timeout: 10_000 }).toBe(1);
    await bridge.close(); // what `npm run web` does on SIGINT/SIGTERM, then it exits
    await session.close();
    expect(staged()).toBe(0);
  });

  it('never serves corrupt content as a download: small content is an error answer, big content a cut connection', async () => {
    const storeDir = path.join(dir, `corrupt-${Date.now()}`);
    const session = new AppSession({ profiles: new ProfileStore(path.join(dir, 'corrupt-profiles.json'), NO_KEYRING, storeDir), commandLine: { kind: 'local', dir: storeDir } });
    await session.start();
    const bridge = await startBridge({ session, dispatch: createDispatcher(session), staticDir });
    running.push(bridge);
    const headers = { 'x-cache-admin-token': bridge.token };
    const download = (hash: string) => fetch(`http://127.0.0.1:${bridge.port}/api/content?namespace=default&ref=${hash}`, { headers });
    const big = Buffer.alloc(3 * 1024 * 1024, 'xy'); // three reads from the folder: the first goes out before the check ends
    for (const content of [Buffer.from('hello world'), big]) {
      const stored = await session.format.store('default', { source: { kind: 'bytes', bytes: content } });
      const file = path.join(storeDir, stored.keys[0]!);
      expect((await download(stored.hash)).status).toBe(200);
      const changed = Buffer.from(content);
      changed[changed.length - 1] = 0x21;
      writeFileSync(file, changed);
      const res = await download(stored.hash);
      if (content === big) {
        expect(res.status).toBe(200);
        await expect(res.arrayBuffer()).rejects.toThrow(); // the body never completes
      } else {
        expect(res.status).toBe(500);
        expect(await res.json()).toMatchObject({ ok: false, error: { code: 'corrupt', message: expect.stringContaining(`${stored.cache_id} is corrupt`) } });
      }
    }
  });

  it('serves the renderer with the CSP and never a file outside it', async () => {
    const { base } = await setup();
    const index = await fetch(`${base}/`);
    expect(index.status).toBe(200);
    expect(index.headers.get('content-security-policy')).toContain(CONTENT_SECURITY_POLICY);
    expect(index.headers.get('referrer-policy')).toBe('no-referrer');
    for (const p of ['/../secret.txt', '/%2e%2e/secret.txt', '/..%2fsecret.txt', '/%00', '/missing.js']) {
        const status = await new Promise<number>((resolve) => {
        const url = new URL(base);
        request({ host: url.hostname, port: url.port, path: p }, (res) => (res.resume(), resolve(res.statusCode ?? 0))).end();
      });
      expect(status, p).toBe(404);
    }
  });

  it('`npm run web` prints one line with the URL and serves the contract', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src-main/bridge/main.ts', '--memory', '--port', '0'], { cwd: REPO_ROOT, env: { ...process.env, XDG_CONFIG_HOME: dir } });
    try {
      const line = await firstLine(child);
      const url = new URL(/http:\S+/.exec(line)![0]);
      expect(url.hostname).toBe('127.0.0.1');
      const token = url.searchParams.get('token')!;
      const res = await fetch(new URL('/api/call/capabilities', url), { method: 'POST', headers: { 'x-cache-admin-token': token } });
      expect(await res.json()).toMatchObject({ ok: true, value: { profile: 'command-line', store: 'memory' } });
    } finally {
      child.kill('SIGTERM');
    }
  });

  /** The first line a started `npm run web` prints (its URL); fails if it exits first. */
  function firstLine(child: ChildProcessWithoutNullStreams): Promise<string> {
    return new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString();
        if (out.includes('\n')) resolve(out.split('\n')[0] ?? '');
      });
      child.on('exit', (code) => reject(new Error(`exited ${code}`)));
    });
  }

  /** `npm run web` with these arguments, run to its end: its exit code and what it said on stderr. */
  async function webEnds(args: string[], env: Record<string, string> = {}): Promise<[number | null, string]> {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src-main/bridge/main.ts', ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, XDG_CONFIG_HOME: dir, AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'not-a-secret', ...env },
    });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    return [code, stderr];
  }

  it('`npm run web` ends with the CLI\'s exit codes: 3 for a store it cannot open or a port taken (it was 2, which says bad input), 2 for bad input', async () => {
    expect(await webEnds(['--s3-bucket', 'cache-admin', '--s3-endpoint', 'http://127.0.0.1:9', '--s3-path-style', '--port', '0'])).toEqual([3, 'cache-admin web: cannot open the store: bucket cache-admin at http://127.0.0.1:9 is unreachable (ECONNREFUSED)\n']);
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = taken.address() as AddressInfo;
      expect(await webEnds(['--memory', '--port', String(port)])).toEqual([3, `cache-admin web: port ${port} is in use: pass --port N (0 picks a free one)\n`]);
    } finally {
      taken.close();
    }
    expect((await webEnds(['--memory', '--port', '99999']))[0]).toBe(2);
  });

  it('`npm run web --store DIR` on a folder that does not exist does not start (exit 3) and makes no folder: it was served as an empty store the first drop created', async () => {
    const missing = path.join(dir, 'no-such-parent', 'store');
    expect(await webEnds(['--store', missing, '--port', '0'])).toEqual([3, `cache-admin web: cannot open the store: the folder ${missing} does not exist: create it first, or choose another\n`]);
    expect(existsSync(path.join(dir, 'no-such-parent'))).toBe(false);
    // Bad input is still said as bad input (exit 2), before the folder is looked at.
    expect((await webEnds(['--store', missing, '--port', '0', '--max-entry-size', '0']))[0]).toBe(2);
    // Named by $CACHE_ADMIN_STORE instead (the CLI refuses it there too).
    expect(await webEnds(['--port', '0'], { CACHE_ADMIN_STORE: missing })).toEqual([3, `cache-admin web: cannot open the store: the folder ${missing} does not exist: create it first, or choose another\n`]);
    expect(existsSync(path.join(dir, 'no-such-parent'))).toBe(false);
  });

  it('`npm run web` with no --store starts on a fresh machine (no app data folder yet), and so does --store naming the app\'s own store folder', async () => {
    for (const args of [[], ['--store', path.join(dir, 'fresh-2', 'cache-admin', 'store')]]) {
      const configHome = path.join(dir, args.length ? 'fresh-2' : 'fresh-1');
      const child = spawn(process.execPath, ['--import', 'tsx', 'src-main/bridge/main.ts', ...args, '--port', '0'], { cwd: REPO_ROOT, env: { ...process.env, XDG_CONFIG_HOME: configHome, CACHE_ADMIN_STORE: undefined } });
      try {
        const line = await firstLine(child);
        expect(line).toContain(`local folder ${path.join(configHome, 'cache-admin', 'store')}, native layout): open http://127.0.0.1:`);
      } finally {
        child.kill('SIGTERM');
      }
    }
  });

  it('`npm run web` refuses an empty $CACHE_ADMIN_STORE (an unset variable in a script) where it would pick the store, and minds it not beside a store given', async () => {
    const empty = { CACHE_ADMIN_STORE: '' };
    expect(await webEnds(['--port', '0'], empty)).toEqual([2, 'cache-admin web: CACHE_ADMIN_STORE is set but empty (an unset variable?): nothing was opened; unset it to use the default store\n']);
    // Past the variable, to opening the store given (here one that is not there).
    expect(await webEnds(['--s3-bucket', 'cache-admin', '--s3-endpoint', 'http://127.0.0.1:9', '--s3-path-style', '--port', '0'], empty)).toEqual([3, expect.stringContaining('cannot open the store')]);
  });
});
