import { describe, expect, it } from 'vitest';
import { holdingLease } from './lease';
import { MemoryStorage } from './storage/memory';

const KEY = '_cache-admin.d/leases/test.json';
const leaseOf = (token: string, refreshed: Date) => new TextEncoder().encode(`${JSON.stringify({ token, refreshed: refreshed.toISOString() })}\n`);

describe('leases across processes', () => {
  it('a dead holder whose clock ran ahead (its lease dated an hour from now) is taken over once it has stayed unchanged for the stale time', async () => {
    const storage = new MemoryStorage();
    await storage.put(KEY, leaseOf('skewed', new Date(Date.now() + 3_600_000)));
    const started = Date.now();
    expect(await holdingLease(storage, KEY, async () => 'ran', { staleMs: 300 })).toBe('ran');
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(await storage.get(KEY)).toBeNull();
  });

  it("a wait is told once, with when a killed holder's lease runs out; a lease already stale is taken with no wait told", async () => {
    const storage = new MemoryStorage();
    const refreshed = new Date(Date.now() - 100);
    await storage.put(KEY, leaseOf('killed', refreshed));
    const told: Date[] = [];
    expect(await holdingLease(storage, KEY, async () => 'ran', { staleMs: 300, onWaiting: (until) => told.push(until) })).toBe('ran');
    expect(told).toEqual([new Date(refreshed.getTime() + 300)]);
    await storage.put(KEY, leaseOf('long dead', new Date(Date.now() - 60_000)));
    told.length = 0;
    expect(await holdingLease(storage, KEY, async () => 'ran', { staleMs: 300, onWaiting: (until) => told.push(until) })).toBe('ran');
    expect(told).toEqual([]);
  });

  it('a live holder is waited for, and the wait can be cancelled', async () => {
    const storage = new MemoryStorage();
    let release!: () => void;
    const holding = holdingLease(storage, KEY, () => new Promise<void>((r) => (release = r)), { staleMs: 300 });
    await new Promise((r) => setTimeout(r, 50));
    const controller = new AbortController();
    const waiting = holdingLease(storage, KEY, async () => 'ran', { staleMs: 300, signal: controller.signal, cancelled: 'gave up' });
    await new Promise((r) => setTimeout(r, 600)); // twice the stale time: the holder's refreshes keep it live
    controller.abort();
    await expect(waiting).rejects.toMatchObject({ code: 'cancelled', message: 'gave up' });
    release();
    await holding;
  });

  it('a holder taken over while it was paused learns it from stillHeld before it writes', async () => {
    const storage = new MemoryStorage();
    const held: boolean[] = [];
    await holdingLease(
      storage,
      KEY,
      async (stillHeld) => {
        held.push(await stillHeld());
        await storage.put(KEY, leaseOf('another process', new Date())); // what a takeover leaves
        held.push(await stillHeld());
      },
      { staleMs: 300 },
    );
    expect(held).toEqual([true, false]);
    expect(await storage.get(KEY)).not.toBeNull(); // the other holder's lease is left alone
  });
});
