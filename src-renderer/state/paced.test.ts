import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { paced } from './paced';

beforeEach(() => vi.useFakeTimers({ now: 0 }));
afterEach(() => vi.useRealTimers());

/** A run that takes `ms` of the clock, recording when each began. */
function recorder(ms: number) {
  const began: number[] = [];
  const run = () => {
    began.push(Date.now());
    return new Promise<void>((resolve) => setTimeout(resolve, ms));
  };
  return { began, run };
}

describe('paced', () => {
  it('runs at once, one run at a time; calls during a run bring one more run, not one each', async () => {
    const { began, run } = recorder(100);
    const call = paced(run, 500, 3);
    call();
    expect(began).toEqual([0]);
    for (let i = 0; i < 20; i++) call();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(began).toEqual([0, 500]);
  });

  it('waits three times what the last run took after it ended, when that is longer than the interval', async () => {
    const { began, run } = recorder(1_000); // a count of a big namespace
    const call = paced(run, 500, 3);
    call();
    call();
    await vi.advanceTimersByTimeAsync(20_000);
    expect(began).toEqual([0, 4_000]); // ended at 1,000, then 3 x 1,000
    call();
    await vi.advanceTimersByTimeAsync(20_000);
    expect(began).toEqual([0, 4_000, 20_000]); // long after: at once
  });

  it('a call long after the last run runs at once; a failed run does not stop the next', async () => {
    let fails = true;
    const began: number[] = [];
    const call = paced(async () => {
      began.push(Date.now());
      if (fails) throw new Error('unreachable');
    }, 500, 3);
    call();
    await vi.advanceTimersByTimeAsync(1_000);
    fails = false;
    call();
    expect(began).toEqual([0, 1_000]);
  });
});
