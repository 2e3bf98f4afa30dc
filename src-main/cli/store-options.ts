import { S3_BUCKET_RE, s3EndpointProblem } from '../../src-shared/domain';
import { CacheError } from '../../src-shared/errors';
import { isValidPrefix } from '../../src-shared/keys';
import { FORMAT_NAMES, type FormatName } from '../core/formats/format';
import { defaultStoreDir, type StoreLocation } from '../core/open-store';

/** Where the store is: shared by the CLI and the bridge (`npm run web`). */
export const STORE_OPTIONS = {
  store: { type: 'string' },
  memory: { type: 'boolean' },
  's3-bucket': { type: 'string' },
  's3-prefix': { type: 'string' },
  's3-endpoint': { type: 'string' },
  's3-region': { type: 'string' },
  's3-path-style': { type: 'boolean' },
  's3-checksum': { type: 'string' },
  profile: { type: 'string' },
  'max-entry-size': { type: 'string' },
  format: { type: 'string' },
} as const;

type StoreValues = { [K in keyof typeof STORE_OPTIONS]?: (typeof STORE_OPTIONS)[K]['type'] extends 'boolean' ? boolean : string };

export function usageError(message: string): CacheError {
  return new CacheError('invalid_input', message);
}

const SIZE_UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** `--max-entry-size 512M` (or `$CACHE_ADMIN_MAX_ENTRY_SIZE`): bytes, or K/M/G/T (binary units). */
export function maxEntryBytesOf(values: StoreValues, env: NodeJS.ProcessEnv): number | undefined {
  const given = values['max-entry-size'];
  const text = given ?? env.CACHE_ADMIN_MAX_ENTRY_SIZE;
  if (text === undefined) return undefined;
  const named = given === undefined ? '$CACHE_ADMIN_MAX_ENTRY_SIZE' : '--max-entry-size';
  const m = /^(\d+)\s*([kmgt]?)(?:i?b)?$/i.exec(text.trim());
  const bytes = m ? Number(m[1]) * SIZE_UNITS[m[2]!.toLowerCase()]! : Number.NaN;
  if (!Number.isSafeInteger(bytes) || bytes < 1) throw usageError(`${named} takes a size such as 1048576, 512M or 2G, not ${JSON.stringify(text)}`);
  return bytes;
}

/** `--format native|mgraph`: the layout to open (or to create an empty store in); detected when absent. */
export function formatChoice(values: StoreValues): FormatName | undefined {
  const value = values.format;
  if (value === undefined) return undefined;
  if (!(FORMAT_NAMES as readonly string[]).includes(value)) throw usageError(`--format takes ${FORMAT_NAMES.join(' or ')}`);
  return value as FormatName;
}

/** Whether any store option was given (else the caller picks its default store). */
export function storeChosen(values: StoreValues): boolean {
  return values.store !== undefined || values.memory === true || values['s3-bucket'] !== undefined;
}

export function storeLocation(values: StoreValues, env: NodeJS.ProcessEnv): StoreLocation {
  const chosen = [values.store !== undefined, values.memory === true, values['s3-bucket'] !== undefined].filter(Boolean).length;
  if (chosen > 1) throw usageError('give one of --store, --memory or --s3-bucket');
  // An unset variable in a script (`--store "$DIR"`) would otherwise make the current folder a store.
  for (const option of ['store', 's3-bucket'] as const) {
    if (values[option]?.trim() === '') throw usageError(`--${option} was given an empty value (an unset variable?): nothing was opened`);
  }
  const s3Only = (['s3-prefix', 's3-endpoint', 's3-region', 's3-path-style', 's3-checksum', 'profile'] as const).filter((k) => values[k] !== undefined);
  if (values['s3-bucket'] === undefined) {
    if (s3Only.length) throw usageError(`--${s3Only[0]} needs --s3-bucket`);
    return values.memory ? { kind: 'memory' } : { kind: 'local', dir: values.store ?? defaultStoreDir(env) };
  }
  const checksum = values['s3-checksum'];
  if (checksum !== undefined && checksum !== 'when_required' && checksum !== 'when_supported') {
    throw usageError('--s3-checksum takes when_required or when_supported');
  }
  const endpointProblem = values['s3-endpoint'] === undefined ? null : s3EndpointProblem(values['s3-endpoint']);
  if (endpointProblem) throw usageError(`--s3-endpoint ${endpointProblem}`);
  const prefix = values['s3-prefix'];
  if (prefix !== undefined && !isValidPrefix(prefix)) {
    throw usageError(`--s3-prefix is not a key prefix: folder names of letters, digits and _ . ~ % ! * ' ( ) + = - joined by "/" (such as team/cache/), none empty or starting with "."`);
  }
  if (!S3_BUCKET_RE.test(values['s3-bucket'])) throw usageError('--s3-bucket is not an S3 bucket name (lower case letters, digits, dots and hyphens, 3-63 characters)');
  return {
    kind: 's3',
    config: {
      bucket: values['s3-bucket'],
      prefix,
      endpoint: values['s3-endpoint'],
      region: values['s3-region'] ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION,
      forcePathStyle: values['s3-path-style'],
      checksumMode: checksum,
      profile: values.profile,
    },
  };
}

