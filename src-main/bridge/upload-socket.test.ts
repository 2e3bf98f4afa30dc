import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { createServer } from 'node:http';
import { type AddressInfo, connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { BufferRing } from '../core/buffer-ring';
import { createDispatcher } from '../ipc/dispatch';
import { AppSession } from '../ipc/session';
import { ProfileStore } from '../profiles/profiles';
import { NO_KEYRING } from '../profiles/secret-box';
import { startBridge, type Bridge } from './server';
import { type SocketUpload, UploadBody, parseRequestHead, receiveUploadsDirectly } from './upload-socket';

const dir = mkdtempSync(path.join(tmpdir(), 'upload-socket-'));
const open: { bridge: Bridge; session: AppSession }[] = [];

afterEach(async () => {
  vi.restoreAllMocks();
  for (const { bridge, session } of open.splice(0)) {
    await bridge.close();
    await session.close();
  }
});

/** A bridge on a local-folder store (the store that reads uploads into its ring buffers). */
async function localBridge(maxEntryBytes?: number, uploadIdleMs?: number) {
  const storeDir = mkdtempSync(path.join(dir, 'store-'));
  const session = new AppSession({ profiles: new ProfileStore(path.join(storeDir, '..', `${path.basename(storeDir)}.json`), NO_KEYRING, storeDir), commandLine: { kind: 'local', dir: storeDir }, cacheOptions: { maxEntryBytes } });
  await session.start();
  const bridge = await startBridge({ session, dispatch: createDispatcher(session), staticDir: dir, uploadIdleMs });
  open.push({ bridge, session });
  const call = async (method: string, payload: unknown) => {
    const res = await fetch(`http://127.0.0.1:${bridge.port}/api/call/${method}`, { method: 'POST', headers: { 'x-cache-admin-token': bridge.token }, body: JSON.stringify(payload) });
    return (await res.json()) as { ok: boolean; value?: Record<string, unknown> };
  };
  const uploadHead = (length: number, extra = '') =>
    `POST /api/upload?op=store&namespace=default&name=f.bin&transferId=t${Math.random().toString(36).slice(2, 8)} HTTP/1.1\r\n` +
    `Host: 127.0.0.1:${bridge.port}\r\nx-cache-admin-token: ${bridge.token}\r\nContent-Length: ${length}\r\n${extra}\r\n`;
  return { bridge, session, storeDir, call, uploadHead };
}

/** A raw connection: what it received so far, and whether the server closed or reset it. */
function client(port: number) {
  const socket = connect(port, '127.0.0.1');
  const state = { received: '', ended: false, reset: false, socket };
  socket.on('data', (c: Buffer) => (state.received += c.toString('latin1')));
  socket.on('end', () => (state.ended = true));
  socket.on('error', () => (state.reset = true));
  return state;
}

const writeSlowly = async (socket: Socket, bytes: Buffer, pieces: number[]) => {
  let at = 0;
  for (const size of pieces) {
    socket.write(bytes.subarray(at, (at += size)));
    await new Promise((r) => setTimeout(r, 5));
  }
  socket.write(bytes.subarray(at));
};

const answerOf = (received: string) => JSON.parse(received.slice(received.indexOf('\r\n\r\n') + 4)) as { ok: boolean; value?: Record<string, unknown>; error?: { code: string } };

describe('uploads read straight off their socket', () => {
  it('parses only plain HTTP/1.1 heads with one Content-Length; anything else is left to Node', () => {
    const head = (lines: string[]) => parseRequestHead(`${lines.join('\r\n')}\r\n\r\n`);
    expect(head(['POST /api/upload?a=1 HTTP/1.1', 'Host: h', 'Content-Length: 12', 'X-Empty:'])).toEqual({
      method: 'POST',
      target: '/api/upload?a=1',
      headers: { host: 'h', 'content-length': '12', 'x-empty': '' },
      length: 12,
    });
    for (const lines of [
      ['POST /api/upload HTTP/1.1', 'Content-Length: 12', 'content-length: 12'], // repeated: smuggling's first tool
      ['POST /api/upload HTTP/1.1', 'Content-Length: 12', 'Transfer-Encoding: chunked'],
      ['POST /api/upload HTTP/1.1', 'Transfer-Encoding: chunked'],
      ['POST /api/upload HTTP/1.1'], // no length
      ['POST /api/upload HTTP/1.1', 'Content-Length: -1'],
      ['POST /api/upload HTTP/1.1', 'Content-Length: 1e3'],
      ['POST /api/upload HTTP/1.1', 'Content-Length: 1234567890123456'],
      ['POST /api/upload HTTP/1.0', 'Content-Length: 12'],
      ['POST /api/upload HTTP/1.1', 'Content-Length: 12', ' folded'],
      ['POST /api/upload HTTP/1.1', 'Content-Length: 12\nX: y'], // a bare line feed
      ['POST /api/upload HTTP/1.1', 'Content-Length : 12'],
      ['POST /api/upload HTTP/1.1', 'Content-Length: 12', 'Expect: something-else'],
      ['POST /api/upload HTTP/1.1', 'Content-Length: 12', 'Upgrade: websocket'],
      ['POST  /api/upload HTTP/1.1', 'Content-Length: 12'],
    ]) {
      expect(head(lines), lines.join(' | ')).toBeNull();
    }
  });

  it('stores an upload sent in uneven pieces, after 100 Continue, byte for byte, read into the store ring buffers', async () => {
    const { bridge, call, uploadHead } = await localBridge();
    const readInto = vi.spyOn(UploadBody.prototype, 'readInto');
    const content = randomBytes(9 * 1024 * 1024 + 12345); // two whole ring buffers and a tail
    const c = client(bridge.port);
    await writeSlowly(c.socket, Buffer.from(uploadHead(content.length, 'Expect: 100-continue\r\n')), [1, 1, 30, 7]); // a head in pieces
    await expect.poll(() => c.received).toBe('HTTP/1.1 100 Continue\r\n\r\n');
    await writeSlowly(c.socket, content, [3, 65536, 100_000, 4 << 20, 1]);
    await expect.poll(() => c.ended, { timeout: 10_000 }).toBe(true);
    const answer = answerOf(c.received.slice('HTTP/1.1 100 Continue\r\n\r\n'.length));
    const hash = createHash('sha256').update(content).digest('hex').slice(0, 16);
    expect(answer).toMatchObject({ ok: true, value: { hash, size: content.length } });
    expect(c.received).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 OK\r\n[^]*Content-Security-Policy: /);
    expect(readInto.mock.calls[0]?.[0]).toBeInstanceOf(BufferRing); // not a copy of each chunk
    const back = await fetch(`http://127.0.0.1:${bridge.port}/api/content?namespace=default&ref=${hash}`, { headers: { 'x-cache-admin-token': bridge.token } });
    expect(Buffer.from(await back.arrayBuffer()).equals(content)).toBe(true);
    expect(await call('verify', { namespace: 'default', transferId: 'v1' })).toMatchObject({ ok: true, value: { problems: [] } });
  });

  it('a client that goes away mid-body stores nothing and leaves nothing staged', async () => {
    const { bridge, storeDir, call, uploadHead } = await localBridge();
    const c = client(bridge.port);
    c.socket.write(uploadHead(64 << 20));
    c.socket.write(randomBytes(9 << 20));
    await expect.poll(() => existsSync(path.join(storeDir, '.staging')) && readdirSync(path.join(storeDir, '.staging')).length, { timeout: 10_000 }).toBe(1);
    c.socket.destroy();
    await expect.poll(() => readdirSync(path.join(storeDir, '.staging')).length, { timeout: 10_000 }).toBe(0);
    expect(await call('namespaces', {})).toEqual({ ok: true, value: { namespaces: [] } });
  });

  it('a body that ends before its Content-Length is refused, and nothing is stored', async () => {
    const { bridge, call, uploadHead } = await localBridge();
    const c = client(bridge.port);
    c.socket.end(`${uploadHead(10 << 20)}${'x'.repeat(5 << 20)}`); // half of it, then the client's side closes
    await expect.poll(() => c.ended, { timeout: 10_000 }).toBe(true);
    expect(answerOf(c.received)).toMatchObject({ ok: false, error: { code: 'invalid_input', message: expect.stringContaining('ended before its Content-Length') } });
    expect(await call('namespaces', {})).toEqual({ ok: true, value: { namespaces: [] } });
  });

  it('stops an upload whose client sends nothing for the idle limit, plain or chunked: refused, nothing stored or staged', async () => {
    const { bridge, storeDir, call, uploadHead } = await localBridge(undefined, 500);
    const readInto = vi.spyOn(UploadBody.prototype, 'readInto');
    const chunked = uploadHead(0).replace('Content-Length: 0\r\n', 'Transfer-Encoding: chunked\r\n');
    for (const [start, direct] of [
      [`${uploadHead(64 << 20)}${'x'.repeat(9 << 20)}`, true],
      [`${chunked}${(9 << 20).toString(16)}\r\n${'x'.repeat(9 << 20)}\r\n`, false],
    ] as const) {
      readInto.mockClear();
      const c = client(bridge.port);
      c.socket.write(start); // then nothing more, the connection left open
      // Node's server answers the chunked upload in one chunk of its own.
      await expect.poll(() => c.received.includes('}}'), { timeout: 10_000 }).toBe(true);
      const answer = JSON.parse(c.received.slice(c.received.indexOf('{"ok"'), c.received.lastIndexOf('}}') + 2)) as unknown;
      expect(answer).toMatchObject({ ok: false, error: { code: 'invalid_input', message: expect.stringContaining('the upload stalled: nothing arrived for 0.5 s') } });
      expect(readInto.mock.calls.length > 0).toBe(direct);
      c.socket.destroy();
    }
    expect(await call('namespaces', {})).toEqual({ ok: true, value: { namespaces: [] } });
    expect(readdirSync(path.join(storeDir, '.staging'))).toEqual([]);
  });

  it('a cancel of an upload whose client stopped sending answers at once, plain or chunked: cancelled, nothing stored or staged', async () => {
    const { bridge, storeDir, call, uploadHead } = await localBridge(undefined, 60_000);
    const chunked = uploadHead(0).replace('Content-Length: 0\r\n', 'Transfer-Encoding: chunked\r\n');
    for (const start of [`${uploadHead(64 << 20)}${'x'.repeat(9 << 20)}`, `${chunked}${(9 << 20).toString(16)}\r\n${'x'.repeat(9 << 20)}\r\n`]) {
      const transferId = /transferId=(\w+)/.exec(start)![1];
      const c = client(bridge.port);
      c.socket.write(start); // then nothing more, the connection left open: a page frozen mid-upload
      await expect.poll(async () => readdirSync(path.join(storeDir, '.staging')).length, { timeout: 10_000 }).toBe(1); // storing
      const asked = Date.now();
      expect(await call('cancel', { transferId })).toEqual({ ok: true, value: { cancelled: true } });
      await expect.poll(() => c.received.includes('}}'), { timeout: 10_000 }).toBe(true);
      expect(Date.now() - asked).toBeLessThan(10_000); // not the idle limit's minute
      const answer = JSON.parse(c.received.slice(c.received.indexOf('{"ok"'), c.received.lastIndexOf('}}') + 2)) as unknown;
      expect(answer).toMatchObject({ ok: false, error: { code: 'cancelled' } });
      c.socket.destroy();
    }
    expect(await call('namespaces', {})).toEqual({ ok: true, value: { namespaces: [] } });
    expect(readdirSync(path.join(storeDir, '.staging'))).toEqual([]);
  });

  it('a cancel of an upload still coming answers cancelled, then reads and drops the rest: no reset', async () => {
    const { bridge, call, uploadHead } = await localBridge(undefined, 60_000);
    const head = uploadHead(64 << 20);
    const transferId = /transferId=(\w+)/.exec(head)![1];
    const c = client(bridge.port);
    c.socket.write(head);
    const sending = (async () => {
      for (let sent = 0; sent < 64 << 20 && !c.received.includes('\r\n\r\n{'); sent += 256 << 10) {
        c.socket.write(Buffer.alloc(256 << 10, 1));
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    await new Promise((r) => setTimeout(r, 200));
    expect(await call('cancel', { transferId })).toEqual({ ok: true, value: { cancelled: true } });
    await expect.poll(() => c.received.includes('\r\n\r\n{'), { timeout: 10_000 }).toBe(true);
    await sending;
    expect(answerOf(c.received)).toMatchObject({ ok: false, error: { code: 'cancelled' } });
    expect(c.reset).toBe(false);
    c.socket.destroy();
  });

  /** An upload taken by receiveUploadsDirectly on a bare HTTP server, its head sent with `length`. */
  async function directUpload(length: number, idleMs: number) {
    const server = createServer();
    let taken: (upload: SocketUpload) => void = () => undefined;
    const upload = new Promise<SocketUpload>((resolve) => (taken = resolve));
    const held = receiveUploadsDirectly(server, { start: 'POST /up', takes: () => true, onUpload: (u) => taken(u), idleMs });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const c = client((server.address() as AddressInfo).port);
    c.socket.write(`POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: ${length}\r\n\r\n`);
    const close = () => {
      c.socket.destroy();
      held.destroyAll();
      server.close();
    };
    return { c, upload, close };
  }

  it("after a cancel, what the client still sends lands in the connection's own buffer, never in the buffer the store gave it", async () => {
    const { c, upload, close } = await directUpload(4 << 20, 60_000);
    try {
      c.socket.write(Buffer.alloc(1 << 20, 'x')); // a quarter of the store's buffer, then the client stops
      const { body, answer } = await upload;
      const storeBuffer = new Uint8Array(4 << 20); // the store's ring buffer, reused by another store after a cancel
      const reading = (async () => {
        for await (const chunk of body.readInto({ next: async () => storeBuffer })) void chunk;
      })();
      await expect.poll(() => storeBuffer[(1 << 20) - 1], { timeout: 10_000 }).toBe(0x78);
      body.interrupt(new Error('cancelled'));
      await expect(reading).rejects.toThrow('cancelled');
      answer(200, {}, 'cancelled', 60_000); // reads and drops the rest of the body
      c.socket.write(Buffer.alloc(3 << 20, 'Z'));
      await expect.poll(() => c.ended || storeBuffer[1 << 20] !== 0, { timeout: 10_000 }).toBe(true);
      expect(storeBuffer.subarray(1 << 20).every((b) => b === 0)).toBe(true);
      expect(c.ended).toBe(true); // the body's rest read and dropped (its first MiB counted), the answer given, closed
    } finally {
      close();
    }
  });

  it('after a stall, what the client sends at last never lands in the buffer the store gave it', async () => {
    const { c, upload, close } = await directUpload(4 << 20, 300);
    try {
      c.socket.write(Buffer.alloc(1 << 20, 'x'));
      const { body } = await upload;
      const storeBuffer = new Uint8Array(4 << 20);
      const reading = (async () => {
        for await (const chunk of body.readInto({ next: async () => storeBuffer })) void chunk;
      })();
      await expect(reading).rejects.toThrow(/stalled/);
      c.socket.write(Buffer.alloc(1 << 20, 'Z'));
      await new Promise((r) => setTimeout(r, 300));
      expect(storeBuffer[1 << 20]).toBe(0);
    } finally {
      close();
    }
  });

  it('a cancel that comes while the store is busy with the chunk before ends the next read at once', async () => {
    const { c, upload, close } = await directUpload(8 << 20, 60_000);
    try {
      c.socket.write(Buffer.alloc(4 << 20, 'x')); // one whole chunk, then the client stops
      const { body } = await upload;
      let storeDone!: () => void;
      const storing = new Promise<void>((resolve) => (storeDone = resolve));
      let asked = 0;
      // The second buffer is free only once the first chunk is stored: no read waits meanwhile.
      const chunks = body.readInto({ next: async () => ((asked++ === 1 && (await storing)), new Uint8Array(4 << 20)) })[Symbol.asyncIterator]();
      await chunks.next();
      const second = chunks.next();
      await new Promise((r) => setTimeout(r, 50));
      body.interrupt(new Error('cancelled'));
      storeDone();
      await expect(second).rejects.toThrow('cancelled'); // not the idle limit's minute later
    } finally {
      close();
    }
  });

  it('a client sending slowly, but never silent for the idle limit, stores its upload', async () => {
    const { bridge, call, uploadHead } = await localBridge(undefined, 500);
    const bytes = randomBytes(64 * 1024);
    const c = client(bridge.port);
    c.socket.write(uploadHead(bytes.byteLength));
    for (let at = 0; at < bytes.byteLength; at += 16 * 1024) {
      await new Promise((r) => setTimeout(r, 300));
      c.socket.write(bytes.subarray(at, at + 16 * 1024));
    }
    await expect.poll(() => c.received.includes('\r\n\r\n{'), { timeout: 10_000 }).toBe(true);
    expect(answerOf(c.received)).toMatchObject({ ok: true, value: { hash: createHash('sha256').update(bytes).digest('hex').slice(0, 16) } });
    expect(await call('namespaces', {})).toMatchObject({ ok: true, value: { namespaces: [{ name: 'default', entries: 1 }] } });
  });

  it('answers an upload refused part-way while its body still comes, then closes; no reset', async () => {
    const { bridge, call, uploadHead } = await localBridge(1 << 20);
    const c = client(bridge.port);
    c.socket.write(uploadHead(8 << 20));
    for (let i = 0; i < 8; i++) {
      c.socket.write(Buffer.alloc(1 << 20, i));
      await new Promise((r) => setTimeout(r, 20));
    }
    await expect.poll(() => c.ended, { timeout: 10_000 }).toBe(true);
    expect(c.reset).toBe(false);
    expect(answerOf(c.received)).toMatchObject({ ok: false, error: { code: 'too_large' } });
    expect(await call('namespaces', {})).toEqual({ ok: true, value: { namespaces: [] } });
  });

  it('refuses an upload whose Content-Length is over the size limit at once, before any of its body is sent', async () => {
    const { bridge, call, uploadHead } = await localBridge(1 << 20);
    const c = client(bridge.port);
    c.socket.write(uploadHead(8 * 2 ** 30)); // 8 GiB declared; not a byte of it sent
    await expect.poll(() => c.received.includes('\r\n\r\n{'), { timeout: 5_000 }).toBe(true); // the answer, while the body would still come
    c.socket.destroy();
    expect(answerOf(c.received)).toMatchObject({ ok: false, error: { code: 'too_large', message: expect.stringContaining('1 MiB limit') } });
    expect(await call('namespaces', {})).toEqual({ ok: true, value: { namespaces: [] } });
  });

  it('leaves every other request to Node: chunked uploads, a wrong token, other routes, oversized heads', async () => {
    const { bridge, uploadHead } = await localBridge();
    const readInto = vi.spyOn(UploadBody.prototype, 'readInto');
    const exchange = async (text: string) => {
      const c = client(bridge.port);
      c.socket.write(text);
      // The whole answer (a refused request whose body was not read keeps its connection open).
      const whole = () => {
        const end = c.received.indexOf('\r\n\r\n');
        const length = /\r\nContent-Length: (\d+)/i.exec(c.received.slice(0, end));
        return end >= 0 && (length ? c.received.length >= end + 4 + Number(length[1]) : c.received.endsWith('0\r\n\r\n'));
      };
      await expect.poll(() => whole() || c.ended || c.reset, { timeout: 10_000 }).toBe(true);
      c.socket.destroy();
      return c.received;
    };
    const chunked = uploadHead(0).replace('Content-Length: 0\r\n', 'Transfer-Encoding: chunked\r\n');
    expect(await exchange(`${chunked}5\r\nhello\r\n0\r\n\r\n`)).toMatch(/^HTTP\/1\.1 200 OK\r\n[^]*\{"ok":true,"value":\{[^}]*"hash":"2cf24dba5fb0a30e"/);
    expect(await exchange(`${uploadHead(5).replace(bridge.token, 'wrong')}hello`)).toMatch(/^HTTP\/1\.1 401 /);
    expect(await exchange(`${uploadHead(5).replace('Host: 127.0.0.1', 'Host: evil.example')}hello`)).toMatch(/^HTTP\/1\.1 403 /);
    expect(await exchange(`GET /api/events?x HTTP/1.1\r\nHost: 127.0.0.1:${bridge.port}\r\n\r\n`)).toMatch(/^HTTP\/1\.1 401 /);
    expect(await exchange(`${uploadHead(5, `X-Big: ${'a'.repeat(20_000)}\r\n`)}hello`)).toMatch(/^HTTP\/1\.1 431 /);
    // A smuggling attempt: Node's parser refuses it, and nothing is read as a second request.
    expect(await exchange(`${uploadHead(5, 'Content-Length: 40\r\n')}hello`)).toMatch(/^HTTP\/1\.1 400 /);
    expect(readInto).not.toHaveBeenCalled();
  });

  it('answers an upload head that does not come within headersTimeout with 408, as Node does, and closes', async () => {
    const { bridge } = await localBridge();
    bridge.server.headersTimeout = 300;
    const c = client(bridge.port);
    c.socket.write('POST /api/upload HTTP/1.1\r\nHost: 1');
    await expect.poll(() => c.ended, { timeout: 5_000 }).toBe(true);
    expect(c.received).toBe('HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n');
  });

  it("hands anything that is not an upload's plain head to Node at its first bytes: garbage, a bare line feed, TLS", async () => {
    const { bridge } = await localBridge();
    for (const bytes of ['HELLO THERE\r\n', `GET / HTTP/1.1\nHost: 127.0.0.1:${bridge.port}\n`, 'POST /api/upload HTTP/1.1\nHost: x\n', '\x16\x03\x01\x02\x00\x01\x00']) {
      const c = client(bridge.port);
      c.socket.write(Buffer.from(bytes, 'latin1')); // no blank line: the head never ends
      await expect.poll(() => c.received, { timeout: 2_000 }).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
      c.socket.destroy();
    }
  });

  it('answers an upload head the client stops sending (half-closed) with 400', async () => {
    const { bridge } = await localBridge();
    const c = client(bridge.port);
    c.socket.end('POST /api/upload?op=store HTTP/1.1\r\nHost: 127');
    await expect.poll(() => c.ended, { timeout: 2_000 }).toBe(true);
    expect(c.received).toBe('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
  });

  it('closing the bridge closes connections still sending their head', async () => {
    const { bridge } = await localBridge();
    const idle = client(bridge.port);
    const partial = client(bridge.port);
    partial.socket.write('POST /api/upload HTTP/1.1\r\n');
    await new Promise((r) => setTimeout(r, 100));
    await bridge.close();
    await expect.poll(() => idle.ended && partial.ended, { timeout: 1_000 }).toBe(true);
  });
});

describe('connections', () => {
  it('an answered upload leaves no socket open on the bridge once the client has closed', async () => {
    const { bridge, uploadHead } = await localBridge();
    const sockets = () => process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap').length;
    const before = sockets();
    const c = client(bridge.port);
    c.socket.end(`${uploadHead(5)}hello`);
    await expect.poll(() => c.ended, { timeout: 5_000 }).toBe(true);
    expect(answerOf(c.received)).toMatchObject({ ok: true });
    c.socket.destroy();
    await expect.poll(sockets, { timeout: 5_000 }).toBe(before);
  });
});
