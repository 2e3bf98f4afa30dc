import type { Writable } from 'node:stream';
import type { CacheAdminEvent } from '../../src-shared/contract';

/** Distinct events a stalled page may have waiting before it is cut off (its EventSource reconnects). */
const MAX_WAITING = 1_000;

/**
 * One page's Server-Sent Events. A page that stops reading (a frozen tab, a script that opened the
 * stream and never reads) is not queued every event: while its connection is backed up, only the
 * latest frame of each kind waits (one progress per transfer: a later one says all an earlier one
 * did; one change per namespace), and goes out when the connection drains. Before, a page that
 * never read grew the bridge by every progress event of every store.
 */
/** What a later event of the same kind makes redundant: a transfer's progress, a namespace's change. */
export function kindOf(event: CacheAdminEvent): string {
  if (event.type === 'progress') return `progress ${event.transferId}`;
  if (event.type === 'entriesChanged') return `entriesChanged ${event.namespace}`;
  return event.type;
}

export class EventStream {
  /** Frames by kind, while the connection is backed up. */
  private waiting: Map<string, string> | null = null;

  constructor(private readonly out: Writable & { destroy(): void }) {}

  /** Sends `frame`, or keeps it as the latest of its `kind` until the page reads again. */
  send(kind: string, frame: string): void {
    if (this.out.destroyed) return;
    if (this.waiting) {
      this.waiting.delete(kind); // re-inserted: frames go out in the order their latest came
      this.waiting.set(kind, frame);
      if (this.waiting.size > MAX_WAITING) this.out.destroy();
      return;
    }
    if (this.out.write(frame)) return;
    this.waiting = new Map();
    this.out.once('drain', () => {
      const waiting = this.waiting!;
      this.waiting = null;
      for (const [k, f] of waiting) this.send(k, f);
    });
  }
}
