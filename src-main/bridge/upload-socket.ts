import { STATUS_CODES, maxHeaderSize, type Server } from 'node:http';
import { Socket, type SocketConstructorOpts } from 'node:net';
import { type ChunkBuffers, type ReadsInto, freshBuffers } from '../core/buffer-ring';
import { READ_CHUNK } from '../core/hashing';
import { CacheError } from '../../src-shared/errors';
import { uploadStalled } from './body-chunks';

/**
 * Uploads received straight into the store's buffers.
 *
 * Node's HTTP parser copies every piece of a request body into a new 64 KiB buffer. At a GiB that
 * is 16,384 buffers, a full garbage collection every 64 MB of them, and pages given back to the
 * kernel and faulted in again: the bridge spent twice the disk's time on a big upload. A socket
 * built with `onread` reads into buffers its owner hands it, so an upload's body can land in the
 * ring buffers it is hashed and written from. Node builds such sockets only for connections it
 * makes, so the HTTP server's accepted sockets are taken over here: each connection's first request
 * head is read and parsed, and a well-formed upload is served on that socket; anything else goes on
 * to Node's HTTP server untouched, with the bytes already read.
 */

/** Where reads land while no body buffer waits: the request head, and one read per body buffer. */
const SCRATCH_BYTES = 64 * 1024;

export interface RequestHead {
  method: string;
  /** The request target as sent: path and query. */
  target: string;
  /** Header values by lowercase name; each name came once. */
  headers: Record<string, string>;
  /** The body's length, from Content-Length. */
  length: number;
}

const REQUEST_LINE = /^([A-Z]+) ([\x21-\x7e]+) HTTP\/1\.1$/;
const FIELD_LINE = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*([\t\x20-\x7e\x80-\xff]*?)[ \t]*$/;

/**
 * A request head (latin1, up to its blank line) in the plain form this path serves: HTTP/1.1, one
 * Content-Length and no Transfer-Encoding, no repeated field, no folded line, no upgrade. Null for
 * anything else, which Node's parser then answers as it always does.
 */
export function parseRequestHead(text: string): RequestHead | null {
  const lines = text.split('\r\n');
  if (lines.length < 3 || lines.pop() !== '' || lines.pop() !== '') return null;
  const [requestLine = '', ...fieldLines] = lines;
  const [, method, target] = REQUEST_LINE.exec(requestLine) ?? [];
  if (method === undefined || target === undefined) return null;
  const headers: Record<string, string> = Object.create(null);
  for (const line of fieldLines) {
    const [, name, value] = FIELD_LINE.exec(line) ?? [];
    if (name === undefined || value === undefined || name.toLowerCase() in headers) return null;
    headers[name.toLowerCase()] = value;
  }
  const { 'content-length': length, expect } = headers;
  if (length === undefined || !/^\d{1,15}$/.test(length) || 'transfer-encoding' in headers || 'upgrade' in headers) return null;
  if (expect !== undefined && expect.toLowerCase() !== '100-continue') return null;
  return { method, target, headers, length: Number(length) };
}

export interface SocketUpload {
  head: RequestHead;
  /** The body, read into the buffers it is stored from (or, iterated, into buffers of its own). */
  body: UploadBody;
  /** Aborted when the client goes away. */
  gone: AbortSignal;
  /**
   * Answers, reads and drops what the client still sends of its body (for at most `lingerMs`, so a
   * client refused part-way gets the answer, not a reset), then closes the connection.
   */
  answer(status: number, headers: Record<string, string | number>, text: string, lingerMs: number): void;
}

/** A TCP handle's way to read into a given buffer: the socket reads into it until a read returns the next. */
interface UserBufferHandle {
  useUserBuffer(buffer: Uint8Array): void;
}

/** An accepted socket's handle, which Node keeps private (`_handle`). */
type WithHandle = Socket & { _handle: Partial<UserBufferHandle> | null };

