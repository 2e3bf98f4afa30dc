import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import mime from 'mime';
import type { ZodError } from 'zod';
import { batchQuerySchema, entryRefSchema, namespaceTextSchema, uploadQuerySchema, type CacheAdminEvent, type Result } from '../../src-shared/contract';
import { CONTENT_SECURITY_POLICY } from '../../src-shared/csp';
import { CacheError, INPUT_ERROR_CODES, type ErrorCode } from '../../src-shared/errors';
import { afterEntriesCall, errorResult, hashReport, retrieveRef, schemaRefusal, servedSize, suggestedFileName, type Dispatch } from '../ipc/dispatch';
import { archiveEntries } from '../ipc/entries-browser';
import { EventStream, kindOf } from './event-stream';
import type { AppSession } from '../ipc/session';
import { entrySelectionSchema } from '../../src-shared/contract';
import { readBatch } from './batch-body';
import { receiveUploadsDirectly } from './upload-socket';
import { idleLimited } from './body-chunks';

export const BRIDGE_HOST = '127.0.0.1';
/** storeBytes carries up to 1 MiB as base64; nothing else comes close. */
const MAX_CALL_BODY = 2 * 1024 * 1024;
const HEARTBEAT_MS = 15_000;

export interface BridgeOptions {
  session: AppSession;
  dispatch: Dispatch;
  /** The built renderer (out/renderer). */
  staticDir: string;
  /** 0 picks a free port. */
  port?: number;
  token?: string;
  /** How long an upload's client may send nothing before the upload is stopped (default a minute). */
  uploadIdleMs?: number;
}

export interface Bridge {
  url: string;
  /** The address actually bound. */
  address: string;
  port: number;
  token: string;
  /** The HTTP server itself (its limits). */
  server: Server;
  close(): Promise<void>;
}

const SECURITY_HEADERS = {
  'Content-Security-Policy': `${CONTENT_SECURITY_POLICY}; frame-ancestors 'none'`,
  'X-Content-Type-Options': 'nosniff',
  // The page URL carries the token: never send it anywhere as a referrer.
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

const JSON_HEADERS = { ...SECURITY_HEADERS, 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' };

/** An answer with a JSON body. */
interface Answer {
  status: number;
  body: Result<unknown>;
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, JSON_HEADERS);
  res.end(JSON.stringify(body));
}

function refusal(status: number, code: ErrorCode, message: string): Answer {
  return { status, body: { ok: false, error: { code, message } } };
}

/** A content download that could not start: a bad reference is the client's (400), a missing or expired version 404/410. */
function contentFailureStatus(err: unknown): number {
  if (!(err instanceof CacheError)) return 500;
  if (INPUT_ERROR_CODES.has(err.code)) return 400;
  return err.code === 'not_found' ? 404 : err.code === 'expired' ? 410 : 500;
}

function fail(res: ServerResponse, status: number, code: ErrorCode, message: string): void {
  sendJson(res, status, refusal(status, code, message).body);
}

/** A query the route's schema refused, with the code its field has everywhere (a namespace: invalid_namespace). */
function queryRefusal(route: string, error: ZodError): Answer {
  const { code, message } = schemaRefusal(route, error);
  return refusal(400, code, message);
}

function failQuery(res: ServerResponse, route: string, error: ZodError): void {
  const { status, body } = queryRefusal(route, error);
  sendJson(res, status, body);
}

/** How long a client still sending a refused body is read from so it gets the answer (as nginx's lingering_time). */
const LINGER_MS = 30_000;
/** An upload whose client sends nothing for this long is stopped: as long as a request head may take. */
const UPLOAD_IDLE_MS = 60_000;

/**
 * Each request on a connection of its own: a connection's first request head is where an upload can
 * still be taken off Node's parser and read straight into the store's buffers
 * (receiveUploadsDirectly), and a loopback connection costs a fraction of a millisecond. So answers
 * say `Connection: close`, but only once the request's body is read: closed with bytes unread, the
 * kernel resets the connection and the client sees that instead of the answer. A request whose body
 * is left unread keeps its connection, and Node reads and drops the rest.
 */
function closeWhenRead(res: ServerResponse, read: boolean): void {
  if (read) res.setHeader('Connection', 'close');
}

function carriesBody(req: IncomingMessage): boolean {
  return (req.headers['content-length'] ?? '0') !== '0' || req.headers['transfer-encoding'] !== undefined;
}

/**
 * Lets the client of a request refused part-way (too large, no space) get the answer while its body
 * still comes: the rest is read and dropped (for at most LINGER_MS), on a connection kept open.
 * Called before the answer goes out.
 */
function lingerUnlessRead(req: IncomingMessage, res: ServerResponse): void {
  closeWhenRead(res, req.complete);
  if (req.complete || req.destroyed) return;
  const cut = setTimeout(() => req.destroy(), LINGER_MS).unref();
  req.on('end', () => clearTimeout(cut));
  req.on('close', () => clearTimeout(cut));
  // A body read through an async iterator that stopped part-way (a batch's file refused) is left in
  // 'readable' mode, where resume() reads nothing: the client, still sending, was reset after LINGER_MS.
  req.removeAllListeners('readable');
  req.on('data', () => undefined);
  req.resume();
}

/** The token cookie is per port: cookies are shared by every port of a host, bridges are not. */
function cookieName(port: number): string {
  return `cache-admin-token-${port}`;
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const pair of (header ?? '').split(';')) {
    const eq = pair.indexOf('=');
    if (eq > 0 && pair.slice(0, eq).trim() === name) return pair.slice(eq + 1).trim();
  }
  return undefined;
}

