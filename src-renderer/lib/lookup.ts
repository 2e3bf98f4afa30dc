import { parseEntryRef, namespaceSchema } from '../../src-shared/domain';

export type LookupTarget = { ok: true; ref: string; hash: string; namespace?: string } | { ok: false; message: string };

const ACCEPTED = 'a cache hash (16 hex digits), a cache id (<hash>-v2), a full SHA-256, or a storage key (<namespace>/objects/ab/cd/<hash>…)';
const OBJECT_NAME = /^([0-9a-f]{16})(?:\.latest\.json|\.v(\d{8})\.json|~(\d{8})~.*)?$/;
const TEMPORAL_NAME = /^\d{8}T\d{9}Z~([0-9a-f]{16})-v(\d+)$/;

/**
 * What the operator typed in the lookup box: a cache hash, a cache id, a full SHA-256, or a storage
 * key (`default/objects/ab/cd/<hash>.v00000002.json`), which also names the namespace.
 */
export function parseLookup(input: string): LookupTarget {
  const text = input.trim();
  if (!text) return { ok: false, message: `Type ${ACCEPTED}.` };
  // A file path is not a key: its first folder would read as a namespace (`/tmp/x` as `tmp`).
  if (/^(\/|~|\.{1,2}\/|[a-z]:[\\/])/i.test(text) || text.includes('\\')) {
    return { ok: false, message: `"${truncate(text)}" is a file path. The lookup takes ${ACCEPTED}. To store a file, drop it on the window.` };
  }
  if (text.includes('/')) {
    const parts = text.split('/');
    const name = parts[parts.length - 1] ?? '';
    const namespace = namespaceSchema.safeParse(parts[0]);
    const object = parts[1] === 'objects' && parts.length === 5 ? OBJECT_NAME.exec(name) : null;
    const temporal = parts[1] === 'temporal' && parts.length === 7 ? TEMPORAL_NAME.exec(name) : null;
    const hash = object?.[1] ?? temporal?.[1];
    if (!namespace.success || !hash || (object && `${parts[2]}${parts[3]}` !== hash.slice(0, 4))) {
      return { ok: false, message: `"${truncate(text)}" is not a storage key of an entry. The lookup takes ${ACCEPTED}.` };
    }
    const version = Number(object?.[2] ?? object?.[3] ?? temporal?.[2] ?? 0);
    return { ok: true, ref: version ? `${hash}-v${version}` : hash, hash, namespace: namespace.data };
  }
  try {
    const ref = parseEntryRef(text);
    if (ref.kind === 'cache_id') return { ok: true, ref: `${ref.hash}-v${ref.version}`, hash: ref.hash };
    return { ok: true, ref: ref.kind === 'sha256' ? ref.sha256 : ref.hash, hash: ref.hash };
  } catch (err) {
    return { ok: false, message: (err as Error).message };
  }
}

function truncate(text: string): string {
  return text.length > 80 ? `${text.slice(0, 77)}…` : text;
}