/** What Node's HTTP server answers to a head it cannot parse, and to one that does not come in time. */
const BAD_REQUEST = 'HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n';
const REQUEST_TIMEOUT = 'HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n';

/**
 * Serves the uploads `takes` picks, on each connection's first request, itself (`onUpload`); every
 * other request goes to `server`'s own HTTP handling, as soon as its first bytes differ from
 * `start` (the start of every request `takes` can pick, such as `POST /api/upload`). Returns what
 * closes the connections it holds.
 */
export function receiveUploadsDirectly(
  server: Server,
  options: { start: string; takes: (head: RequestHead) => boolean; onUpload: (upload: SocketUpload) => void; idleMs: number },
): { destroyAll(): void } {
  const [nodeConnectionListener, ...others] = server.listeners('connection') as ((socket: Socket) => void)[];
  /** Connections waiting for their head or taken: Node's server neither counts nor closes them. */
  const held = new Set<Socket>();
  if (!nodeConnectionListener || others.length > 0) throw new Error('receiveUploadsDirectly: the server must have only its own connection listener');
  server.removeListener('connection', nodeConnectionListener);
  server.on('connection', (accepted: WithHandle) => {
    const handle = accepted._handle;
    // Where a socket cannot read into given buffers (not a TCP socket of this Node), Node serves it all.
    if (typeof handle?.useUserBuffer !== 'function') return nodeConnectionListener.call(server, accepted);
    // The handle moves to a socket that reads where it is told. The socket Node built goes, with
    // nothing of its own left to close, so the server's count of connections stays right.
    accepted._handle = null;
    accepted.destroy();
    const connection = new Connection(handle as UserBufferHandle, options.idleMs);
    const { socket } = connection;
    held.add(socket);
    socket.on('close', () => held.delete(socket));
    // The head comes within the server's headersTimeout, as on Node's own connections.
    const timer = setTimeout(() => socket.end(REQUEST_TIMEOUT).destroySoon(), server.headersTimeout).unref();
    void connection.readHead(options.start).then(
      (head) => {
        clearTimeout(timer);
        if (head === 'not plain' || !options.takes(head)) {
          held.delete(socket);
          return connection.handOver(server, nodeConnectionListener);
        }
        options.onUpload(connection.upload(head));
      },
      () => {
        clearTimeout(timer);
        // The client closed its side with the head unfinished (as Node answers it), or the connection is gone.
        if (socket.writable) socket.end(BAD_REQUEST);
        socket.destroySoon();
      },
    );
  });
  return {
    destroyAll: () => {
      for (const socket of held) socket.destroy();
    },
  };
}

/** One connection read through `onread`: into a scratch buffer until a body buffer waits for the bytes. */
class Connection {
  readonly socket: Socket;
  private readonly scratch = Buffer.allocUnsafe(SCRATCH_BYTES);
  /** Bytes read into the scratch buffer and not taken yet. */
  private carry = Buffer.alloc(0);
  /** The buffer reads land in, and how much of it is filled. */
  private target: Uint8Array | null = null;
  private filled = 0;
  /**
   * Where the handle's next read lands: Node asks readTarget for it right after each read and keeps
   * it, so it outlives a fill that ends early (interrupt) and must then be taken back.
   */
  private reading: Uint8Array = this.scratch;
  private satisfied: () => boolean = () => false;
  private wake: (() => void) | null = null;
  private failure: Error | null = null;
  /** Why the read waiting now ends early (interrupt); cleared when that read ends. */
  private interrupted: Error | null = null;
  /** Node's HTTP server reads this socket now. */
  private handedOver = false;
  /** Answered and body read: what comes now is dropped. */
  private finished = false;

