import { useState } from 'preact/hooks';
import { ApiError, type ApiClient } from '../lib/api';
import type { Session } from '../lib/types';
import { Field } from '../ui/common';

export function LoginView({ api, notice, onLoggedIn }: { api: ApiClient; notice: string | null; onLoggedIn: (s: Session) => void }) {
  const [user, setUser] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      onLoggedIn(await api.login(user.trim(), password));
    } catch (err) {
      if (err instanceof ApiError && err.status === 429)
        setError(`Too many failed logins: try again in ${err.retryAfterS ?? 'a few'} seconds.`);
      else if (err instanceof ApiError && err.status === 401) setError('Wrong user name or password.');
      else setError(err instanceof Error ? err.message : String(err));
      setPassword('');
    } finally {
      setBusy(false);
    }
  };
  return (
    <main id="main" class="login">
      <form class="panel login-panel" onSubmit={(e) => void submit(e)} aria-labelledby="login-title">
        <h1 id="login-title">Hoist console</h1>
        {notice && (
          <p class="notice" role="status">
            {notice}
          </p>
        )}
        {error && (
          <p class="error-box" role="alert">
            {error}
          </p>
        )}
        <Field label="User name">
          {(p) => <input {...p} type="text" autoComplete="username" required autoFocus value={user} onInput={(e) => setUser(e.currentTarget.value)} />}
        </Field>
        <Field label="Password">
          {(p) => (
            <input {...p} type="password" autoComplete="current-password" required value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
          )}
        </Field>
        <button type="submit" class="btn btn-primary btn-block" disabled={busy}>
          {busy ? 'Logging in…' : 'Log in'}
        </button>
      </form>
    </main>
  );
}
