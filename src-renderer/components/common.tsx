import { useEffect, useRef, useState, type KeyboardEvent, type ReactNode } from 'react';
import type { ErrorInfo } from '../../src-shared/errors';
import { ERROR_TITLES } from '../lib/format';
import { useApp } from '../state/context';

/** Why a control that would write is off (the connection bar says it too). */
export const READ_ONLY_REASON = 'This store is open read-only: its credentials may read but not write';

/** The open store's credentials may read but not write: what would write is offered off, not refused after a confirmation. */
export function useReadOnly(): boolean {
  return useApp((s) => s.capabilities.status === 'ready' && s.capabilities.data.readOnly);
}

export function ErrorLine({ error }: { error: ErrorInfo }) {
  // A cancel the operator asked for is no error: its message says what happened, as a sentence.
  if (error.code === 'cancelled') {
    return (
      <p className="muted" role="status">
        {error.message.charAt(0).toUpperCase()}
        {error.message.slice(1).replace(/\.?$/, '.')}
      </p>
    );
  }
  const title = ERROR_TITLES[error.code] ?? error.code;
  // A message that starts with its title ("not valid JSON: …") says it once.
  const rest = error.message.toLowerCase().startsWith(`${title.toLowerCase()}: `) ? error.message.slice(title.length + 2) : error.message;
  return (
    <p className="error" role="alert" data-code={error.code}>
      <span className="code" title={`Error code: ${error.code}`}>
        {title}:
      </span>{' '}
      {rest}
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

export function Panel({ label, title, actions, children, className }: { label: string; title?: ReactNode; actions?: ReactNode; children: ReactNode; className?: string }) {
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

/** A name in a panel heading, shown as it is (headings are upper-cased; a service namespace is case-sensitive). */
export function AsIs({ children }: { children: ReactNode }) {
  return <span className="as-is">{children}</span>;
}

/** Copies `text`; the button says "Copied" (or that it could not) for a moment, so the operator knows. */
export function CopyButton({ text, what }: { text: string; what: string }) {
  const [state, setState] = useState<'idle' | 'copied' | 'failed'>('idle');
  useEffect(() => {
    if (state === 'idle') return;
    const timer = setTimeout(() => setState('idle'), 2000);
    return () => clearTimeout(timer);
  }, [state]);
  async function copy() {
    try {
      await navigator.clipboard.writeText(text);
      setState('copied');
    } catch {
      setState('failed');
    }
  }
  return (
    <button type="button" className="link" onClick={() => void copy()} title={`Copy ${what}`}>
      <span aria-live="polite">{state === 'copied' ? 'Copied' : state === 'failed' ? 'Copy failed' : 'Copy'}</span>
      <span className="visually-hidden"> {what}</span>
    </button>
  );
}

const FOCUSABLE = 'button:not([disabled]), input:not([disabled]):not([type="hidden"]), select:not([disabled]), textarea, [href], [tabindex]:not([tabindex="-1"])';

/**
 * A modal dialog (the platform's: the rest of the page is inert). Focus starts on `[data-autofocus]`
 * or the first control, Tab cycles inside, Escape calls `onClose`, and focus returns to the opener.
 */
/**
 * A question before an action that changes the store: what it will do, the action, and a way out,
 * which the focus starts on. Either button closes it; the action runs after.
 */
export function ConfirmDialog({ label, title, children, action, keep, danger = false, onConfirm, onClose }: { label: string; title: ReactNode; children: ReactNode; action: string; keep: string; danger?: boolean; onConfirm: () => void; onClose: () => void }) {
  return (
    <Modal label={label} onClose={onClose}>
      <h2>{title}</h2>
      <p>{children}</p>
      <div className="row-actions">
        <button
          type="button"
          className={danger ? 'danger' : 'primary'}
          onClick={() => {
            onClose();
            onConfirm();
          }}
        >
          {action}
        </button>
        <button type="button" data-autofocus onClick={onClose}>
          {keep}
        </button>
      </div>
    </Modal>
  );
}

export function Modal({ label, onClose, className, children }: { label: string; onClose: () => void; className?: string; children: ReactNode }) {
  const ref = useRef<HTMLDialogElement>(null);
  const [opener] = useState(() => document.activeElement); // read before any child takes focus
  useEffect(() => {
    const dialog = ref.current!;
    if (!dialog.open) dialog.showModal(); // this focuses the first control; the marked one comes first
    const preferred = dialog.querySelector<HTMLElement>('[data-autofocus]');
    if (preferred) preferred.focus();
    else if (!dialog.contains(document.activeElement) || document.activeElement === dialog) dialog.querySelector<HTMLElement>(FOCUSABLE)?.focus();
    return () => {
      dialog.close();
      if (opener instanceof HTMLElement && opener.isConnected) opener.focus();
    };
  }, [opener]);

  function trapTab(event: KeyboardEvent) {
    if (event.key !== 'Tab') return;
    const controls = [...ref.current!.querySelectorAll<HTMLElement>(FOCUSABLE)];
    const edge = event.shiftKey ? controls[0] : controls[controls.length - 1];
    if (edge && document.activeElement === edge) {
      event.preventDefault();
      (event.shiftKey ? controls[controls.length - 1] : controls[0])!.focus();
    }
  }

  return (
    <dialog
      ref={ref}
      className={`modal ${className ?? ''}`}
      aria-label={label}
      onKeyDown={trapTab}
      onCancel={(e) => {
        e.preventDefault(); // Escape: the owner decides what closes
        onClose();
      }}
    >
      {children}
    </dialog>
  );
}

/** A table's column headings. */
export function TableHead({ columns }: { columns: string[] }) {
  return (
    <thead>
      <tr>
        {columns.map((c) => (
          <th scope="col" key={c}>
            {c}
          </th>
        ))}
      </tr>
    </thead>
  );
}
