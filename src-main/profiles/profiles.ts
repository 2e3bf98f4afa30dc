import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { z } from 'zod';
import type { ProfileSummary, ProfilesView } from '../../src-shared/contract';
import { PROFILE_FORMATS, localProfileInputSchema, s3ProfileInputSchema } from '../../src-shared/contract';
import { CacheError } from '../../src-shared/errors';
import type { StoreLocation } from '../core/open-store';
import type { SecretBox } from './secret-box';

type ProfileFormat = (typeof PROFILE_FORMATS)[number];
/** As validated by the contract; `format` may be left out (auto). */
type S3Input = Omit<z.output<typeof s3ProfileInputSchema>, 'format'> & { format?: ProfileFormat };
type LocalInput = Omit<z.output<typeof localProfileInputSchema>, 'format'> & { format?: ProfileFormat };
export type ProfileInput = z.input<typeof s3ProfileInputSchema> | z.input<typeof localProfileInputSchema>;

const storedSecret = z.union([z.object({ sealed: z.string() }).strict(), z.object({ plaintext: z.string() }).strict()]);
// Profiles saved before layouts existed have no format: they detect it.
const storedFormat = z.enum(PROFILE_FORMATS).default('auto');
const storedProfile = z.discriminatedUnion('kind', [
  z.object({ id: z.string(), kind: z.literal('local'), name: z.string(), dir: z.string(), format: storedFormat }),
  z.object({
    id: z.string(),
    kind: z.literal('s3'),
    name: z.string(),
    bucket: z.string(),
    prefix: z.string(),
    region: z.string(),
    endpoint: z.string(),
    pathStyle: z.boolean(),
    awsProfile: z.string(),
    accessKeyId: z.string(),
    secret: storedSecret.optional(),
    format: storedFormat,
  }),
]);
const profilesFile = z.object({ version: z.literal(1), active: z.string(), profiles: z.array(storedProfile) });
type StoredProfile = z.infer<typeof storedProfile>;
type ProfilesFile = z.infer<typeof profilesFile>;

export const DEFAULT_PROFILE_ID = 'local-default';

/** `AKIA…WXYZ`: enough to tell keys apart, never the key. */
export function maskKeyId(keyId: string): string {
  return keyId.length <= 8 ? '…' : `${keyId.slice(0, 4)}…${keyId.slice(-4)}`;
}

/**
 * Connection profiles in `profiles.json` in the app's data folder. Secret keys are sealed with the
 * OS keyring; without one they stay in memory for this run unless the operator allows plain text.
 */
export class ProfileStore {
  private data: ProfilesFile | null = null;
  /** Secrets the operator chose not to persist: gone when the app exits. */
  private readonly sessionSecrets = new Map<string, string>();

  constructor(
    readonly file: string,
    private readonly secrets: SecretBox,
    private readonly defaultStoreDir: string,
  ) {}

