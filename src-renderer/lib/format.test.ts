import { expect, it } from 'vitest';
import { formatBytes } from './format';

it('byte counts and rates under 1 KiB show whole bytes (a slow rate is not 4.757656853999405 B/s)', () => {
  expect([formatBytes(0), formatBytes(4.757656853999405), formatBytes(1023.6), formatBytes(1536), formatBytes(300 * 1024 * 1024)]).toEqual(['0 B', '5 B', '1024 B', '1.5 KiB', '300 MiB']);
});
