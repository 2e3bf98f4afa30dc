/** Numbers as the app, the CLI and main's notices say them: one way everywhere. */

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

/** Binary units, named so (KiB, MiB, GiB). */
export function formatBytes(n: number): string {
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${Math.round(n)} B` : `${value.toFixed(value >= 100 ? 0 : 1)} ${UNITS[unit]}`;
}

export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}

/** `1 entry`, `2 entries`, `100,000 entries`. */
export function counted(n: number, one: string, many: string): string {
  return `${formatCount(n)} ${n === 1 ? one : many}`;
}