  constructor(
    private readonly handle: UserBufferHandle,
    private readonly idleMs: number,
  ) {
    this.socket = new Socket({
      handle,
      allowHalfOpen: true, // as Node's HTTP server has its sockets
      pauseOnCreate: true,
      onread: { buffer: () => this.readTarget(), callback: (n: number) => this.onRead(n) },
    } as SocketConstructorOpts);
    const fail = (err: Error) => {
      this.failure ??= err;
      this.wake?.();
    };
    this.socket.on('end', () => fail(new CacheError('invalid_input', 'the request body ended before its Content-Length')));
    this.socket.on('close', () => fail(new Error('the connection closed')));
    this.socket.on('error', fail);
    this.socket.on('timeout', () => fail(uploadStalled(idleMs)));
  }

  /**
   * Ends a read waiting for bytes now, with `err` (a cancel: the client may never send more). The
   * socket pauses and the rest of the body stays for the answer's dropRest; no read waiting, no effect.
   */
  interrupt(err: Error): void {
    if (!this.wake) return;
    this.interrupted = err;
    this.socket.pause();
    this.wake();
  }

  private readTarget(): Uint8Array {
    this.reading = this.target && this.filled < this.target.byteLength ? this.target.subarray(this.filled) : this.scratch;
    return this.reading;
  }

  /** Node calls this after each read, with `n` bytes in `reading` (its own argument may be the buffer taken back); false stops reading. */
  private onRead(n: number): boolean {
    if (this.finished) return true;
    if (this.reading === this.scratch) {
      const read = Buffer.from(this.scratch.subarray(0, n)); // a copy: the scratch buffer is read into again
      if (this.handedOver) return this.socket.push(read);
      this.carry = this.carry.byteLength ? Buffer.concat([this.carry, read]) : read;
    } else this.filled += n;
    if (!this.satisfied()) return true;
    this.wake?.();
    return false;
  }

  /** Reads until `satisfied()` holds; fails if the connection ends first. */
  private async until(satisfied: () => boolean): Promise<void> {
    this.satisfied = satisfied;
    try {
      while (!satisfied()) {
        if (this.failure) throw this.failure;
        if (this.interrupted) throw this.interrupted;
        await new Promise<void>((resolve) => {
          this.wake = resolve;
          this.socket.resume();
        });
      }
    } finally {
      this.wake = null;
      this.interrupted = null;
      this.satisfied = () => false;
    }
  }

  /**
   * The first request's head, its bytes left in `carry`; 'not plain' as soon as the bytes read differ
   * from `start`, hold a bare line feed, or pass Node's limit on a head (Node answers those: 400, 431).
   */
  async readHead(start: string): Promise<RequestHead | 'not plain'> {
    let end = -1;
    let scanned = 0; // a head trickled in byte by byte is scanned once, not once per byte
    const headEnds = () => {
      end = this.carry.indexOf('\r\n\r\n', Math.max(0, scanned - 3));
      return end >= 0;
    };
    const plainSoFar = () => {
      const n = Math.min(this.carry.byteLength, start.length);
      if (this.carry.toString('latin1', 0, n) !== start.slice(0, n) || this.carry.byteLength > maxHeaderSize) return false;
      for (let lf = this.carry.indexOf(10, scanned); lf >= 0; lf = this.carry.indexOf(10, lf + 1)) if (lf === 0 || this.carry[lf - 1] !== 13) return false;
      scanned = this.carry.byteLength;
      return true;
    };
    await this.until(() => headEnds() || !plainSoFar());
    if (end < 0 || end + 4 > maxHeaderSize) return 'not plain';
    return parseRequestHead(this.carry.toString('latin1', 0, end + 4)) ?? 'not plain';
  }

  /** Node's HTTP server takes the connection, from its first byte. */
  handOver(server: Server, nodeConnectionListener: (socket: Socket) => void): void {
    this.handedOver = true;
    if (this.carry.byteLength > 0) this.socket.unshift(this.carry);
    this.carry = Buffer.alloc(0);
    nodeConnectionListener.call(server, this.socket);
    this.socket.resume();
  }