  private async load(): Promise<ProfilesFile> {
    if (this.data) return this.data;
    let text: string | null = null;
    try {
      text = await fs.readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    if (text === null) {
      // First run: the default local-folder profile (written with the first change).
      this.data = { version: 1, active: DEFAULT_PROFILE_ID, profiles: [{ id: DEFAULT_PROFILE_ID, kind: 'local', name: 'Local folder', dir: this.defaultStoreDir, format: 'auto' }] };
      return this.data;
    }
    const parsed = profilesFile.safeParse(JSON.parse(text));
    if (!parsed.success) throw new CacheError('invalid_input', `${this.file} is not a valid profiles file`);
    this.data = parsed.data;
    return this.data;
  }

  /** Atomic, owner-only: a crash leaves the old file, and no other user can read it. */
  private async save(): Promise<void> {
    await fs.mkdir(path.dirname(this.file), { recursive: true });
    const tmp = `${this.file}.tmp-${randomBytes(4).toString('hex')}`;
    await fs.writeFile(tmp, `${JSON.stringify(this.data, null, 2)}\n`, { mode: 0o600 });
    await fs.rename(tmp, this.file);
  }

  async view(): Promise<ProfilesView> {
    const data = await this.load();
    return { profiles: data.profiles.map((p) => this.summary(p)), active: data.active, keyring: this.secrets.status() };
  }

  summary(p: StoredProfile): ProfileSummary {
    const removable = p.id !== DEFAULT_PROFILE_ID;
    if (p.kind === 'local') return { id: p.id, name: p.name, kind: 'local', location: p.dir, secret: 'none', removable, format: p.format };
    const secret = p.secret ? ('sealed' in p.secret ? 'keyring' : 'plaintext') : this.sessionSecrets.has(p.id) ? 'session' : 'none';
    return {
      id: p.id,
      name: p.name,
      kind: 's3',
      location: `s3://${p.bucket}/${p.prefix}`,
      endpoint: p.endpoint || undefined,
      region: p.region || undefined,
      pathStyle: p.pathStyle,
      awsProfile: p.awsProfile || undefined,
      maskedKeyId: p.accessKeyId ? maskKeyId(p.accessKeyId) : undefined,
      secret,
      removable,
      format: p.format,
    };
  }

  /** Adds a profile, or replaces the one with the same name. */
  async upsert(input: S3Input | LocalInput, allowPlaintextSecret: boolean): Promise<ProfileSummary> {
    const data = await this.load();
    const existing = data.profiles.find((p) => p.name === input.name);
    const id = existing?.id ?? `${input.kind}-${randomBytes(4).toString('hex')}`;
    let stored: StoredProfile;
    if (input.kind === 'local') {
      stored = { id, kind: 'local', name: input.name, dir: input.dir, format: input.format ?? 'auto' };
    } else {
      if (Boolean(input.accessKeyId) !== Boolean(input.secretAccessKey)) {
        throw new CacheError('invalid_input', 'give both the access key id and the secret key, or neither');
      }
      const { secretAccessKey, ...rest } = input;
      stored = { id, ...rest, format: rest.format ?? 'auto' };
      this.sessionSecrets.delete(id);
      if (secretAccessKey) {
        if (this.secrets.status().available) stored.secret = { sealed: this.secrets.encrypt(secretAccessKey) };
        else if (allowPlaintextSecret) stored.secret = { plaintext: secretAccessKey };
        else this.sessionSecrets.set(id, secretAccessKey);
      }
    }
    data.profiles = existing ? data.profiles.map((p) => (p.id === id ? stored : p)) : [...data.profiles, stored];
    await this.save();
    return this.summary(stored);
  }

  async remove(id: string): Promise<boolean> {
    const data = await this.load();
    if (id === DEFAULT_PROFILE_ID) throw new CacheError('invalid_input', 'the default local folder profile cannot be removed');
    const before = data.profiles.length;
    data.profiles = data.profiles.filter((p) => p.id !== id);
    if (data.profiles.length === before) return false;
    this.sessionSecrets.delete(id);
    if (data.active === id) data.active = DEFAULT_PROFILE_ID;
    await this.save();
    return true;
  }

  async setActive(id: string): Promise<void> {
    const data = await this.load();
    data.active = id;
    await this.save();
  }

  /** Where a profile's store is, with its secret unsealed: for main only, never the renderer. */
  async location(id: string): Promise<{ profile: ProfileSummary; location: StoreLocation }> {
    const data = await this.load();
    const p = data.profiles.find((q) => q.id === id);
    if (!p) throw new CacheError('not_found', `no profile ${id}`);
    if (p.kind === 'local') return { profile: this.summary(p), location: { kind: 'local', dir: p.dir } };
    const secret = p.secret ? ('sealed' in p.secret ? this.secrets.decrypt(p.secret.sealed) : p.secret.plaintext) : this.sessionSecrets.get(p.id);
    if (p.accessKeyId && !secret) throw new CacheError('access_denied', `profile ${p.name} needs its secret key again (it was kept only for the last run)`);
    return {
      profile: this.summary(p),
      location: {
        kind: 's3',
        config: {
          bucket: p.bucket,
          prefix: p.prefix,
          region: p.region || undefined,
          endpoint: p.endpoint || undefined,
          forcePathStyle: p.pathStyle,
          profile: p.awsProfile || undefined,
          credentials: p.accessKeyId && secret ? { accessKeyId: p.accessKeyId, secretAccessKey: secret } : undefined,
        },
      },
    };
  }
}
