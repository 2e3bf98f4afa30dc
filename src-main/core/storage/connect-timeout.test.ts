import { afterEach, expect, it } from 'vitest';
import { connectTimeoutMs } from './s3';

const saved = process.env.CACHE_ADMIN_CONNECT_TIMEOUT_MS;
afterEach(() => {
  if (saved === undefined) delete process.env.CACHE_ADMIN_CONNECT_TIMEOUT_MS;
  else process.env.CACHE_ADMIN_CONNECT_TIMEOUT_MS = saved;
});

it('$CACHE_ADMIN_CONNECT_TIMEOUT_MS sets the connect limit; a value that is no positive whole number of ms leaves 20 s (Infinity made opening throw)', () => {
  for (const [value, ms] of [['1500', 1500], ['Infinity', 20_000], ['-1', 20_000], ['0', 20_000], ['2.5', 20_000], ['soon', 20_000]] as const) {
    process.env.CACHE_ADMIN_CONNECT_TIMEOUT_MS = value;
    expect(connectTimeoutMs(), value).toBe(ms);
    expect(() => AbortSignal.timeout(connectTimeoutMs())).not.toThrow();
  }
});
