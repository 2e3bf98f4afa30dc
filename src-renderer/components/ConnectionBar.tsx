import { useEffect, useRef, useState, type FormEvent, type ReactNode } from 'react';
import { useApp } from '../state/context';
import { Loading, Modal } from './common';
import { methods, type ProfileFormat, type ProfileSummary, type StoreLayout } from '../../src-shared/contract';
import type { AppActions, Theme } from '../state/store';

const LAYOUT_NAMES: Record<StoreLayout, string> = { native: 'native', mgraph: 'Python cache service (mgraph)' };
const PROFILE_FORMAT_NAMES: Record<ProfileFormat, string> = { auto: 'detect from its keys', ...LAYOUT_NAMES };

const NEXT_THEME: Record<Theme, Theme> = { system: 'dark', dark: 'light', light: 'system' };
const THEME_ICONS: Record<Theme, string> = { system: '◐', dark: '●', light: '○' };
/** The store given on the command line: offered for this run, never saved, so not editable. */
const COMMAND_LINE = 'command-line';

export function ConnectionBar() {
  const capabilities = useApp((s) => s.capabilities);
  const profiles = useApp((s) => s.profiles);
  const connect = useApp((s) => s.connect);
  const connecting = useApp((s) => s.connecting);
  const cancelConnect = useApp((s) => s.cancelConnect);
  const storeProblem = useApp((s) => s.storeProblem);
  const accessRefused = useApp((s) => s.accessRefused);
  const theme = useApp((s) => s.theme);
  const setTheme = useApp((s) => s.setTheme);
  const notify = useApp((s) => s.notify);
  const [managing, setManaging] = useState(false);
  const active = profiles.status === 'ready' ? profiles.data.active : capabilities.status === 'ready' ? capabilities.data.profile : '';

  return (
    <header className="topbar">
      <h1 className="brand">
        <span className="logo" aria-hidden="true">
          ▦
        </span>
        Cache Admin
      </h1>
      <label className="profile">
        <span className="muted">Store</span>
        <select
          aria-label="Store profile"
          value={active}
          onChange={(e) => void connect(e.target.value).then((error) => error && notify(connectFailure(error)))}
          disabled={profiles.status !== 'ready' || connecting !== null}
        >
          {profiles.status === 'ready' &&
            profiles.data.profiles.map((p) => (
              <option key={p.id} value={p.id}>
                {p.name} — {p.location}
              </option>
            ))}
        </select>
      </label>
      <button type="button" onClick={() => setManaging(true)}>
        Stores…
      </button>
      {connecting && (
        <>
          <span className="badge" role="status">
            Connecting to {connecting.name}…
          </span>
          <button type="button" onClick={() => void cancelConnect()}>
            Cancel connecting
          </button>
        </>
      )}
      {/* Refused, nothing here works (Reconnect neither): the page says so at once, not on the next click. */}
      {accessRefused && (
        <span className="badge warn problem" role="alert" data-testid="access-refused" title={accessRefused.message}>
          Not connected: {accessRefused.message}
        </span>
      )}
      {storeProblem && !connecting && !accessRefused && (
        <>
          <span className="badge warn problem" role="alert" data-testid="store-problem" title={storeProblem.message}>
            Store missing or unreachable: {storeProblem.message}
          </span>
          <button type="button" onClick={() => void connect(active).then((error) => error && notify(connectFailure(error)))}>
            Reconnect
          </button>
        </>
      )}
      {capabilities.status === 'ready' && !accessRefused && (
        <span className="badge" data-testid="store-layout" title={capabilities.data.formatReason}>
          layout: {LAYOUT_NAMES[capabilities.data.format]}
        </span>
      )}
      {capabilities.status === 'ready' &&
        !accessRefused &&
        (capabilities.data.readOnly ? (
          <span className="badge warn" data-testid="read-only" title={capabilities.data.store}>
            read-only: these credentials may read but not write
          </span>
        ) : (
          <span className={`badge ${capabilities.data.conditionalWrites ? 'ok' : 'warn'}`} title={capabilities.data.store}>
            {capabilities.data.conditionalWrites ? 'conditional writes: supported' : 'conditional writes: not supported — concurrent writers may collide'}
          </span>
        ))}
      {capabilities.status === 'error' && <span className="badge warn">{capabilities.error.message}</span>}
      <span className="spacer" />
      <button type="button" onClick={() => setTheme(NEXT_THEME[theme])} title="Switch theme">
        <span aria-hidden="true">{THEME_ICONS[theme]}</span> Theme: {theme}
      </button>
      {managing && <StoresDialog onClose={() => setManaging(false)} />}
    </header>
  );
}

