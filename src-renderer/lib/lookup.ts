import { LIMITS } from '../../src-shared/contract';
import { parseEntryRef, type EntryRef } from '../../src-shared/domain';

export type LookupTarget = { ok: true; ref: string; namespace?: string } | { ok: false; message: string };

const ACCEPTED = 'a cache hash (16 hex digits), a cache id (<hash>-v2, or a GUID in a service store), a full SHA-256 (native stores), or a storage key (<namespace>/…)';

/**
 * What the operator typed in the lookup box. Main parses it in the open layout (hash, cache id,
 * SHA-256 or storage key); here only what no layout takes is refused, and a storage key names its
 * namespace (its first folder).
 */
export function parseLookup(input: string): LookupTarget {
  const text = input.trim();
  if (!text) return { ok: false, message: `Type ${ACCEPTED}.` };
  if (text.length > LIMITS.keyLength) {
    return { ok: false, message: `That is ${text.length.toLocaleString('en-US')} characters; the longest storage key is ${LIMITS.keyLength.toLocaleString('en-US')}. The lookup takes ${ACCEPTED}.` };
  }
  // A file path is not a key: its first folder would read as a namespace (`/tmp/x` as `tmp`).
  if (/^(\/|~|\.{1,2}\/|[a-z]:[\\/])/i.test(text) || text.includes('\\')) {
    return { ok: false, message: `"${truncate(text)}" is a file path. The lookup takes ${ACCEPTED}. To store a file, drop it on the window.` };
  }
  if (text.includes('/')) return { ok: true, ref: text, namespace: text.slice(0, text.indexOf('/')) };
  return { ok: true, ref: text };
}

/** What a typed hash, native cache id or SHA-256 names (its hash among it); a GUID or a storage key names none here. */
export function entryRefOf(ref: string): EntryRef | undefined {
  try {
    return parseEntryRef(ref);
  } catch {
    return undefined;
  }
}

function truncate(text: string): string {
  return text.length > 80 ? `${text.slice(0, 77)}…` : text;
}
