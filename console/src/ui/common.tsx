import type { ComponentChildren, JSX } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from '../lib/api';

export function ErrorBox({ error, onRetry }: { error: Error; onRetry?: () => void }) {
  const forbidden = error instanceof ApiError && error.status === 403;
  return (
    <div class="error-box" role="alert">
      <p>
        <strong>{forbidden ? 'Not allowed.' : 'Something went wrong.'}</strong> {error.message}
      </p>
      {onRetry && (
        <button type="button" class="btn" onClick={onRetry}>
          Try again
        </button>
      )}
    </div>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <p class="muted" role="status">
      Loading {what}…
    </p>
  );
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <div class="empty">{children}</div>;
}

// The usual three states of a loaded list around its content.
export function Loaded<T>({
  state,
  what,
  children,
}: {
  state: { data: T | undefined; error: Error | undefined; loading: boolean; reload: () => void };
  what: string;
  children: (data: T) => ComponentChildren;
}) {
  if (state.error && state.data === undefined) return <ErrorBox error={state.error} onRetry={state.reload} />;
  if (state.data === undefined) return <Loading what={what} />;
  return (
    <>
      {state.error && <ErrorBox error={state.error} onRetry={state.reload} />}
      {children(state.data)}
    </>
  );
}

// A modal <dialog>: the browser keeps focus inside and Escape closes it.
export function Dialog({
  title,
  onClose,
  children,
  wide,
}: {
  title: string;
  onClose: () => void;
  children: ComponentChildren;
  wide?: boolean;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useRef(`dlg-${Math.random().toString(36).slice(2)}`).current;
  // What had the focus when the dialog was asked for (read while rendering,
  // before showModal moves the focus into the dialog) gets it back on close,
  // unless the user has since moved on to something else.
  const opener = useRef(document.activeElement instanceof HTMLElement ? document.activeElement : null);
  useEffect(() => {
    const d = ref.current;
    if (d && !d.open) d.showModal();
    return () => {
      const now = document.activeElement;
      const stray = !now || now === document.body || (d !== null && d.contains(now));
      if (stray && opener.current?.isConnected) opener.current.focus();
    };
  }, []);
  return (
    <dialog
      ref={ref}
      class={wide ? 'dialog dialog-wide' : 'dialog'}
      aria-labelledby={titleId}
      onCancel={(e) => {
        e.preventDefault();
        onClose();
      }}
    >
      <div class="dialog-head">
        <h2 id={titleId}>{title}</h2>
        <button type="button" class="btn btn-quiet" aria-label="Close" onClick={onClose}>
          ✕
        </button>
      </div>
      {children}
    </dialog>
  );
}

let fieldSeq = 0;
export function useFieldId(prefix: string): string {
  return useRef(`${prefix}-${++fieldSeq}`).current;
}

// A labelled input with its hint and error, wired with aria-describedby.
export function Field({
  label,
  hint,
  error,
  children,
}: {
  label: string;
  hint?: string;
  error?: string | undefined;
  children: (props: { id: string; 'aria-describedby'?: string; 'aria-invalid'?: boolean }) => JSX.Element;
}) {
  const id = useFieldId('f');
  const describedBy = [hint ? `${id}-hint` : '', error ? `${id}-err` : ''].filter(Boolean).join(' ');
  const props: { id: string; 'aria-describedby'?: string; 'aria-invalid'?: boolean } = { id };
  if (describedBy) props['aria-describedby'] = describedBy;
  if (error) props['aria-invalid'] = true;
  return (
    <div class={error ? 'field field-error' : 'field'}>
      <label for={id}>{label}</label>
      {children(props)}
      {hint && (
        <p class="hint" id={`${id}-hint`}>
          {hint}
        </p>
      )}
      {error && (
        <p class="field-message" id={`${id}-err`}>
          {error}
        </p>
      )}
    </div>
  );
}

// A secret shown once (a code, a token, a generated password).
export function ShownOnce({ label, value }: { label: string; value: string }) {
  const [copied, setCopied] = useState(false);
  return (
    <div class="shown-once" role="status">
      <p>
        <strong>{label}</strong> (shown once: copy it now)
      </p>
      <p class="secret">
        <code>{value}</code>
        <button
          type="button"
          class="btn"
          onClick={() => {
            void navigator.clipboard?.writeText(value).then(
              () => setCopied(true),
              () => setCopied(false),
            );
          }}
        >
          {copied ? 'Copied' : 'Copy'}
        </button>
      </p>
    </div>
  );
}

export function Badge({ kind, children }: { kind: string; children: ComponentChildren }) {
  return <span class={`badge badge-${kind}`}>{children}</span>;
}

export function splitList(text: string): string[] {
  return text
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter(Boolean);
}
