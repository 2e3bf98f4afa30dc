import { CacheError } from '../../../src-shared/errors';
import { isReadablePrefix } from '../../../src-shared/keys';
import { QUARANTINE_PREFIX } from '../cache-service';
import { ADMIN_PREFIX } from '../retention/policy';
import type { StorageBackend } from '../storage/types';
import type { FormatName } from './format';

/**
 * Folders directly under a namespace that only one layout writes, each with the folders one of
 * which it holds in that layout: a shared bucket's own `data/` or `objects/` (analytics/data/…) is
 * no sign of a layout.
 */
const MARKERS: Record<string, { format: FormatName; holds: RegExp }> = {
  'objects/': { format: 'native', holds: /^[0-9a-f]{2}\/$/ },
  'temporal/': { format: 'native', holds: /^\d{4}\/$/ },
  'refs/': { format: 'mgraph', holds: /^by-(hash|id)\/$/ },
  'data/': { format: 'mgraph', holds: /^(direct|temporal|temporal-latest|temporal-versioned|key-based)\/$/ },
};
/**
 * Where a store in the service's layout says so: with its last entry deleted it holds no layout
 * keys, and would open as native (the default) and take native keys the service never reads. A
 * native store needs no mark: native is what an unmarked empty store opens as.
 */
export const LAYOUT_MARK_KEY = `${ADMIN_PREFIX}layout.json`;

/**
 * Writes the mark once (create-only), or over one that is damaged or names a layout this version does not know (the
 * layout chosen for the store takes its place); `freesSpace` for a delete, which must go ahead on a full disk.
 */
export async function markLayout(storage: StorageBackend, format: FormatName, options: { freesSpace?: boolean } = {}): Promise<void> {
  const mark = new TextEncoder().encode(`${JSON.stringify({ layout: format })}\n`);
  if (await storage.put(LAYOUT_MARK_KEY, mark, { ifAbsent: true, freesSpace: options.freesSpace })) return;
  if ((await markedLayout(storage)) === 'unknown') await storage.put(LAYOUT_MARK_KEY, mark, { freesSpace: options.freesSpace });
}

/** The layout a store's mark names; null without one, 'unknown' for one damaged or of a layout this version does not know. */
async function markedLayout(storage: StorageBackend): Promise<FormatName | 'unknown' | null> {
  const bytes = await storage.get(LAYOUT_MARK_KEY);
  if (!bytes) return null;
  try {
    const layout = (JSON.parse(new TextDecoder().decode(bytes)) as { layout?: unknown }).layout;
    return layout === 'native' || layout === 'mgraph' ? layout : 'unknown';
  } catch {
    return 'unknown';
  }
}

/** Top-level folders looked into at a time, until one holds a layout's keys: a handful of LIST calls in a store. */
const FOLDERS_PER_ROUND = 8;
/** When the root holds no layout keys: folders looked into in each top-level folder, for a store one level down. */
const NESTED_NAMESPACES_PROBED = 4;
/**
 * Top-level folders looked into for a store one level down (a guard against a mistake, not a
 * layout's keys: it need not see them all, and each costs up to five LISTs).
 */
const NESTED_FOLDERS_PROBED = 64;

export interface Detection {
  format: FormatName;
  /** Why, in one line (shown by the CLI and the connection bar). */
  reason: string;
  /** Each layout whose keys were found, with up to three of its folders. */
  found: Partial<Record<FormatName, string[]>>;
  /** No layout's keys at the root, but a folder one level down holds a store: the folder, its layout and what gave it away. */
  nested?: { folder: string; format: FormatName; found: string[] };
  /** Top-level folders looked into. */
  probed: number;
}

export const LAYOUT_LABELS: Record<FormatName, string> = { native: 'the native layout', mgraph: "the Python cache service's layout" };

/**
 * Which layout a store holds, from a few listings: `<ns>/objects/…` and `<ns>/temporal/…` are
 * native; `<ns>/refs/…` and `<ns>/data/…` are the Python service's. A store with neither is the
 * layout its mark names (LAYOUT_MARK_KEY), else `emptyAs`, native unless told.
 */
