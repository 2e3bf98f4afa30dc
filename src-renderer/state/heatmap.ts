import type { StoreApi } from 'zustand/vanilla';
import type { CacheAdminApi, ShardCount } from '../../src-shared/contract';
import type { ErrorInfo } from '../../src-shared/errors';
import type { AppActions, AppState } from './store';

/** Every first-level shard, "00"…"ff": what the heatmap draws. */
export const SHARDS = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
/** Shards per shardCounts call (at most LIMITS.shardsPerCall), and calls at once: a big namespace fills in every few shards without flooding main. */
const SHARDS_PER_CALL = 8;
const CALLS_AT_ONCE = 2;

/** One namespace's heatmap: the shards counted so far (all 256 once ready). */
export interface Heatmap {
  status: 'counting' | 'ready' | 'error';
  shards: Record<string, ShardCount>;
  error?: ErrorInfo;
}

export interface HeatmapState {
  /** Per store (profile) and namespace: coming back to a namespace shows its heatmap at once. */
  heatmaps: Record<string, Heatmap>;
  /** Bumped when a namespace's counts are forgotten, so a heatmap on screen counts again. */
  heatmapGeneration: number;
}

export interface HeatmapActions {
  /** Counts the open namespace's shards a range at a time, unless cached; the function it returns stops the count (and drops a partial one). */
  countHeatmap(): () => void;
  /** The app stored into or deleted from this namespace of the open store: its cached counts are stale. */
  forgetHeatmap(namespace: string): void;
}

type Full = AppState & AppActions;

/** The cache key of a namespace in the open store. */
export function heatmapKey(state: Pick<AppState, 'capabilities'>, namespace: string): string {
  const profile = state.capabilities.status === 'ready' ? state.capabilities.data.profile : '';
  return `${profile}\u0000${namespace}`;
}

export function heatmapSlice(set: StoreApi<Full>['setState'], get: StoreApi<Full>['getState'], api: CacheAdminApi): HeatmapState & HeatmapActions {
  /** The count running for each key: a stopped or forgotten one finds itself replaced and ends. */
  const runs = new Map<string, object>();
  const put = (key: string, change: (h: Heatmap | undefined) => Heatmap | undefined) =>
    set((s) => {
      const { [key]: old, ...rest } = s.heatmaps;
      const next = change(old);
      return { heatmaps: next ? { ...rest, [key]: next } : rest };
    });

  return {
    heatmaps: {},
    heatmapGeneration: 0,

    countHeatmap() {
      const { namespace, storeEpoch } = get();
      const key = heatmapKey(get(), namespace);
      if (get().heatmaps[key]?.status === 'ready') return () => {};
      const run = {};
      runs.set(key, run);
      const live = () => runs.get(key) === run && get().storeEpoch === storeEpoch;
      put(key, () => ({ status: 'counting', shards: {} }));
      const ranges = Array.from({ length: SHARDS.length / SHARDS_PER_CALL }, (_, i) => SHARDS.slice(i * SHARDS_PER_CALL, (i + 1) * SHARDS_PER_CALL));
      let next = 0;
      const worker = async () => {
        while (next < ranges.length && live()) {
          const result = await api.shardCounts({ namespace, shards: ranges[next++]! });
          if (!live()) return;
          if (!result.ok) {
            runs.delete(key);
            return put(key, (h) => ({ status: 'error', shards: h?.shards ?? {}, error: result.error }));
          }
          put(key, (h) => ({ status: 'counting', shards: { ...h?.shards, ...Object.fromEntries(result.value.shards.map((s) => [s.shard, s])) } }));
        }
      };
      void Promise.all(Array.from({ length: CALLS_AT_ONCE }, worker)).then(() => {
        if (!live()) return;
        runs.delete(key);
        put(key, (h) => h && { ...h, status: 'ready' });
      });
      return () => {
        if (runs.get(key) !== run) return;
        runs.delete(key);
        put(key, (h) => (h?.status === 'ready' ? h : undefined)); // a partial count is not kept: coming back counts again
      };
    },

    forgetHeatmap(namespace) {
      const key = heatmapKey(get(), namespace);
      runs.delete(key);
      put(key, () => undefined);
      set((s) => ({ heatmapGeneration: s.heatmapGeneration + 1 }));
    },
  };
}
