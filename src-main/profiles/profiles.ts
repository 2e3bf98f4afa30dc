import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { z } from 'zod';
import type { ProfileSummary, ProfilesView } from '../../src-shared/contract';
import { PROFILE_FORMATS, localProfileInputSchema, s3ProfileInputSchema } from '../../src-shared/contract';
import { CacheError, fileSystemError } from '../../src-shared/errors';
import type { StoreLocation } from '../core/open-store';
import type { SecretBox } from './secret-box';

/** What the store given on the command line is called in the store list (never saved). */
export const COMMAND_LINE_NAME = 'Command line';

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

/** A profile checked by `prepare`, not saved yet. */
export interface PreparedProfile {
  stored: StoredProfile;
  /** The saved profile it replaces (the one edited). */
  replaces?: string;
  /** A secret kept only for this run (no keyring, and plain text not allowed). */
  sessionSecret?: string;
  /** Where its store is, secret included: main only. */
  location: StoreLocation;
}

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
    const parsed = profilesFile.safeParse(parseJson(text, this.file));
    if (!parsed.success) throw new CacheError('invalid_input', `${this.file} is not a valid profiles file`);
    this.data = parsed.data;
    return this.data;
  }

  /** Atomic, owner-only: a crash leaves the old file, and no other user can read it. */
  private async write(): Promise<void> {
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

  /** A store folder that holds this app's own settings (profiles.json, its secrets) would list, store into and prune them. */
  private async refuseSettingsFolder(dir: string): Promise<void> {
    const [store, settings] = await Promise.all([fs.realpath(dir), fs.realpath(path.dirname(this.file)).catch(() => path.resolve(path.dirname(this.file)))]);
    if (settings === store || settings.startsWith(store.endsWith(path.sep) ? store : store + path.sep)) {
      throw new CacheError('invalid_input', `${dir} holds Cache Admin's own settings (${path.dirname(this.file)}): choose a folder of its own for the store`);
    }
  }

  /**
   * Checks a new or edited profile and says where its store is, saving nothing: `save` keeps it
   * once it has connected. A name another profile has is refused. An edit
   * that leaves the secret empty keeps the saved one for the same key id.
   */
  async prepare(input: S3Input | LocalInput, allowPlaintextSecret: boolean, editId?: string, keepKeyId = false): Promise<PreparedProfile> {
    const data = await this.load();
    const editing = editId === undefined ? undefined : data.profiles.find((p) => p.id === editId);
    if (editId !== undefined && !editing) throw new CacheError('not_found', `no profile ${editId}`);
    if (editing && editing.kind !== input.kind) throw new CacheError('invalid_input', `${editing.name} is a ${editing.kind === 's3' ? 'bucket' : 'folder'} profile: add a new profile for a ${input.kind === 's3' ? 'bucket' : 'folder'}`);
    // A new profile never takes over a saved one by its name: that one's folder or bucket would be lost without a word.
    // Names are told apart as an operator reads them: in any case, and never the command-line store's.
    const named = (name: string) => name.toLowerCase() === input.name.toLowerCase();
    if (named(COMMAND_LINE_NAME)) throw new CacheError('invalid_input', `${COMMAND_LINE_NAME} is the name of the store given on the command line (--store, --s3-bucket): choose another name`);
    const sameName = data.profiles.find((p) => named(p.name));
    if (sameName && sameName.id !== editing?.id) throw new CacheError('invalid_input', `another profile is already named ${sameName.name}: choose another name, or edit that one`);
    const existing = editing;
    const id = existing?.id ?? `${input.kind}-${randomBytes(4).toString('hex')}`;
    const format = input.format ?? 'auto';
    if (input.kind === 'local') {
      // `/srv/a/../a/` is /srv/a: one folder, one profile (two would open one store as two).
      const dir = path.resolve(input.dir);
      const sameFolder = data.profiles.find((p) => p.kind === 'local' && path.resolve(p.dir) === dir && p.id !== editing?.id);
      if (sameFolder) throw new CacheError('invalid_input', `the profile ${sameFolder.name} already opens ${dir}: choose it, or edit it`);
      await checkStoreFolder(dir);
      await this.refuseSettingsFolder(dir);
      const stored: StoredProfile = { id, kind: 'local', name: input.name, dir, format };
      return { stored, replaces: existing?.id, location: locationOf(stored, undefined) };
    }
    const { secretAccessKey, ...rest } = keepKeyId && editing?.kind === 's3' ? { ...input, accessKeyId: editing.accessKeyId } : input;
    const previous = existing?.kind === 's3' && existing.accessKeyId && existing.accessKeyId === rest.accessKeyId ? existing : undefined;
    const stored: StoredProfile = { id, ...rest, format };
    let secret: string | undefined = secretAccessKey || undefined;
    let sessionSecret: string | undefined;
    if (secret) {
      if (this.secrets.status().available) stored.secret = { sealed: this.secrets.encrypt(secret) };
      else if (allowPlaintextSecret) stored.secret = { plaintext: secret };
      else sessionSecret = secret;
    } else if (editing && previous) {
      stored.secret = previous.secret;
      sessionSecret = this.sessionSecrets.get(previous.id);
      secret = this.secretOf(previous);
      if (!secret) throw new CacheError('invalid_input', `enter the secret key of ${input.name} again (it was kept only for the last run)`);
    }
    if (Boolean(rest.accessKeyId) !== Boolean(secret)) throw new CacheError('invalid_input', 'give both the access key id and the secret key, or neither');
    return { stored, replaces: existing?.id, sessionSecret, location: locationOf(stored, secret) };
  }

  /** Saves a prepared profile (replacing the one it edits) and makes it the active one. */
  async save(prepared: PreparedProfile): Promise<ProfileSummary> {
    const data = await this.load();
    const { stored, replaces, sessionSecret } = prepared;
    data.profiles = replaces ? data.profiles.map((p) => (p.id === replaces ? stored : p)) : [...data.profiles, stored];
    this.sessionSecrets.delete(stored.id);
    if (sessionSecret) this.sessionSecrets.set(stored.id, sessionSecret);
    data.active = stored.id;
    await this.write();
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
    await this.write();
    return true;
  }

  async setActive(id: string): Promise<void> {
    const data = await this.load();
    data.active = id;
    await this.write();
  }

  /** Where a profile's store is, with its secret unsealed: for main only, never the renderer. */
  async location(id: string): Promise<{ profile: ProfileSummary; location: StoreLocation }> {
    const data = await this.load();
    const p = data.profiles.find((q) => q.id === id);
    if (!p) throw new CacheError('not_found', `no profile ${id}`);
    // A saved folder that is gone was moved or deleted: opening it would start an empty store there.
    if (p.kind === 'local' && p.id !== DEFAULT_PROFILE_ID) await checkStoreFolder(p.dir, 'storage_unreachable');
    const secret = this.secretOf(p);
    if (p.kind === 's3' && p.accessKeyId && !secret) throw new CacheError('access_denied', `profile ${p.name} needs its secret key again (it was kept only for the last run): edit it in Stores…`);
    return { profile: this.summary(p), location: locationOf(p, secret) };
  }

  private secretOf(p: StoredProfile): string | undefined {
    if (p.kind !== 's3') return undefined;
    return p.secret ? ('sealed' in p.secret ? this.secrets.decrypt(p.secret.sealed) : p.secret.plaintext) : this.sessionSecrets.get(p.id);
  }
}

function locationOf(p: StoredProfile, secret: string | undefined): StoreLocation {
  if (p.kind === 'local') return { kind: 'local', dir: p.dir };
  return {
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
  };
}

/** A profile's folder must exist: a typo must not become a new, empty store. */
async function checkStoreFolder(dir: string, code: 'invalid_input' | 'storage_unreachable' = 'invalid_input'): Promise<void> {
  const found = await fs.stat(dir).catch((err: unknown) => {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw fileSystemError(err, `cannot open ${dir}`);
  });
  if (!found) throw new CacheError(code, code === 'invalid_input' ? `the folder ${dir} does not exist: create it first, or choose another` : `the store folder ${dir} is gone (moved or deleted?): put it back, or pick another store`);
  if (!found.isDirectory()) throw new CacheError(code, `${dir} is not a folder`);
}

/** JSON.parse's own message quotes the text around the fault, which may be a secret kept in plain text: not repeated. */
function parseJson(text: string, file: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new CacheError('invalid_input', `${file} is not valid JSON: fix it, or move it away to start with the default store`);
  }
}