const SECRET_PLACES: Record<Exclude<ProfileSummary['secret'], 'none'>, string> = {
  keyring: 'secret sealed by the OS keyring',
  plaintext: 'secret on disk, unencrypted',
  session: 'secret kept until the app exits',
};

/** A switch refused while transfers run is not a failure to connect: nothing was tried. */
function connectFailure(error: { code: string; message: string }): string {
  return `${error.code === 'conflict' ? 'Cannot switch store' : 'Could not connect'}: ${error.message}`;
}

/** Which credentials an S3 profile uses, never the secret itself. */
function credentialsOf(p: ProfileSummary): string {
  if (p.kind !== 's3') return '';
  if (p.maskedKeyId) return `key ${p.maskedKeyId}${p.secret === 'none' ? '' : ` · ${SECRET_PLACES[p.secret]}`}`;
  return p.awsProfile ? `AWS profile ${p.awsProfile}` : 'default AWS credentials';
}

/** The saved stores: connect, edit, remove (the profile only, never the data), or add one. */
function StoresDialog({ onClose }: { onClose: () => void }) {
  const [form, setForm] = useState<{ kind: 's3' | 'local'; editing?: ProfileSummary } | null>(null);
  const back = () => setForm(null);
  const title = form && (form.editing ? `Edit ${form.editing.name}` : form.kind === 's3' ? 'Add S3 bucket' : 'Add local folder');
  return (
    <Modal label={title ?? 'Stores'} className={form ? '' : 'wide'} onClose={form ? back : onClose}>
      {form?.kind === 's3' && <S3ProfileForm title={title!} editing={form.editing} onCancel={back} onConnected={onClose} />}
      {form?.kind === 'local' && <FolderProfileForm title={title!} editing={form.editing} onCancel={back} onConnected={onClose} />}
      {!form && <ProfileList onAdd={(kind) => setForm({ kind })} onEdit={(p) => setForm({ kind: p.kind === 's3' ? 's3' : 'local', editing: p })} onClose={onClose} />}
    </Modal>
  );
}

