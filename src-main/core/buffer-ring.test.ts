import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { BufferRing, IO_ALIGN, SURPLUS_KEPT_MS } from './buffer-ring';

describe('buffer ring', () => {
  it('hands its buffers out in turn and never one that a write still holds', async () => {
    const ring = new BufferRing(2, 1 << 16);
    const a = await ring.next();
    const b = await ring.next();
    expect(a.buffer).not.toBe(b.buffer);
    let release!: () => void;
    ring.holdUntil(a, new Promise<void>((resolve) => (release = resolve)));
    let handedOut: Uint8Array | null = null;
    const third = ring.next().then((buffer) => (handedOut = buffer));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(handedOut).toBeNull(); // a is still being written
    release();
    expect(await third).toBe(a);
    expect(ring.starts(a)).toBe(true);
    expect(ring.starts(a.subarray(IO_ALIGN))).toBe(false);
    expect(ring.starts(new Uint8Array(16))).toBe(false);
  });

  afterEach(() => {
    vi.useRealTimers();
    vi.restoreAllMocks();
  });

  it('rounds of four stores at once reuse the first round\'s buffers (none made and dropped each round); a quiet while later the surplus goes', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const size = 3 << 16; // a size no other test uses: the pool is per size
    const made = vi.spyOn(WebAssembly, 'Memory');
    const round = async () => {
      const rings = Array.from({ length: 4 }, () => new BufferRing(8, size));
      for (const ring of rings) for (let i = 0; i < 8; i++) await ring.next();
      await Promise.all(rings.map((ring) => ring.release()));
    };
    await round();
    expect(made).toHaveBeenCalledTimes(32);
    await round();
    await round();
    expect(made).toHaveBeenCalledTimes(32);
    // No store for a while: 16 are kept, so the next round makes the other 16 again.
    vi.advanceTimersByTime(SURPLUS_KEPT_MS);
    await round();
    expect(made).toHaveBeenCalledTimes(48);
  });

  it('a failed write releases its buffer too', async () => {
    const ring = new BufferRing(1, 1 << 16);
    const a = await ring.next();
    ring.holdUntil(a, Promise.reject(new Error('disk gone')));
    expect(await ring.next()).toBe(a);
  });

  it.skipIf(process.platform !== 'linux')('its buffers are aligned for direct I/O (Linux)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cache-admin-ring-'));
    try {
      const file = path.join(dir, 'direct');
      fs.writeFileSync(file, '');
      const fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_DIRECT);
      const ring = new BufferRing(2, 1 << 16);
      for (const buffer of [await ring.next(), await ring.next()]) {
        buffer.fill(7);
        expect(fs.writeSync(fd, buffer, 0, buffer.byteLength, 0)).toBe(1 << 16);
      }
      // An unaligned address is what direct I/O refuses, so the check above means something.
      expect(() => fs.writeSync(fd, Buffer.alloc(IO_ALIGN + 1).subarray(1), 0, IO_ALIGN, 0)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
      fs.closeSync(fd);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
