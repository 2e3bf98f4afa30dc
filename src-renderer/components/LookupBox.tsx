import { forwardRef, type FormEvent } from 'react';
import { useApp } from '../state/context';

export const LookupBox = forwardRef<HTMLInputElement>(function LookupBox(_props, ref) {
  const input = useApp((s) => s.lookupInput);
  const error = useApp((s) => s.lookupError);
  const setInput = useApp((s) => s.setLookupInput);
  const lookup = useApp((s) => s.lookup);
  const clear = useApp((s) => s.clearLookup);

  function submit(event: FormEvent) {
    event.preventDefault();
    void lookup(input);
  }

  return (
    <form className="lookup" role="search" onSubmit={submit}>
      <input
        ref={ref}
        aria-label="Look up hash or cache id"
        placeholder="Look up a hash, cache id or storage key"
        // The shortcut is said where it does not cut the hint short in a narrow window.
        title="A cache hash, cache id, SHA-256 or storage key (/ or Ctrl+K comes here)"
        aria-keyshortcuts="/ Control+K"
        value={input}
        spellCheck={false}
        aria-invalid={error ? true : undefined}
        aria-describedby={error ? 'lookup-error' : undefined}
        onChange={(e) => setInput(e.target.value)}
        onKeyDown={(e) => {
          if (e.key === 'Escape') clear();
        }}
      />
      <button type="submit" className="primary">
        Look up
      </button>
      {error && (
        <p id="lookup-error" className="error lookup-error" role="alert">
          {error}
        </p>
      )}
    </form>
  );
});
