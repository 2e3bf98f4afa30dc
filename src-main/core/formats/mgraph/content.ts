/** How the service turns what it stores into file bytes and a cache hash, and how to check both back. */
import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { canonicalJsonFromText, canonicalJsonFromValue, pythonFloatRepr, pythonJsonDumpsText, pythonJsonDumpsValue } from '../../../../src-shared/canonical-json';
import { CacheError } from '../../../../src-shared/errors';

export type DataType = 'binary' | 'json' | 'string';

export const sha256Hex = (bytes: Uint8Array | string) => createHash('sha256').update(bytes).digest('hex');
/** Cache__Hash__Generator: SHA-256, first 16 hex characters. */
export const serviceHash = (bytes: Uint8Array | string) => sha256Hex(bytes).slice(0, 16);
/** Memory-FS's content__hash in .metadata: MD5, first 10 hex characters. */
export const contentMd5 = (bytes: Uint8Array) => createHash('md5').update(bytes).digest('hex').slice(0, 10);

// JSON text drops a leading byte order mark, as JSON readers do; a string keeps every character, a
// leading U+FEFF too, as the service's str does (dropping it would store other bytes under another hash).
const utf8 = new TextDecoder('utf-8', { fatal: true });
const utf8KeepingBom = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function decodeText(bytes: Uint8Array, what: 'JSON' | 'text'): string {
  try {
    return (what === 'JSON' ? utf8 : utf8KeepingBom).decode(bytes);
  } catch {
    throw new CacheError(what === 'JSON' ? 'invalid_json' : 'invalid_input', `${what} input is not valid UTF-8`);
  }
}

/** Python's str() of a JSON scalar, as hash_from_json_field hashes numbers and booleans. */
function pythonStr(value: number | boolean): string {
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  return Number.isInteger(value) ? BigInt(value).toString() : pythonFloatRepr(value);
}

/** Cache__Hash__Generator.from_json_field: the hash of one field, found by dot notation. */
export function fieldHash(document: unknown, fieldPath: string): string {
  let current: unknown = document;
  for (const part of fieldPath.split('.')) {
    if (current === null || typeof current !== 'object' || Array.isArray(current)) throw new CacheError('invalid_input', `field ${fieldPath} is not in the JSON`);
    current = (current as Record<string, unknown>)[part];
  }
  if (current === undefined || current === null) throw new CacheError('invalid_input', `field ${fieldPath} is not in the JSON`);
  if (typeof current === 'string') return serviceHash(current);
  if (typeof current === 'number' || typeof current === 'boolean') return serviceHash(pythonStr(current));
  return serviceHash(canonicalJsonFromValue(current));
}

export interface Prepared {
  dataType: DataType;
  /** What goes into the content file(s). */
  fileBytes: Uint8Array;
  hash: string;
}

/** The service's store_binary / store_json / store_string, from raw input bytes. */
export function prepareContent(bytes: Uint8Array, as: DataType, options: { jsonFieldPath?: string; gzip?: boolean }): Prepared {
  if (bytes.byteLength === 0) throw new CacheError('invalid_input', 'the service stores no empty content');
  if (as === 'binary') {
    let plain = bytes;
    if (options.gzip) {
      try {
        plain = gunzipSync(bytes);
      } catch {
        throw new CacheError('invalid_input', 'content marked gzip is not gzip data');
      }
    }
    return { dataType: 'binary', fileBytes: bytes, hash: serviceHash(plain) };
  }
  const text = decodeText(bytes, as === 'json' ? 'JSON' : 'text');
  if (as === 'string') return { dataType: 'string', fileBytes: new TextEncoder().encode(pythonJsonDumpsValue(text, { indent: 2, sortKeys: false })), hash: serviceHash(text) };
  const fileText = pythonJsonDumpsText(text, { indent: 2, sortKeys: false });
  if (!fileText.startsWith('{')) throw new CacheError('invalid_json', 'the service stores JSON objects only ({…} at the top level)');
  const hash = options.jsonFieldPath ? fieldHash(JSON.parse(text), options.jsonFieldPath) : serviceHash(canonicalJsonFromText(text));
  return { dataType: 'json', fileBytes: new TextEncoder().encode(fileText), hash };
}

/** What a content file holds and the hash it re-hashes to (verify), as the service's retrieve reads it. */
export function rehashFile(bytes: Uint8Array, fileType: 'json' | 'binary', meta: { contentEncoding: string | null; jsonFieldPath: string | null }): { dataType: DataType; hash: string } {
  if (fileType === 'binary') {
    const plain = meta.contentEncoding === 'gzip' ? gunzipSync(bytes) : bytes;
    return { dataType: 'binary', hash: serviceHash(plain) };
  }
  const text = utf8.decode(bytes);
  const value = JSON.parse(text) as unknown;
  if (typeof value === 'string') return { dataType: 'string', hash: serviceHash(value) };
  if (meta.jsonFieldPath) return { dataType: 'json', hash: fieldHash(value, meta.jsonFieldPath) };
  return { dataType: 'json', hash: serviceHash(canonicalJsonFromText(text)) };
}
