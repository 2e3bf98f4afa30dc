import type { Writable } from 'node:stream';
import { formatBytes } from '../../src-shared/units';

/** One self-overwriting status line on a terminal's stderr, redrawn at most 10 times a second. */
export class ProgressLine {
  private readonly started = Date.now();
  private lastDraw = 0;

  constructor(private readonly out: Writable) {}

  private draw(text: string, force = false): void {
    const now = Date.now();
    if (!force && now - this.lastDraw < 100) return;
    this.lastDraw = now;
    this.out.write(`\r\x1b[K${text}`);
  }

  private rate(bytes: number): string {
    const seconds = Math.max((Date.now() - this.started) / 1000, 0.001);
    return `${formatBytes(bytes / seconds)}/s`;
  }

  bytes(done: number): void {
    this.draw(`stored ${formatBytes(done)} (${this.rate(done)})`);
  }

  /** Files with an outcome of all: only those stored are said to be (a failed or cancelled one is not). */
  files({ done, total, stored, failed }: { done: number; total: number; stored: number; failed: number }, bytes: number): void {
    const count = (n: number) => n.toLocaleString('en-US');
    this.draw(`${count(done)}/${count(total)} files: ${count(stored)} stored${failed ? `, ${count(failed)} failed` : ''}, ${formatBytes(bytes)} (${this.rate(bytes)})`, done === total);
  }

  /** `then`: what the count waits on now (big content a verify re-hashes). */
  count(what: string, n: number, then?: { what: string; done: number; of: number }): void {
    this.draw(`${what} ${n.toLocaleString('en-US')}${then ? `; ${then.what}: ${formatBytes(then.done)} of ${formatBytes(then.of)}` : ''}`);
  }

  done(): void {
    this.out.write('\r\x1b[K');
  }
}

