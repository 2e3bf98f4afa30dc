import mime from 'mime';

const MAGIC: [number[], string][] = [
  [[0x89, 0x50, 0x4e, 0x47], 'image/png'],
  [[0xff, 0xd8, 0xff], 'image/jpeg'],
  [[0x47, 0x49, 0x46, 0x38], 'image/gif'],
  [[0x25, 0x50, 0x44, 0x46], 'application/pdf'],
  [[0x50, 0x4b, 0x03, 0x04], 'application/zip'],
  [[0x1f, 0x8b], 'application/gzip'],
];

/** Types by lowercase extension, as `mime` answers for them: an entries table types 70,000 names at once. */
const typesByExtension = new Map<string, string | null>();
/** Names with other extensions are typed without the table, so a store of odd names cannot grow it. */
const EXTENSIONS_KEPT = 1_000;

/** Content type from a file name's extension; null when it has no known one. */
export function contentTypeOfName(name: string): string | null {
  const folderEnd = Math.max(name.lastIndexOf('/'), name.lastIndexOf('\\'));
  const dot = name.lastIndexOf('.');
  // No extension (or a dot name such as .bashrc): `mime` has its own rules for those.
  if (dot <= folderEnd + 1) return name ? mime.getType(name) : null;
  const extension = name.slice(dot + 1).toLowerCase();
  const known = typesByExtension.get(extension);
  if (known !== undefined) return known;
  const type = mime.getType(`x.${extension}`);
  if (typesByExtension.size < EXTENSIONS_KEPT && extension.length <= 16) typesByExtension.set(extension, type);
  return type;
}

/** Content type from the file name when it has a known extension, else from the first bytes. */
export function detectContentType(name: string | undefined, head: Uint8Array): string {
  const byName = contentTypeOfName(name ?? '');
  if (byName) return byName;
  for (const [magic, type] of MAGIC) {
    if (magic.every((b, i) => head[i] === b)) return type;
  }
  if (head.length >= 12 && String.fromCharCode(...head.subarray(8, 12)) === 'WEBP') return 'image/webp';
  if (head.length === 0) return 'application/octet-stream';
  if (head.includes(0)) return 'application/octet-stream';
  try {
    // The head may end mid-character: decode in streaming mode so that is not an error.
    const text = new TextDecoder('utf-8', { fatal: true }).decode(head, { stream: true });
    return /^\s*[{[]/.test(text) ? 'application/json' : 'text/plain';
  } catch {
    return 'application/octet-stream';
  }
}