/** A browser says where a request comes from: Origin (any non-GET, every CORS request) and Sec-Fetch-Site. */
function fromAnotherSite(headers: IncomingHttpHeaders, ownOrigin: string): boolean {
  const { origin } = headers;
  const site = headers['sec-fetch-site'];
  return (origin !== undefined && origin !== ownOrigin) || (site !== undefined && site !== 'same-origin' && site !== 'none');
}

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | null> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.byteLength;
    if (size > limit) return null;
    parts.push(chunk);
  }
  return Buffer.concat(parts);
}

/**
 * The loopback bridge: the same contract dispatch as Electron IPC, over HTTP on 127.0.0.1 only,
 * behind a random per-run token. Serves the built renderer, streams uploads and downloads, and
 * pushes events over Server-Sent Events.
 */
export async function startBridge(options: BridgeOptions): Promise<Bridge> {
  const { session, dispatch, uploadIdleMs = UPLOAD_IDLE_MS } = options;
  const token = options.token ?? randomBytes(24).toString('base64url');
  const tokenBytes = Buffer.from(token);
  const staticRoot = path.resolve(options.staticDir);
  const eventStreams = new Map<ServerResponse, EventStream>();
  let port = 0;

  const tokenMatches = (given: string | undefined) => {
    const bytes = Buffer.from(given ?? '');
    return bytes.length === tokenBytes.length && timingSafeEqual(bytes, tokenBytes);
  };
  // Scripts send the header; the page sends the cookie (EventSource and downloads cannot set headers).
  const authorized = (headers: IncomingHttpHeaders) => tokenMatches(String(headers['x-cache-admin-token'] ?? '')) || tokenMatches(cookieValue(headers.cookie, cookieName(port)));

  const unsubscribe = session.onEvent((event: CacheAdminEvent) => {
    const frame = `data: ${JSON.stringify(event)}\n\n`;
    const kind = kindOf(event);
    for (const stream of eventStreams.values()) stream.send(kind, frame);
  });

  async function serveStatic(res: ServerResponse, pathname: string): Promise<void> {
    let relative;
    try {
      relative = pathname === '/' ? 'index.html' : decodeURIComponent(pathname).replace(/^\/+/, '');
    } catch {
      return fail(res, 400, 'invalid_input', 'the URL is not valid percent-encoding');
    }
    const file = path.resolve(staticRoot, relative);
    if (!file.startsWith(staticRoot + path.sep) || relative.includes('\0')) return fail(res, 404, 'not_found', 'no such file');
    const info = await stat(file).catch(() => null);
    if (!info?.isFile()) return fail(res, 404, 'not_found', 'no such file');
    res.writeHead(200, {
      ...SECURITY_HEADERS,
      'Content-Type': mime.getType(file) ?? 'application/octet-stream',
      'Content-Length': info.size,
      'Cache-Control': file.endsWith('.html') ? 'no-store' : 'max-age=300',
    });
    await pipeline(createReadStream(file), res);
  }

  /**
   * One file streamed in a request body (`length`: its Content-Length, null when chunked), stored
   * or hashed as the query says. Served on Node's HTTP server and, straight into the store's
   * buffers, on the connections receiveUploadsDirectly takes.
   */
  async function upload(url: URL, length: number | null, body: AsyncIterable<Uint8Array>, gone: AbortSignal, interruptBody: (err: Error) => void): Promise<Answer> {
    const parsed = uploadQuerySchema.safeParse(Object.fromEntries(url.searchParams));
    if (!parsed.success) return queryRefusal('upload', parsed.error);
    const { op, namespace, name, transferId, as, options, opened } = parsed.data;
    try {
      // By the open layout's rules, before any byte is read (a drop made on another store is refused below as such).
      if (session.droppedHere(opened)) session.format.parseNamespace(namespace);
    } catch (err) {
      return refusal(400, err instanceof CacheError ? err.code : 'invalid_input', `upload: namespace: ${(err as Error).message}`);
    }
    const source = { kind: 'stream' as const, stream: body, size: length ?? undefined };
    let result: Result<unknown>;
    try {
      session.assertDroppedHere(opened);
      // A client that goes away mid-upload cancels the transfer: nothing half-stored remains.
      const value = await session.transfer(
        transferId,
        { phase: op, namespace, subject: name, total: length },
        async (transfer) => {
          // A cancel also ends a wait for bytes the client may never send (else it waits out the idle limit).
          transfer.signal.addEventListener('abort', () => interruptBody(new CacheError('cancelled', `the ${op === 'store' ? 'store' : 'hash'} was cancelled`)), { once: true });
          return op === 'store'
            ? session.format.store(session.format.parseNamespace(namespace), { source, name, as, options }, transfer)
            : hashReport(session.format, namespace, { source, as, options }, transfer);
        },
        gone,
      );
      result = { ok: true, value };
    } catch (err) {
      result = errorResult(err, `upload ${op}`);
    }
    if (op === 'store') afterEntriesCall(session, 'storeFile', { namespace }, result);
    return { status: 200, body: result };
  }

  async function uploadOnNodeServer(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const length = Number(req.headers['content-length']);
    const gone = new AbortController();
    res.on('close', () => gone.abort());
    // Not destroyed when the store stops reading it (refused part-way): lingerUnlessRead reads the rest.
    const cancel = new AbortController();
    const body = idleLimited(req.iterator({ destroyOnReturn: false }) as AsyncIterable<Uint8Array>, uploadIdleMs, { signal: cancel.signal, error: () => cancel.signal.reason as Error });
    const { status, body: result } = await upload(url, Number.isSafeInteger(length) && length >= 0 ? length : null, body, gone.signal, (err) => cancel.abort(err));
    lingerUnlessRead(req, res);
    sendJson(res, status, result);
  }

  /** A batch of a multi-file drop: framed files in the body (readBatch), stored by main on the bulk path. */
  async function batch(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const parsed = batchQuerySchema.safeParse(Object.fromEntries(url.searchParams));
    if (!parsed.success) return failQuery(res, 'batch', parsed.error);
    const { namespace, dropId, as, options, opened } = parsed.data;
    let result: Result<unknown>;
    try {
      // Refused before any byte is read: a drop made on another store, a namespace the layout rejects, bad store choices, a cancelled drop.
      session.assertDroppedHere(opened);
      const { format, drops } = session;
      const ns = format.parseNamespace(namespace);
      format.checkStoreInput({ as, options });
      drops.assertOpen(dropId);
      const items = await readBatch(req, drops.signalOf(dropId), uploadIdleMs);
      session.assertDroppedHere(opened); // switched while the batch was read: it goes nowhere
      result = { ok: true, value: await drops.store(dropId, format, ns, { as, options }, items) };
    } catch (err) {
      result = errorResult(err, 'batch');
    }
    afterEntriesCall(session, 'storePaths', { namespace }, result);
    lingerUnlessRead(req, res);
    sendJson(res, 200, result);
  }

  async function download(res: ServerResponse, url: URL): Promise<void> {
    const namespace = namespaceTextSchema.safeParse(url.searchParams.get('namespace'));
    const ref = entryRefSchema.safeParse(url.searchParams.get('ref'));
    if (!namespace.success || !ref.success) return fail(res, 400, 'invalid_input', 'content: namespace and ref are required');
    let record;
    let chunks: AsyncIterator<Uint8Array>;
    let first: IteratorResult<Uint8Array>;
    try {
      // An expired version is refused (`expired`) unless the page asks for it anyway, as the entry panel does.
      const opened = await retrieveRef(session.format, namespace.data, ref.data, { allowExpired: url.searchParams.get('allowExpired') === 'true' });
      record = opened.record;
      chunks = opened.content[Symbol.asyncIterator]();
      // Read before the status goes out: content that fails its check in the first read (all that
      // fits in one) is an error answer, never a 200 (a browser would save the answer as the file).
      first = await chunks.next();
    } catch (err) {
      return sendJson(res, contentFailureStatus(err), errorResult(err, 'content'));
    }
    const filename = suggestedFileName(record);
    res.writeHead(200, {
      ...SECURITY_HEADERS,
      // Never rendered on this origin: stored HTML must not run next to the token.
      'Content-Type': 'application/octet-stream',
      'Content-Security-Policy': "sandbox; default-src 'none'",
      'Content-Disposition': `attachment; filename*=UTF-8''${encodeURIComponent(filename)}`,
      ...(servedSize(record) === null ? {} : { 'Content-Length': servedSize(record)! }),
    });
    const rest = async function* () {
      try {
        for (let next = first; !next.done; next = await chunks.next()) yield next.value;
      } finally {
        await chunks.return?.(); // a client that went away: the stored file is closed
      }
    };
    // A later failure (corrupt content found at its end) destroys the response: the connection is
    // cut before the body is complete, so the browser reports a failed download, not a file.
    await pipeline(rest, res);
  }

  /** The entries browser's bulk save: the selection as one tar download (archiveEntries). */
  async function entriesArchive(res: ServerResponse, url: URL): Promise<void> {
    const namespace = namespaceTextSchema.safeParse(url.searchParams.get('namespace'));
    let selection;
    try {
      selection = entrySelectionSchema.safeParse(JSON.parse(url.searchParams.get('selection') ?? ''));
    } catch {
      selection = null;
    }
    if (!namespace.success || !selection?.success) return fail(res, 400, 'invalid_input', 'entries-archive: namespace and a selection (JSON) are required');
    let archive;
    try {
      archive = await archiveEntries(session.format, namespace.data, selection.data, url.searchParams.get('includeExpired') === 'true', suggestedFileName, servedSize);
    } catch (err) {
      return sendJson(res, err instanceof CacheError && err.code === 'conflict' ? 409 : 400, errorResult(err, 'entries-archive'));
    }
    res.writeHead(200, {
      ...SECURITY_HEADERS,
      'Content-Type': 'application/x-tar',
      'Content-Disposition': `attachment; filename*=UTF-8''${encodeURIComponent(`${namespace.data}-entries.tar`)}`,
    });
    // A failure part-way (corrupt content) cuts the connection: the browser reports a failed download.
    await pipeline(archive, res).catch(() => res.destroy());
  }

  function events(req: IncomingMessage, res: ServerResponse): void {
    res.writeHead(200, { ...SECURITY_HEADERS, 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-store', Connection: 'keep-alive' });
    res.write(': connected\n\n');
    const stream = new EventStream(res);
    eventStreams.set(res, stream);
    const heartbeat = setInterval(() => stream.send('heartbeat', ': heartbeat\n\n'), HEARTBEAT_MS);
    req.on('close', () => {
      clearInterval(heartbeat);
      eventStreams.delete(res);
    });
  }

  /** The printed URL, opened once: its token becomes a cookie and the address bar loses it. */
  function signIn(res: ServerResponse, given: string): void {
    if (!tokenMatches(given)) return fail(res, 401, 'unauthorized', "this link's token is not this run's: open the URL the bridge printed");
    res.writeHead(303, {
      ...SECURITY_HEADERS,
      'Set-Cookie': `${cookieName(port)}=${token}; HttpOnly; SameSite=Strict; Path=/`,
      Location: '/',
      'Cache-Control': 'no-store',
    });
    res.end();
  }

  /** A request's URL, or why it is refused whatever it asks for. */
  function admit(headers: IncomingHttpHeaders, target: string): URL | Answer {
    // DNS rebinding: a page on another name that resolves to 127.0.0.1 must not reach us.
    const host = headers.host ?? '';
    if (host !== `${BRIDGE_HOST}:${port}` && host !== `localhost:${port}`) return refusal(403, 'unauthorized', 'wrong host');
    // CSRF: a page of another origin (or an opaque `null` one) gets nothing, whatever it carries.
    if (fromAnotherSite(headers, `http://${host}`)) return refusal(403, 'unauthorized', 'requests from other sites are refused');
    return URL.parse(target, `http://${host}`) ?? refusal(400, 'invalid_input', 'the URL is not valid');
  }

  /** The URL of an upload the bridge will take, or null. */
  function uploadUrl(method: string, headers: IncomingHttpHeaders, target: string): URL | null {
    const url = admit(headers, target);
    return url instanceof URL && method === 'POST' && url.pathname === '/api/upload' && authorized(headers) ? url : null;
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = admit(req.headers, req.url ?? '/');
    if (!(url instanceof URL)) return sendJson(res, url.status, url.body);
    if (!url.pathname.startsWith('/api/')) {
      if (req.method !== 'GET' && req.method !== 'HEAD') return fail(res, 405, 'invalid_input', 'method not allowed');
      const given = url.searchParams.get('token');
      if (url.pathname === '/' && given !== null) return signIn(res, given);
      return serveStatic(res, url.pathname);
    }
    if (!authorized(req.headers)) return fail(res, 401, 'unauthorized', 'missing or wrong token');
    if (req.method === 'GET' && url.pathname === '/api/events') return events(req, res);
    if (req.method === 'GET' && url.pathname === '/api/content') return download(res, url);
    if (req.method === 'GET' && url.pathname === '/api/entries-archive') return entriesArchive(res, url);
    if (req.method === 'POST' && url.pathname === '/api/upload') return uploadOnNodeServer(req, res, url);
    if (req.method === 'POST' && url.pathname === '/api/batch') return batch(req, res, url);
    const call = /^\/api\/call\/([A-Za-z]+)$/.exec(url.pathname);
    if (req.method !== 'POST' || !call) return fail(res, 404, 'not_found', 'no such endpoint');
    const body = await readBody(req, MAX_CALL_BODY);
    closeWhenRead(res, body !== null);
    if (body === null) return fail(res, 413, 'too_large', `a call carries at most ${MAX_CALL_BODY} bytes; send files as uploads`);
    let payload: unknown;
    try {
      payload = body.byteLength ? JSON.parse(body.toString('utf8')) : {};
    } catch {
      return fail(res, 400, 'invalid_input', 'the body is not JSON');
    }
    sendJson(res, 200, await dispatch(call[1], payload));
  }

  // No limit on a whole request's time (Node's default cuts any request at 5 minutes): a big upload
  // may take longer. Its headers still must come within a minute (Node's default, which a
  // requestTimeout of 0 would otherwise switch off too).
  const server = createServer({ requestTimeout: 0, headersTimeout: 60_000 }, (req, res) => {
    closeWhenRead(res, !carriesBody(req));
    handle(req, res).catch((err) => {
      // A client that went away (or sent a body Node's parser refused) has nobody left to answer.
      if (res.headersSent || req.destroyed) res.destroy();
      else sendJson(res, 500, errorResult(err, 'bridge request'));
    });
  });
  const direct = receiveUploadsDirectly(server, {
    start: 'POST /api/upload',
    takes: (head) => uploadUrl(head.method, head.headers, head.target) !== null,
    onUpload: ({ head, body, gone, answer }) => {
      upload(uploadUrl(head.method, head.headers, head.target)!, head.length, body, gone, (err) => body.interrupt(err))
        .catch((err: unknown): Answer => ({ status: 500, body: errorResult(err, 'bridge request') }))
        .then(({ status, body: result }) => answer(status, JSON_HEADERS, JSON.stringify(result), LINGER_MS));
    },
    idleMs: uploadIdleMs,
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, BRIDGE_HOST, resolve);
  });
  const bound = server.address() as AddressInfo;
  port = bound.port;
  return {
    address: bound.address,
    // Opened once: the bridge answers with the token as an HttpOnly cookie and a URL without it.
    url: `http://${BRIDGE_HOST}:${port}/?token=${token}`,
    port,
    token,
    server,
    close: async () => {
      unsubscribe();
      for (const res of eventStreams.keys()) res.end();
      server.closeAllConnections();
      direct.destroyAll();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
