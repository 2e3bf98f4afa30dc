import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { isEmulatorEndpoint } from './s3-emulator';

/** `code`: the S3 error code answered with the status (SlowDown for 503, else InternalError). */
/** `stall`: the answer's first `afterBytes` bytes, then nothing, the connection held open (a server or network gone quiet mid-body). */
export type FaultAction = { kind: 'status'; status: number; code?: string } | { kind: 'reset' } | { kind: 'delay'; ms: number } | { kind: 'stall'; afterBytes: number };

export interface FaultRule {
  /** Which requests it applies to. */
  match: (req: { method: string; url: string }) => boolean;
  action: FaultAction;
  /** How many matching requests to hit; Infinity for all. */
  times: number;
}

export interface LoggedRequest {
  method: string;
  url: string;
  status: number | 'reset';
}

/**
 * A test-only HTTP proxy in front of an S3 endpoint, on 127.0.0.1. It injects faults (error
 * statuses, dropped connections, latency) and logs every request, so tests can count requests and
 * prove that stores complete or fail cleanly.
 *
 * With `conditionalWrites`, in front of the s3rver emulator (which ignores them), it answers `PUT`
 * with `If-None-Match: *` the way S3, Ceph RGW, MinIO and R2 do (412 when the key exists), and
 * `If-Match: <etag>` (412 when the object's ETag differs), and it passes requests for one key one
 * at a time (s3rver's filesystem store hangs when one key is read and written at once). In front of
 * a real server it changes nothing: the server answers those itself.
 */
export class FaultProxy {
  readonly log: LoggedRequest[] = [];
  private rules: FaultRule[] = [];
  private server: http.Server;
  private readonly locks = new Map<string, Promise<void>>();
  /** Whether it stands in for what the emulator lacks (see above). */
  private readonly emulating: boolean;
  endpoint = '';

  constructor(
    private readonly upstream: string,
    options: { conditionalWrites?: boolean } = {},
  ) {
    this.server = http.createServer((req, res) => void this.handle(req, res));
    this.emulating = (options.conditionalWrites ?? false) && isEmulatorEndpoint(upstream);
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.endpoint = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  inject(rule: FaultRule): void {
    this.rules.push(rule);
  }

  clearFaults(): void {
    this.rules = [];
  }

  count(filter: (r: LoggedRequest) => boolean = () => true): number {
    return this.log.filter(filter).length;
  }

  private takeFault(method: string, url: string): FaultAction | undefined {
    const rule = this.rules.find((r) => r.times > 0 && r.match({ method, url }));
    if (!rule) return undefined;
    rule.times--;
    return rule.action;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const url = req.url ?? '/';
    const fault = this.takeFault(method, url);
    if (fault?.kind === 'delay') await new Promise((r) => setTimeout(r, fault.ms));
    if (fault?.kind === 'reset') {
      this.log.push({ method, url, status: 'reset' });
      req.socket.destroy();
      return;
    }
    if (fault?.kind === 'status') {
      this.log.push({ method, url, status: fault.status });
      req.resume();
      res.writeHead(fault.status, { 'content-type': 'application/xml' });
      res.end(`<?xml version="1.0"?><Error><Code>${fault.code ?? (fault.status === 503 ? 'SlowDown' : 'InternalError')}</Code><Message>injected</Message></Error>`);
      return;
    }
    if (fault?.kind === 'stall') return this.forward(req, res, method, url, fault.afterBytes);
    // Listings and multipart parts are not one object's requests: they pass straight through.
    if (!this.emulating || url.includes('list-type=') || url.includes('uploadId=') || url.includes('?uploads')) return this.forward(req, res, method, url);
    // Only PutObject: CopyObject ignores If-None-Match on Ceph RGW 16.2, and so does this stand-in.
    const conditional = method === 'PUT' && req.headers['if-none-match'] === '*' && !req.headers['x-amz-copy-source'];
    const ifMatch = method === 'PUT' ? req.headers['if-match'] : undefined;
    const key = url.split('?')[0]!;
    const previous = this.locks.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    this.locks.set(key, previous.then(() => mine));
    await previous;
    try {
      if ((conditional && (await this.upstreamHas(key))) || (ifMatch !== undefined && unquoted(await this.upstreamEtag(key)) !== unquoted(ifMatch))) {
        this.log.push({ method, url, status: 412 });
        req.resume();
        res.writeHead(412, { 'content-type': 'application/xml' });
        res.end('<?xml version="1.0"?><Error><Code>PreconditionFailed</Code><Message>At least one of the pre-conditions you specified did not hold</Message></Error>');
        return;
      }
      await this.forward(req, res, method, url);
    } finally {
      release();
    }
  }

  private async upstreamHas(pathname: string): Promise<boolean> {
    return (await this.upstreamEtag(pathname)) !== null;
  }

  /** The object's ETag, null when there is none: `If-Match` is answered from it, as S3 does. */
  private upstreamEtag(pathname: string): Promise<string | null> {
    return new Promise((resolve, reject) => {
      const r = http.request(`${this.upstream}${pathname}`, { method: 'HEAD' }, (res) => {
        res.resume();
        resolve(res.statusCode === 200 ? String(res.headers.etag ?? '') : null);
      });
      r.on('error', reject);
      r.end();
    });
  }

  private forward(req: http.IncomingMessage, res: http.ServerResponse, method: string, url: string, stallAfter?: number): Promise<void> {
    return new Promise((resolve) => {
      // The path as sent, never normalized (new URL would take "x/../y" to "y"): on S3 it is an object's name.
      const { hostname, port } = new URL(this.upstream);
      const upstream = http.request({ hostname, port, path: url, method, headers: req.headers }, (up) => {
        this.log.push({ method, url, status: up.statusCode ?? 0 });
        res.writeHead(up.statusCode ?? 502, up.headers);
        if (stallAfter !== undefined) {
          up.once('readable', () => {
            const head = up.read(stallAfter) ?? up.read(); // what there is, when the body is shorter
            if (head) res.write(head);
            resolve(); // and nothing more: the client waits until it gives up
          });
          return;
        }
        up.pipe(res);
        up.on('end', resolve);
        up.on('error', () => resolve());
      });
      upstream.on('error', () => {
        res.destroy();
        resolve();
      });
      // A client that hangs up (a cancelled request) hangs up upstream too, as a network would;
      // otherwise the emulator waits forever for the rest of a body.
      res.on('close', () => {
        if (!res.writableFinished) upstream.destroy();
      });
      req.pipe(upstream);
    });
  }
}

/** ETags compare with or without their quotes, as S3 compares them (S3Storage sends them bare). */
function unquoted(etag: string | null): string | null {
  return etag === null ? null : etag.replace(/^"(.*)"$/, '$1');
}