  /**
   * Fills `target` from the bytes already read, then straight from the socket. A client silent for
   * idleMs meanwhile has stalled. Only here: while the store is busy, reads pause and the silence is ours.
   */
  async fill(target: Uint8Array): Promise<void> {
    this.target = target;
    this.filled = 0;
    this.socket.setTimeout(this.idleMs);
    try {
      await this.until(() => {
        const n = Math.min(this.carry.byteLength, target.byteLength - this.filled);
        if (n > 0) {
          target.set(this.carry.subarray(0, n), this.filled);
          this.carry = this.carry.subarray(n);
          this.filled += n;
        }
        return this.filled === target.byteLength;
      });
    } finally {
      this.socket.setTimeout(0);
      this.target = null;
      if (this.reading !== this.scratch && !this.socket.destroyed) {
        // Ended early (a cancel, a stall): the read Node has lined up would land in the target, a
        // store's buffer soon another store's. It lands in the scratch buffer instead.
        this.socket.pause();
        this.handle.useUserBuffer(this.scratch);
        this.reading = this.scratch;
      }
    }
  }

  /** How much of the last fill's target was filled (all of it, unless the fill failed or was interrupted). */
  get lastFilled(): number {
    return this.filled;
  }

  upload(head: RequestHead): SocketUpload {
    const end = this.carry.indexOf('\r\n\r\n');
    this.carry = this.carry.subarray(end + 4);
    if (head.headers.expect !== undefined) this.socket.write('HTTP/1.1 100 Continue\r\n\r\n');
    const gone = new AbortController();
    this.socket.on('close', () => gone.abort());
    const body = new UploadBody(this, head.length);
    return {
      head,
      body,
      gone: gone.signal,
      answer: (status, headers, text, lingerMs) => {
        const fields = Object.entries({ ...headers, Date: new Date().toUTCString(), 'Content-Length': Buffer.byteLength(text), Connection: 'close' });
        this.socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n${fields.map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n${text}`);
        // A client still sending its body gets lingerMs to finish it and close.
        const cut = setTimeout(() => this.socket.destroy(), lingerMs).unref();
        this.socket.on('close', () => clearTimeout(cut));
        void body.dropRest().then(
          () => {
            // Read on (dropping anything) to see the client close its side, which closes the socket.
            this.finished = true;
            this.socket.end();
            this.socket.resume();
          },
          () => this.socket.destroy(),
        );
      },
    };
  }
}

/** An upload's body of a known length, read off its connection. */
export class UploadBody implements AsyncIterable<Uint8Array>, ReadsInto {
  private remaining: number;
  /** A cancel: the reads of the body end with it, until the answer drops the rest. */
  private interrupted: Error | null = null;

  constructor(
    private readonly connection: Connection,
    length: number,
  ) {
    this.remaining = length;
  }

  async *readInto(buffers: ChunkBuffers): AsyncIterable<Uint8Array> {
    while (this.remaining > 0) {
      const buffer = await buffers.next();
      // A cancel that came while no read waited (the chunk before was being stored) ends it here.
      if (this.interrupted) throw this.interrupted;
      const n = Math.min(buffer.byteLength, this.remaining);
      try {
        await this.connection.fill(buffer.subarray(0, n));
      } finally {
        // A fill interrupted part-way took that much of the body: dropRest reads what is left after it.
        this.remaining -= this.connection.lastFilled;
      }
      yield buffer.subarray(0, n);
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    return this.readInto(freshBuffers(READ_CHUNK))[Symbol.asyncIterator]();
  }

  /** Ends a read waiting for the client with `err` (a cancel); the rest of the body can still be dropped. */
  interrupt(err: Error): void {
    this.interrupted = err;
    this.connection.interrupt(err);
  }

  /** Reads what is left of the body and drops it. */
  async dropRest(): Promise<void> {
    this.interrupted = null;
    const sink = Buffer.allocUnsafe(SCRATCH_BYTES);
    for await (const chunk of this.readInto({ next: async () => sink })) void chunk;
  }
}
