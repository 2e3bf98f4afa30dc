import { parseEntryRef, namespaceSchema } from '../../src-shared/domain';

export type LookupTarget = { ok: true; ref: string; hash: string; namespace?: string } | { ok: false; message: string };

const OBJECT_NAME = /^([0-9a-f]{16})(?:\.latest\.json|\.v(\d{8})\.json|~(\d{8})~.*)?$/;
const TEMPORAL_NAME = /^\d{8}T\d{9}Z~([0-9a-f]{16})-v(\d+)$/;

/**
 * What the operator typed in the lookup box: a cache hash, a cache id, a full SHA-256, or a storage
 * key (`default/objects/ab/cd/<hash>.v00000002.json`), which also names the namespace.
 */
export function parseLookup(input: string): LookupTarget {
  const text = input.trim();
  if (!text) return { ok: false, message: 'Type a cache hash, a cache id, a SHA-256 or a storage key.' };
  if (text.includes('/')) {
    const parts = text.replace(/^\/+/, '').split('/');
    const name = parts[parts.length - 1] ?? '';
    const namespace = namespaceSchema.safeParse(parts[0]);
    const object = OBJECT_NAME.exec(name);
    const temporal = TEMPORAL_NAME.exec(name);
    const hash = object?.[1] ?? temporal?.[1];
    if (!namespace.success || !hash) return { ok: false, message: `"${truncate(text)}" is not a storage key of an entry.` };
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
