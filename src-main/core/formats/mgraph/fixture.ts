/** Test helpers: the store the real Python service wrote (test-fixtures/mgraph), loaded into any backend. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { REPO_ROOT } from '../../../test-support/cli-harness';
import type { StorageBackend } from '../../storage/types';

export const FIXTURE_DIR = path.join(REPO_ROOT, 'test-fixtures/mgraph');
export const FIXTURE_STORE = path.join(FIXTURE_DIR, 'store');

/** Every file of the fixture store, as storage keys. */
export function fixtureKeys(): string[] {
  return (fs.readdirSync(FIXTURE_STORE, { recursive: true }) as string[])
    .filter((p) => fs.statSync(path.join(FIXTURE_STORE, p)).isFile())
    .map((p) => p.split(path.sep).join('/'))
    .sort();
}

export async function loadFixture(storage: StorageBackend): Promise<number> {
  const keys = fixtureKeys();
  for (const key of keys) await storage.put(key, fs.readFileSync(path.join(FIXTURE_STORE, key)));
  return keys.length;
}

/** Rewrites one JSON file of a store (a ref) by hand, as a tester or a broken tool would, in the service's indent. */
export async function editJson(storage: StorageBackend, key: string, change: (json: Record<string, unknown>) => void): Promise<void> {
  const json = JSON.parse(Buffer.from((await storage.get(key))!).toString('utf8')) as Record<string, unknown>;
  change(json);
  await storage.put(key, Buffer.from(JSON.stringify(json, null, 2)));
}

export function readJsonl<T = Record<string, unknown>>(name: string): T[] {
  return fs
    .readFileSync(path.join(FIXTURE_DIR, name), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as T);
}

export interface StoreOp {
  op: string;
  type: 'json' | 'string' | 'binary';
  namespace: string;
  strategy?: string;
  data?: unknown;
  data_b64?: string;
  content_encoding?: string;
  json_field_path?: string;
  cache_key?: string;
  file_id?: string;
}

/** What each stored cache id held when the service stored it: fixture-ops.jsonl beside its results. */
export function storedByCacheId(): Map<string, StoreOp> {
  const ops = readJsonl<StoreOp>('fixture-ops.jsonl');
  const results = readJsonl<{ cache_id: string }>('store-results.jsonl');
  return new Map(results.map((r, i) => [r.cache_id, ops[i]!]));
}

/** What the service's retrieve gives for a stored op, as the bytes we serve (JSON: its value). */
export function expectedContent(op: StoreOp): { bytes?: Buffer; json?: unknown } {
  if (op.type === 'binary') {
    const raw = Buffer.from(op.data_b64!, 'base64');
    return { bytes: op.content_encoding === 'gzip' ? gunzipSync(raw) : raw };
  }
  if (op.type === 'string') return { bytes: Buffer.from(op.data as string, 'utf8') };
  return { json: op.data };
}
