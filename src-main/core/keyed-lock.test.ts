import { describe, expect, it } from 'vitest';
import { mapLimit } from './keyed-lock';

const tick = () => new Promise((resolve) => setTimeout(resolve, 5));

describe('mapLimit', () => {
  it('keeps results in input order with at most `limit` in flight', async () => {
    let inFlight = 0;
    let most = 0;
    const results = await mapLimit([5, 1, 4, 2, 3], 2, async (n) => {
      most = Math.max(most, ++inFlight);
      await new Promise((resolve) => setTimeout(resolve, n * 3));
      inFlight--;
      return n * 10;
    });
    expect(results).toEqual([50, 10, 40, 20, 30]);
    expect(most).toBe(2);
  });

  it('after a failure starts nothing more, and rejects only once the items in flight have ended', async () => {
    const started: number[] = [];
    const ended: number[] = [];
    const run = mapLimit([0, 1, 2, 3, 4, 5], 3, async (n) => {
      started.push(n);
      if (n === 0) throw new Error('first failed');
      await tick();
      await tick();
      ended.push(n);
    });
    await expect(run).rejects.toThrow('first failed');
    // 1 and 2 were in flight when 0 failed: they ran to their end before the caller heard; 3 to 5 never began.
    expect(started).toEqual([0, 1, 2]);
    expect(ended.sort()).toEqual([1, 2]);
  });
});
