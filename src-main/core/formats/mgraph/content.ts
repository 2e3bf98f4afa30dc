/** How the service turns what it stores into file bytes and a cache hash, and how to check both back. */
import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { canonicalJsonBytes, pythonJsonDumpsBytes, pythonJsonDumpsValue, pythonJsonFieldText } from '../../../../src-shared/canonical-json';
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

/** Cache__Hash__Generator.from_json_field: the hash of one field of JSON text, found by dot notation. */
export function fieldHash(text: string, fieldPath: string): string {
  return serviceHash(fieldText(text, fieldPath));
}

function fieldText(text: string, fieldPath: string): string {
  const field = pythonJsonFieldText(text, fieldPath);
  if (field === null) throw new CacheError('invalid_input', `field ${fieldPath} is not in the JSON`);
  return field;
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
  const fileBytes = pythonJsonDumpsBytes(text, { indent: 2, sortKeys: false });
  if (fileBytes[0] !== 0x7b) throw new CacheError('invalid_json', 'the service stores JSON objects only ({…} at the top level)');
  if (!options.jsonFieldPath) return { dataType: 'json', fileBytes, hash: serviceHash(canonicalJsonBytes(text)) };
  const field = fieldText(text, options.jsonFieldPath);
  // The service's field hash takes non-empty text only (Raw_Str__Non_Empty): it refuses this store.
  if (field === '') throw new CacheError('invalid_input', `field ${options.jsonFieldPath} is an empty string: the service hashes no empty text, so it stores no entry by it`);
  return { dataType: 'json', fileBytes, hash: serviceHash(field) };
}

/** What a content file holds and the hash it re-hashes to (verify), as the service's retrieve reads it. */
export function rehashFile(bytes: Uint8Array, fileType: 'json' | 'binary', meta: { contentEncoding: string | null; jsonFieldPath: string | null }): { dataType: DataType; hash: string } {
  if (fileType === 'binary') {
    const plain = meta.contentEncoding === 'gzip' ? gunzipSync(bytes) : bytes;
    return { dataType: 'binary', hash: serviceHash(plain) };
  }
  const text = utf8.decode(bytes);
  // Read as Python reads it: exact big integers, NaN and Infinity, which JSON.parse refuses or rounds.
  if (text.trimStart().startsWith('"')) return { dataType: 'string', hash: serviceHash(JSON.parse(text) as string) };
  if (meta.jsonFieldPath) return { dataType: 'json', hash: fieldHash(text, meta.jsonFieldPath) };
  return { dataType: 'json', hash: serviceHash(canonicalJsonBytes(text)) };
}
