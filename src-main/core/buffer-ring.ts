/** Where big files are read into, chunk by chunk. */
export interface ChunkBuffers {
  /**
   * A buffer to read the next chunk into. A reader holds two at a time: the chunk its consumer
   * works on and the one it reads ahead; a consumer that keeps a chunk longer must hold it.
   */
  next(): Promise<Uint8Array>;
}

/**
 * A stream that reads into the buffers it is handed (an upload read straight off its socket), so
 * gathering it into the ring copies nothing. Yields each buffer filled, the last one in part.
 */
export interface ReadsInto {
  readInto(buffers: ChunkBuffers): AsyncIterable<Uint8Array>;
}

export function readsInto(stream: object): stream is ReadsInto {
  return typeof (stream as Partial<ReadsInto>).readInto === 'function';
}

/** Direct I/O wants addresses, lengths and file offsets aligned to the device block; a page covers them all. */
export const IO_ALIGN = 4096;
/** Direct writes run fastest in requests of a few MiB (2.5 GB/s at 4 MiB vs 1.8 at 1 MiB here). */
export const RING_BUFFER_BYTES = 4 << 20;
const WASM_PAGE = 1 << 16;
/**
 * Buffers of rings released, by size, for the next ring to take. V8 does not count WebAssembly
 * memory as memory pressure, so buffers merely dropped are freed only when something else brings a
 * garbage collection: a long-running bridge or app grew by 16 MiB with every store.
 */
const idle = new Map<number, Uint8Array[]>();
/** Idle buffers kept per size for good: two streamed stores' worth (the app sends big files two at a time), four of files. */
const IDLE_KEPT = 16;
/**
 * Buffers released beyond IDLE_KEPT are kept until no ring of their size has been released for this
 * long. Dropped at once, four uploads at a time (a script) dropped 16 buffers a round and made 16 new
 * ones the next: the bridge grew by 64 MiB a round, to a GiB before anything collected them.
 */
export const SURPLUS_KEPT_MS = 30_000;
const surplusTimers = new Map<number, NodeJS.Timeout>();

/**
 * A few page-aligned buffers, reused in turn: one is read into while the others are hashed or
 * written, so a big store allocates nothing per chunk and can write with direct I/O. Page-aligned
 * because they are WebAssembly memories, which V8 maps on page boundaries (a Buffer's address has
 * no useful alignment); shared ones, so the hashing thread reads them in place. A buffer is handed
 * out again only after the others have been, and not before everything holding it has finished.
 */
export class BufferRing implements ChunkBuffers {
  private readonly buffers: Uint8Array[] = [];
  private readonly busy: Promise<unknown>[] = [];
  private turn = 0;

  constructor(
    private readonly count = 4,
    private readonly size = RING_BUFFER_BYTES,
  ) {}

  async next(): Promise<Uint8Array> {
    const k = this.turn;
    this.turn = (k + 1) % this.count;
    await this.busy[k];
    // Taken on first use: a file of one chunk needs one buffer.
    this.buffers[k] ??= idle.get(this.size)?.pop() ?? this.allocate();
    return this.buffers[k];
  }

  private allocate(): Uint8Array {
    const pages = this.size / WASM_PAGE;
    return new Uint8Array(new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true }).buffer);
  }

  /**
   * Gives the buffers to the next ring, once everything holding them has finished. Only for an
   * owner done with the ring that keeps no chunk of it (a view into a buffer given away would see
   * another store's bytes).
   */
  async release(): Promise<void> {
    const buffers = this.buffers.splice(0);
    await Promise.allSettled(this.busy.splice(0));
    let kept = idle.get(this.size);
    if (!kept) idle.set(this.size, (kept = []));
    for (const buffer of buffers) if (buffer) kept.push(buffer);
    clearTimeout(surplusTimers.get(this.size));
    if (kept.length <= IDLE_KEPT) return;
    const pool = kept;
    surplusTimers.set(this.size, setTimeout(() => pool.splice(IDLE_KEPT), SURPLUS_KEPT_MS).unref());
  }

  /** Whether `chunk` starts one of these buffers, i.e. is page-aligned in memory. */
  starts(chunk: Uint8Array): boolean {
    return chunk.byteOffset === 0 && this.buffers.some((b) => b.buffer === chunk.buffer);
  }

  /** Keeps the buffer `chunk` lies in from being handed out again until `done` settles (and what held it already). */
  holdUntil(chunk: Uint8Array, done: Promise<unknown>): void {
    const k = this.buffers.findIndex((b) => b.buffer === chunk.buffer);
    if (k >= 0) this.busy[k] = Promise.allSettled([this.busy[k], done]);
  }
}

/** A new buffer per chunk, for readers that keep chunks (uploads, in-memory stores). */
export const freshBuffers = (size: number): ChunkBuffers => ({ next: async () => Buffer.allocUnsafeSlow(size) });
