import { CacheError } from '../../../src-shared/errors';
import { pumpHashed } from '../hashing';
import { assertReadablePrefix, assertValidKey, resolveFoundKey } from '../../../src-shared/keys';
import { heldContent } from './held-content';
import { pageFromSorted } from './list-page';
import type { ContentSource, CopyOptions, Leftover, ListOptions, ListPage, ObjectInfo, PutOptions, StageOptions, StagedContent, StorageBackend } from './types';

interface StoredObject {
  data: Uint8Array;
  modified: string;
}

/** Everything in one Map: for tests and `--memory`. */
export class MemoryStorage implements StorageBackend {
  readonly description = 'memory';
  readonly capabilities = { conditionalWrites: true, readOnly: false };
  private readonly objects = new Map<string, StoredObject>();
  private sortedKeys: string[] | null = null;

  async put(key: string, data: Uint8Array, options: PutOptions = {}): Promise<boolean> {
    assertValidKey(key);
    await options.after;
    if (options.ifAbsent && this.objects.has(key)) return false;
    this.set(key, data);
    return true;
  }

  async copy(from: string, to: string, options: CopyOptions = {}): Promise<boolean> {
    assertValidKey(to);
    const data = await this.get(from);
    if (!data) throw new CacheError('not_found', `cannot copy ${from}: it does not exist`);
    return this.put(to, data, { ifAbsent: options.ifAbsent });
  }

  private set(key: string, data: Uint8Array): void {
    if (!this.objects.has(key)) this.sortedKeys = null;
    this.objects.set(key, { data: Uint8Array.from(data), modified: new Date().toISOString() });
  }

  /** Resolved as a folder resolves it: this store stands in for a local one in tests. */
  addressOf(key: string): string {
    return resolveFoundKey(key);
  }

  async get(key: string): Promise<Uint8Array | null> {
    return this.objects.get(this.addressOf(key))?.data ?? null;
  }

  async getStream(key: string): Promise<AsyncIterable<Uint8Array> | null> {
    const data = await this.get(key);
    if (!data) return null;
    return (async function* () {
      yield data;
    })();
  }

  async exists(key: string): Promise<boolean> {
    return this.objects.has(this.addressOf(key));
  }

  async list(prefix: string, options?: ListOptions): Promise<ListPage> {
    assertReadablePrefix(prefix);
    this.sortedKeys ??= [...this.objects.keys()].sort();
    const objects = this.objects;
    const keys = this.sortedKeys;
    const from = lowerBound(keys, options?.cursor !== undefined && options.cursor > prefix ? options.cursor : prefix);
    function* infos(): Iterable<ObjectInfo> {
      for (let i = from; i < keys.length; i++) {
        const key = keys[i]!;
        const obj = objects.get(key)!;
        yield { key, size: obj.data.byteLength, modified: obj.modified };
      }
    }
    return pageFromSorted(infos(), prefix, options);
  }

  async delete(key: string): Promise<void> {
    if (this.objects.delete(this.addressOf(key))) this.sortedKeys = null;
  }

  async stage(source: ContentSource, options: StageOptions = {}): Promise<StagedContent> {
    const parts: Uint8Array[] = [];
    const result = await pumpHashed(source, options, (chunk) => {
      parts.push(Uint8Array.from(chunk));
    });
    const data = Buffer.concat(parts);
    return {
      ...result,
      commit: async (key) => {
        if (options.signal?.aborted) throw new CacheError('cancelled', 'the store was cancelled');
        const held = await heldContent(this, key, result, async (k) => (await this.get(k))?.byteLength ?? null);
        if (held === 'corrupt') await this.put(key, data);
        else if (held === 'intact' || !(await this.put(key, data, { ifAbsent: true }))) return 'exists';
        return 'created';
      },
      discard: async () => {},
    };
  }

  /** Memory writes are atomic: nothing is ever left behind. */
  async leftovers(): Promise<Leftover[]> {
    return [];
  }

  async removeLeftover(): Promise<void> {}

  async close(): Promise<void> {}
}

/** Index of the first key >= target. */
function lowerBound(keys: string[], target: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keys[mid]! < target) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