function ProfileList({ onAdd, onEdit, onClose }: { onAdd: (kind: 's3' | 'local') => void; onEdit: (profile: ProfileSummary) => void; onClose: () => void }) {
  const profiles = useApp((s) => s.profiles);
  const connect = useApp((s) => s.connect);
  const removeProfile = useApp((s) => s.removeProfile);
  const [confirming, setConfirming] = useState<string | null>(null);
  /** The row whose Remove gets focus back when it shows again (Keep). */
  const [kept, setKept] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const heading = useRef<HTMLHeadingElement>(null);
  const table = useRef<HTMLTableElement>(null);
  // The Remove pressed gives way to Confirm removal and Keep: focus goes to Keep, and back to Remove after it.
  useEffect(() => {
    const target = confirming ? '[data-keep]' : kept ? `[data-remove="${CSS.escape(kept)}"]` : null;
    if (target) table.current?.querySelector<HTMLElement>(target)?.focus();
  }, [confirming, kept]);
  if (profiles.status !== 'ready') return <Loading what="stores" />;
  const { active } = profiles.data;

  async function connectTo(id: string) {
    const failed = await connect(id);
    if (failed) setError(connectFailure(failed));
    else onClose();
  }

  async function remove(id: string) {
    setConfirming(null);
    const result = await removeProfile(id);
    setError(result.ok ? null : result.error.message);
    heading.current?.focus(); // its row is gone: focus stays in the dialog, at its top
  }

  return (
    <>
      <h2 ref={heading} tabIndex={-1}>
        Stores
      </h2>
      <table className="profiles" ref={table}>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Where</th>
            <th scope="col">Credentials</th>
            <th scope="col">
              <span className="visually-hidden">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {profiles.data.profiles.map((p) => (
            <tr key={p.id}>
              <td>
                {p.name} {p.id === active && <span className="badge ok">connected</span>}
              </td>
              <td>
                <code>{p.location}</code>
                {p.endpoint && <div className="muted">{p.endpoint}</div>}
              </td>
              <td className="muted">{credentialsOf(p)}</td>
              <td className="row-actions">
                {confirming === p.id ? (
                  <>
                    <button type="button" className="danger" onClick={() => void remove(p.id)}>
                      Confirm removal
                    </button>
                    <button type="button" data-keep onClick={() => {
                        setConfirming(null);
                        setKept(p.id);
                      }}>
                      Keep
                    </button>
                  </>
                ) : (
                  <>
                    {p.id !== active && (
                      <button type="button" onClick={() => void connectTo(p.id)}>
                        Connect
                      </button>
                    )}
                    {p.id !== COMMAND_LINE && (
                      <button type="button" onClick={() => onEdit(p)}>
                        Edit<span className="visually-hidden"> {p.name}</span>
                      </button>
                    )}
                    {p.removable && p.id !== active && (
                      <button type="button" data-remove={p.id} onClick={() => setConfirming(p.id)}>
                        Remove<span className="visually-hidden"> {p.name}</span>
                      </button>
                    )}
                  </>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <p className="muted">Removing a store forgets its profile and secret; what is stored there stays.</p>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <div className="modal-actions">
        <button type="button" onClick={() => onAdd('local')}>
          Add local folder
        </button>
        <button type="button" onClick={() => onAdd('s3')}>
          Add S3 bucket
        </button>
        {/* data-autofocus when the dialog opens; autoFocus when the list comes back from a form */}
        <button type="button" className="primary" onClick={onClose} data-autofocus autoFocus>
          Close
        </button>
      </div>
    </>
  );
}

interface FormProps {
  title: string;
  /** The profile being edited; absent, a new one is added. */
  editing?: ProfileSummary;
  onCancel: () => void;
  onConnected: () => void;
}

type ProfileInput = Parameters<AppActions['saveProfile']>[0];

/** The forms' labels for the contract's profile fields. */
const FIELD_LABELS: Record<string, string> = {
  name: 'Name',
  dir: 'Folder',
  bucket: 'Bucket',
  prefix: 'Prefix',
  region: 'Region',
  endpoint: 'Endpoint',
  awsProfile: 'AWS profile',
  accessKeyId: 'Access key id',
  secretAccessKey: 'Secret key',
};

/**
 * The first field main would refuse, checked by the same schema before anything is sent, so the
 * operator reads "Folder: must be an absolute path", not the channel's own names for it.
 */
function fieldProblem(input: ProfileInput): { field: string; message: string } | null {
  const parsed = methods.saveProfile.input.safeParse(input);
  if (parsed.success) return null;
  const issue = parsed.error.issues[0]!;
  const field = String(issue.path.at(-1) ?? '');
  return { field, message: `${FIELD_LABELS[field] ?? field}: ${issue.message}` };
}

/**
 * Connects to the store the fields describe; main saves the profile only once that worked. A
 * failure stays in the form and nothing is kept; connecting shows at once and can be cancelled.
 */
function ProfileForm({ title, editing, toInput, onCancel, onConnected, children }: Omit<FormProps, 'title'> & { title: string; toInput: (fields: FormData) => ProfileInput; children: ReactNode }) {
  const saveProfile = useApp((s) => s.saveProfile);
  const cancelConnect = useApp((s) => s.cancelConnect);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const input = { ...toInput(new FormData(event.currentTarget)), id: editing?.id };
    const problem = fieldProblem(input);
    if (problem) {
      setError(problem.message);
      (event.currentTarget.elements.namedItem(problem.field) as HTMLElement | null)?.focus();
      return;
    }
    setBusy(true);
    setError(null);
    const failed = await saveProfile(input);
    setBusy(false);
    if (failed) setError(failed.message);
    else onConnected();
  }

  return (
    // An edit answers the error: it no longer describes what the fields say.
    <form aria-label={title} onSubmit={(e) => void submit(e)} onChange={() => setError(null)}>
      <h2>{title}</h2>
      {children}
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {busy && (
        <p className="muted" role="status">
          Connecting…
        </p>
      )}
      <div className="modal-actions">
        {busy ? (
          <button type="button" onClick={() => void cancelConnect()}>
            Cancel
          </button>
        ) : (
          <button type="button" onClick={onCancel}>
            Back
          </button>
        )}
        <button type="submit" className="primary" disabled={busy}>
          {busy ? 'Connecting…' : 'Save and connect'}
        </button>
      </div>
    </form>
  );
}

const textOf = (fields: FormData, name: string) => String(fields.get(name) ?? '').trim();
const formatOf = (fields: FormData) => (textOf(fields, 'format') || 'auto') as ProfileFormat;

/** Which layout the store holds: detected when it is opened, or forced (an empty store is native unless told). */
function FormatField({ value }: { value?: ProfileFormat }) {
  return (
    <label>
      Layout
      <select name="format" defaultValue={value ?? 'auto'}>
        {Object.entries(PROFILE_FORMAT_NAMES).map(([format, label]) => (
          <option key={format} value={format}>
            {label}
          </option>
        ))}
      </select>
    </label>
  );
}

function FolderProfileForm(props: FormProps) {
  const { editing } = props;
  return (
    <ProfileForm {...props} toInput={(f) => ({ profile: { kind: 'local', name: textOf(f, 'name'), dir: textOf(f, 'dir'), format: formatOf(f) }, allowPlaintextSecret: false })}>
      <div className="form-grid">
        <label>
          Name <input name="name" required autoFocus defaultValue={editing?.name} />
        </label>
        <label>
          Folder <input name="dir" required placeholder="/srv/cache (absolute, existing)" defaultValue={editing?.location} />
        </label>
        <FormatField value={editing?.format} />
      </div>
    </ProfileForm>
  );
}

/** `s3://bucket/prefix/` back into its fields, for editing. */
function bucketOf(location: string): { bucket: string; prefix: string } {
  const [bucket = '', ...rest] = location.replace(/^s3:\/\//, '').split('/');
  return { bucket, prefix: rest.join('/') };
}

function S3ProfileForm(props: FormProps) {
  const { editing } = props;
  const keyring = useApp((s) => (s.profiles.status === 'ready' ? s.profiles.data.keyring : null));
  // An edited bucket keeps its key id unless the operator types another (the UI never sees the id itself).
  const [keepKeyId, setKeepKeyId] = useState(Boolean(editing?.maskedKeyId));
  const saved = editing && bucketOf(editing.location);
  const toInput = (f: FormData): ProfileInput => ({
    profile: {
      kind: 's3',
      name: textOf(f, 'name'),
      bucket: textOf(f, 'bucket'),
      prefix: textOf(f, 'prefix'),
      region: textOf(f, 'region'),
      endpoint: textOf(f, 'endpoint'),
      pathStyle: f.get('pathStyle') === 'on',
      awsProfile: textOf(f, 'awsProfile'),
      accessKeyId: keepKeyId ? '' : textOf(f, 'accessKeyId'),
      secretAccessKey: String(f.get('secretAccessKey') ?? ''),
      format: formatOf(f),
    },
    keepKeyId,
    allowPlaintextSecret: f.get('plaintext') === 'on',
  });
  const secretHint = !editing?.maskedKeyId ? undefined : editing.secret === 'none' ? 'kept only for the last run: enter it again' : 'saved: leave empty to keep it';

  return (
    <ProfileForm {...props} toInput={toInput}>
      <div className="form-grid">
        <label>
          Name <input name="name" required autoFocus defaultValue={editing?.name} />
        </label>
        <label>
          Bucket <input name="bucket" required defaultValue={saved?.bucket} />
        </label>
        <label>
          Prefix <input name="prefix" placeholder="cache/" defaultValue={saved?.prefix} />
        </label>
        <label>
          Region <input name="region" placeholder="us-east-1" defaultValue={editing?.region} />
        </label>
        <label>
          Endpoint <input name="endpoint" placeholder="https://s3.example.com (S3-compatible)" defaultValue={editing?.endpoint} />
        </label>
        <label className="check">
          <input type="checkbox" name="pathStyle" defaultChecked={editing?.pathStyle} /> Path-style addressing
        </label>
        <label>
          AWS profile <input name="awsProfile" placeholder="from ~/.aws/config" defaultValue={editing?.awsProfile} />
        </label>
        {editing?.maskedKeyId && (
          <label className="check">
            <input type="checkbox" checked={keepKeyId} onChange={(e) => setKeepKeyId(e.target.checked)} /> Keep access key id {editing.maskedKeyId}
          </label>
        )}
        {!keepKeyId && (
          <label>
            Access key id <input name="accessKeyId" autoComplete="off" />
          </label>
        )}
        <label>
          Secret key <input name="secretAccessKey" type="password" autoComplete="off" placeholder={secretHint} />
        </label>
        <FormatField value={editing?.format} />
      </div>
      {keyring && !keyring.available && (
        <label className="check warn-text">
          <input type="checkbox" name="plaintext" /> No OS keyring here{keyring.backend && ` (${keyring.backend})`}: keep the secret key on disk unencrypted. Unchecked, it is kept
          only until the app exits.
        </label>
      )}
    </ProfileForm>
  );
}
