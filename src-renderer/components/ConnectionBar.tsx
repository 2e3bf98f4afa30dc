import { useState, type FormEvent } from 'react';
import { useApp } from '../state/context';
import type { Theme } from '../state/store';

const NEXT_THEME: Record<Theme, Theme> = { system: 'dark', dark: 'light', light: 'system' };

export function ConnectionBar() {
  const capabilities = useApp((s) => s.capabilities);
  const profiles = useApp((s) => s.profiles);
  const connect = useApp((s) => s.connect);
  const theme = useApp((s) => s.theme);
  const setTheme = useApp((s) => s.setTheme);
  const [adding, setAdding] = useState(false);
  const active = profiles.status === 'ready' ? profiles.data.active : capabilities.status === 'ready' ? capabilities.data.profile : '';

  return (
    <header className="topbar">
      <div className="brand">
        <span className="logo" aria-hidden="true">
          ▦
        </span>
        Cache Admin
      </div>
      <label className="profile">
        <span className="muted">Store</span>
        <select aria-label="Store profile" value={active} onChange={(e) => void connect(e.target.value)} disabled={profiles.status !== 'ready'}>
          {profiles.status === 'ready' &&
            profiles.data.profiles.map((p) => (
              <option key={p.id} value={p.id}>
                {p.name} — {p.location}
              </option>
            ))}
        </select>
      </label>
      <button type="button" onClick={() => setAdding(true)}>
        Add S3 profile
      </button>
      {capabilities.status === 'ready' && (
        <span className={`badge ${capabilities.data.conditionalWrites ? 'ok' : 'warn'}`} title={capabilities.data.store}>
          {capabilities.data.conditionalWrites ? 'conditional writes: supported' : 'conditional writes: not supported — concurrent writers may collide'}
        </span>
      )}
      {capabilities.status === 'error' && <span className="badge warn">{capabilities.error.message}</span>}
      <span className="spacer" />
      <button type="button" onClick={() => setTheme(NEXT_THEME[theme])} aria-label={`Theme: ${theme}`} title="Switch theme">
        {theme === 'system' ? '◐ System' : theme === 'dark' ? '● Dark' : '○ Light'}
      </button>
      {adding && <AddS3Profile onClose={() => setAdding(false)} />}
    </header>
  );
}

function AddS3Profile({ onClose }: { onClose: () => void }) {
  const saveProfile = useApp((s) => s.saveProfile);
  const connect = useApp((s) => s.connect);
  const keyring = useApp((s) => (s.profiles.status === 'ready' ? s.profiles.data.keyring : null));
  const [error, setError] = useState<string | null>(null);

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const f = new FormData(event.currentTarget);
    const text = (k: string) => String(f.get(k) ?? '').trim();
    const result = await saveProfile({
      profile: {
        kind: 's3',
        name: text('name'),
        bucket: text('bucket'),
        prefix: text('prefix'),
        region: text('region'),
        endpoint: text('endpoint'),
        pathStyle: f.get('pathStyle') === 'on',
        awsProfile: text('awsProfile'),
        accessKeyId: text('accessKeyId'),
        secretAccessKey: String(f.get('secretAccessKey') ?? ''),
      },
      allowPlaintextSecret: f.get('plaintext') === 'on',
    });
    if (!result.ok) return setError(result.error.message);
    onClose();
    await connect(result.value.id);
  }

  return (
    <div className="modal-backdrop">
      <form className="modal" aria-label="Add S3 profile" onSubmit={(e) => void submit(e)}>
        <h2>Add S3 profile</h2>
        <div className="form-grid">
          <label>
            Name <input name="name" required />
          </label>
          <label>
            Bucket <input name="bucket" required />
          </label>
          <label>
            Prefix <input name="prefix" placeholder="cache/" />
          </label>
          <label>
            Region <input name="region" placeholder="us-east-1" />
          </label>
          <label>
            Endpoint <input name="endpoint" placeholder="https://s3.example.com (S3-compatible)" />
          </label>
          <label className="check">
            <input type="checkbox" name="pathStyle" /> Path-style addressing
          </label>
          <label>
            AWS profile <input name="awsProfile" placeholder="from ~/.aws/config" />
          </label>
          <label>
            Access key id <input name="accessKeyId" autoComplete="off" />
          </label>
          <label>
            Secret key <input name="secretAccessKey" type="password" autoComplete="off" />
          </label>
        </div>
        {keyring && !keyring.available && (
          <label className="check warn-text">
            <input type="checkbox" name="plaintext" /> No OS keyring here ({keyring.backend}): keep the secret key on disk unencrypted. Unchecked, it is kept
            only until the app exits.
          </label>
        )}
        {error && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
        <div className="modal-actions">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="primary">
            Save and connect
          </button>
        </div>
      </form>
    </div>
  );
}
