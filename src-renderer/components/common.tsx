import type { ReactNode } from 'react';
import type { ErrorInfo } from '../../src-shared/errors';

export function ErrorLine({ error }: { error: ErrorInfo }) {
  return (
    <p className="error" role="alert">
      <span className="code">{error.code}</span> {error.message}
    </p>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <p className="empty">{children}</p>;
}

export function Loading({ what }: { what: string }) {
  return (
    <p className="loading" role="status">
      Loading {what}…
    </p>
  );
}

export function Panel({ label, title, actions, children, className }: { label: string; title?: string; actions?: ReactNode; children: ReactNode; className?: string }) {
  return (
    <section aria-label={label} className={`panel ${className ?? ''}`}>
      <header className="panel-head">
        <h2>{title ?? label}</h2>
        {actions && <div className="panel-actions">{actions}</div>}
      </header>
      <div className="panel-body">{children}</div>
    </section>
  );
}

export function CopyButton({ text, label }: { text: string; label: string }) {
  return (
    <button type="button" className="link" onClick={() => void navigator.clipboard?.writeText(text)} aria-label={label} title={label}>
      Copy
    </button>
  );
}