export async function detectFormat(storage: StorageBackend, options: { emptyAs?: FormatName; lookFor?: FormatName } = {}): Promise<Detection> {
  // Every top-level folder may be the first namespace: other tools' folders sorting first (Backup/,
  // Docs/) must not hide a store, so the root is listed on, page by page, until a layout is found.
  const root = topLevelFolders(storage);
  const votes: Record<FormatName, string[]> = { native: [], mgraph: [] };
  // Until a layout is found; a layout chosen (`lookFor`) is looked for on past the other's folders.
  const done = () => (options.lookFor ? votes[options.lookFor].length > 0 : votes.native.length + votes.mgraph.length > 0);
  let probed = 0;
  while (!done()) {
    const round = await root.next(FOLDERS_PER_ROUND);
    if (round.length === 0) break;
    const found = await markersIn(storage, round);
    votes.native.push(...found.native);
    votes.mgraph.push(...found.mgraph);
    probed += round.length;
  }
  const found: Detection['found'] = {};
  for (const format of ['native', 'mgraph'] as const) if (votes[format].length > 0) found[format] = votes[format].slice(0, 3);
  const fallback = options.emptyAs ?? 'native';
  if (votes.native.length === 0 && votes.mgraph.length === 0) {
    const marked = await markedLayout(storage);
    // Only a mark says which layout an empty store is: guessed, a service store would take native keys the service never reads.
    if (marked === 'unknown' && !options.lookFor) {
      throw new CacheError(
        'corrupt',
        `this store holds no entries, and its layout mark ${LAYOUT_MARK_KEY} is damaged or names a layout this version does not know: nothing was opened, as the wrong layout would file new keys where the store's own tool never reads them; choose the store's layout (--format native or --format mgraph; in the app, the store's layout): the service's layout writes its mark anew with its next store or delete; a native store needs none (remove the file)`,
      );
    }
    if (marked && marked !== 'unknown') return { format: marked, reason: `${LAYOUT_LABELS[marked]}: no entries, and ${LAYOUT_MARK_KEY} says so`, found: { [marked]: [LAYOUT_MARK_KEY] }, probed };
    // A repair's quarantine holds namespaces as a store does: it is this store's, not one below it.
    const nested = await storeOneLevelDown(storage, root.seen.filter((f) => f !== QUARANTINE_PREFIX).slice(0, NESTED_FOLDERS_PROBED));
    return { format: fallback, reason: `no layout keys found: ${fallback} (the default)`, found, probed, ...(nested && { nested }) };
  }
  const format: FormatName = votes.mgraph.length > votes.native.length ? 'mgraph' : 'native';
  return { format, reason: `${LAYOUT_LABELS[format]}: found ${found[format]!.join(', ')}`, found, probed };
}

/**
 * The root's folders that may be namespaces, listed a page at a time as they are asked for:
 * Cache Admin's own folder (the retention policy) takes no probe, nor does a folder named as no
 * key can be (`.git/`, `é/`, put there by another tool), which cannot be listed.
 */
function topLevelFolders(storage: StorageBackend): { next(count: number): Promise<string[]>; seen: string[] } {
  const seen: string[] = [];
  let handed = 0;
  let cursor: string | undefined;
  let listedAll = false;
  return {
    seen,
    async next(count) {
      while (!listedAll && seen.length < handed + count) {
        const page = await storage.list('', { delimiter: '/', cursor });
        seen.push(...page.prefixes.filter((p) => p !== ADMIN_PREFIX && isReadablePrefix(p)));
        cursor = page.cursor;
        listedAll = cursor === undefined;
      }
      const round = seen.slice(handed, handed + count);
      handed += round.length;
      return round;
    },
  };
}

/** The layout folders (`objects/`, `refs/`, …) found directly under each of these namespace folders, holding what that layout puts there. */
async function markersIn(storage: StorageBackend, namespaces: string[]): Promise<Record<FormatName, string[]>> {
  const votes: Record<FormatName, string[]> = { native: [], mgraph: [] };
  await Promise.all(
    namespaces.filter(isReadablePrefix).map(async (ns) => {
      const page = await storage.list(ns, { delimiter: '/', limit: 16 });
      for (const sub of page.prefixes) {
        const marker = MARKERS[sub.slice(ns.length)];
        if (!marker) continue;
        const inside = await storage.list(sub, { delimiter: '/', limit: 16 });
        if (inside.prefixes.some((p) => marker.holds.test(p.slice(sub.length)))) votes[marker.format].push(sub);
      }
    }),
  );
  // In the order the folders were listed, whichever answered first.
  for (const list of Object.values(votes)) list.sort();
  return votes;
}

/**
 * A top-level folder whose folders are a store's namespaces (the operator opened the folder above
 * a store), looked for a round at a time: the first in listing order.
 */
async function storeOneLevelDown(storage: StorageBackend, folders: string[]): Promise<Detection['nested'] | undefined> {
  for (let at = 0; at < folders.length; at += FOLDERS_PER_ROUND) {
    const round = await Promise.all(
      folders.slice(at, at + FOLDERS_PER_ROUND).map(async (folder): Promise<Detection['nested']> => {
        const page = await storage.list(folder, { delimiter: '/', limit: NESTED_NAMESPACES_PROBED });
        const votes = await markersIn(storage, page.prefixes);
        const format: FormatName | null = votes.mgraph.length > votes.native.length ? 'mgraph' : votes.native.length > 0 ? 'native' : null;
        return format ? { folder, format, found: votes[format].slice(0, 3) } : undefined;
      }),
    );
    const nested = round.find((n) => n !== undefined);
    if (nested) return nested;
  }
  return undefined;
}
