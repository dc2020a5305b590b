import { useCallback, useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { ApiClient, ApiError } from './lib/api';
import { LiveUpdates, type LiveStatus } from './lib/live';
import { mayOpen, navFor, type ViewName } from './lib/roles';
import { DEFAULT_HASH, buildHash, parseHash, returnTarget } from './lib/router';
import type { RequestList, Session } from './lib/types';
import { Dialog, Field } from './ui/common';
import { AppContext, useApp, type Toast } from './ui/context';
import { useLoad } from './ui/hooks';
import { useRequestAlerts } from './ui/request_alerts';
import { AuditView } from './views/audit';
import { CodesView } from './views/codes';
import { EndpointsView } from './views/endpoints';
import { GrantDetailView, GrantsView } from './views/grants';
import { LoginView } from './views/login';
import { NotificationsView } from './views/notifications';
import { PolicyDetailView, PoliciesView } from './views/policies';
import { PENDING_URL, QueueView } from './views/queue';
import { RequestHistoryView, RequestView } from './views/requests';
import { UsersView } from './views/users';

const RETURN_KEY = 'hoist.returnTo';
const SESSION_ENDED = 'Your session ended. Log in again to continue where you were.';

function useHash(): string {
  const [hash, setHash] = useState(() => location.hash || DEFAULT_HASH);
  useEffect(() => {
    const on = () => setHash(location.hash || DEFAULT_HASH);
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return hash;
}

export function App() {
  const hash = useHash();
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  const [notice, setNotice] = useState<string | null>(null);
  const [bootError, setBootError] = useState<string | null>(null);
  const expired = useRef<() => void>(() => undefined);
  // hoistd wants the password again before an approval (step-up): the
  // dialog below asks, and the API client sends the approval again.
  const [stepUp, setStepUp] = useState<{ resolve: (ok: boolean) => void } | null>(null);
  const api = useMemo(
    () =>
      new ApiClient({
        onUnauthenticated: () => expired.current(),
        onStepUp: () => new Promise<boolean>((resolve) => setStepUp({ resolve })),
      }),
    [],
  );

  const goLogin = useCallback((message: string | null) => {
    const here = location.hash || DEFAULT_HASH;
    if (parseHash(here).name !== 'login') sessionStorage.setItem(RETURN_KEY, returnTarget(here));
    setSession(null);
    setNotice(message);
    location.hash = buildHash('login');
  }, []);
  expired.current = () => goLogin(SESSION_ENDED);

  // Logged out and sent somewhere else meanwhile (a link, the address bar,
  // back): that page is where the login returns to, not the one the
  // session ended on.
  useEffect(() => {
    if (session === null && parseHash(hash).name !== 'login') sessionStorage.setItem(RETURN_KEY, returnTarget(hash));
  }, [session, hash]);

  useEffect(() => {
    api.whoami().then(
      (s) => {
        if (s && s.csrf_token) setSession(s);
        else goLogin(null);
      },
      (e: unknown) => setBootError(e instanceof Error ? e.message : String(e)),
    );
  }, [api, goLogin]);

  // Logged in already (a reload of #/login): go to the queue. It reads
  // location.hash, not the state: right after a login, onLoggedIn has set
  // the page to return to and the hashchange event has not arrived yet, so
  // the state still says #/login (the page to return to would be lost to
  // the queue).
  useEffect(() => {
    if (session && parseHash(location.hash).name === 'login') location.hash = DEFAULT_HASH;
  }, [session, hash]);

  const onLoggedIn = (s: Session) => {
    setSession(s);
    setNotice(null);
    const back = sessionStorage.getItem(RETURN_KEY) ?? DEFAULT_HASH;
    sessionStorage.removeItem(RETURN_KEY);
    location.hash = back;
  };

  if (bootError)
    return (
      <main id="main" class="login">
        <div class="error-box" role="alert">
          <p>
            <strong>hoistd cannot be reached.</strong> {bootError}
          </p>
          <button type="button" class="btn" onClick={() => location.reload()}>
            Try again
          </button>
        </div>
      </main>
    );
  if (session === undefined)
    return (
      <main id="main" class="login">
        <p role="status">Loading…</p>
      </main>
    );
  if (session === null) return <LoginView api={api} notice={notice} onLoggedIn={onLoggedIn} />;
  if (parseHash(hash).name === 'login')
    return (
      <main id="main" class="login">
        <p role="status">You are logged in as {session.user}.</p>
      </main>
    );
  return (
    <>
      {stepUp && (
        <StepUpDialog
          api={api}
          user={session.user}
          onDone={(ok) => {
            stepUp.resolve(ok);
            setStepUp(null);
          }}
        />
      )}
      <Shell
        api={api}
        session={session}
        hash={hash}
        onSignOut={() => {
          void api.logout().finally(() => {
            sessionStorage.removeItem(RETURN_KEY);
            setSession(null);
            setNotice('You have signed out.');
            location.hash = buildHash('login');
          });
        }}
      />
    </>
  );
}

// The password again, for hoistd's step-up (docs/console.md, "Step-up"):
// a wrong one keeps the dialog open; giving up leaves the request as it was.
function StepUpDialog({ api, user, onDone }: { api: ApiClient; user: string; onDone: (ok: boolean) => void }) {
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const done = useRef(onDone);
  done.current = onDone;
  const settled = useRef(false);
  const finish = (ok: boolean) => {
    if (settled.current) return;
    settled.current = true;
    done.current(ok);
  };
  // Unmounted without an answer (the session ended meanwhile): give up.
  useEffect(() => () => finish(false), []);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await api.reauth(password);
      finish(true);
    } catch (err) {
      setPassword('');
      if (err instanceof ApiError && err.status === 429) setError(`Too many wrong passwords: try again in ${err.retryAfterS ?? 'a few'} seconds.`);
      else if (err instanceof ApiError && err.status === 403) setError('Wrong password.');
      else if (err instanceof ApiError && err.status === 401) finish(false);
      else setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Dialog title="Confirm your password" onClose={() => finish(false)}>
      <form onSubmit={(e) => void submit(e)}>
        <p>
          You logged in a while ago. Before an approval takes effect, type the password of <strong>{user}</strong> again: an unattended console cannot
          approve on its own.
        </p>
        {error && (
          <p class="error-box" role="alert">
            {error}
          </p>
        )}
        <Field label="Password">
          {(p) => (
            <input {...p} type="password" autoComplete="current-password" required autoFocus value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
          )}
        </Field>
        <div class="actions">
          <button type="submit" class="btn btn-primary" disabled={busy || password === ''}>
            Confirm and continue
          </button>
          <button type="button" class="btn" onClick={() => finish(false)}>
            Cancel
          </button>
        </div>
      </form>
    </Dialog>
  );
}

function Shell({ api, session, hash, onSignOut }: { api: ApiClient; session: Session; hash: string; onSignOut: () => void }) {
  const live = useMemo(
    () => new LiveUpdates({ createEventSource: (url) => new EventSource(url, { withCredentials: true }) }),
    [],
  );
  const [status, setStatus] = useState<LiveStatus>(live.status);
  const [toasts, setToasts] = useState<Toast[]>([]);
  const [menuOpen, setMenuOpen] = useState(false);
  const seq = useRef(0);
  useEffect(() => {
    const off = live.onStatus(setStatus);
    live.start();
    return () => {
      off();
      live.stop();
    };
  }, [live]);
  useEffect(() => setMenuOpen(false), [hash]);
  const notify = useCallback((kind: Toast['kind'], text: string) => {
    const id = ++seq.current;
    setToasts((t) => [...t.slice(-4), { id, kind, text }]);
    setTimeout(() => setToasts((t) => t.filter((x) => x.id !== id)), kind === 'error' ? 10000 : 5000);
  }, []);
  const ctx = useMemo(() => ({ api, live, session, notify }), [api, live, session, notify]);
  const route = parseHash(hash);
  const nav = navFor(session.role);
  const current = viewOf(route.name);
  return (
    <AppContext.Provider value={ctx}>
      <a class="skip-link" href="#main" onClick={(e) => { e.preventDefault(); document.getElementById('main')?.focus(); }}>
        Skip to content
      </a>
      <header class="topbar">
        <div class="brand">Hoist</div>
        <button
          type="button"
          class="btn menu-toggle"
          aria-expanded={menuOpen}
          aria-controls="main-nav"
          onClick={() => setMenuOpen(!menuOpen)}
        >
          Menu
        </button>
        <nav id="main-nav" class={menuOpen ? 'nav nav-open' : 'nav'} aria-label="Main">
          <ul>
            {nav.map((n) => (
              <li key={n.view}>
                <a href={buildHash(n.view)} aria-current={current === n.view ? 'page' : undefined}>
                  {n.label}
                  {n.view === 'queue' && <PendingCount onQueue={current === 'queue'} />}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <div class="who-am-i">
          <LiveIndicator status={status} />
          <span>
            {session.user} <span class="role">({session.role})</span>
          </span>
          <button type="button" class="btn btn-small" onClick={onSignOut}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        <Page route={route} role={session.role} />
      </main>
      <div class="toasts" aria-live="polite" aria-atomic="false">
        {toasts.map((t) => (
          <div key={t.id} class={`toast toast-${t.kind}`} role={t.kind === 'error' ? 'alert' : 'status'}>
            <span>{t.text}</span>
            <button type="button" class="btn btn-quiet" aria-label="Dismiss" onClick={() => setToasts((x) => x.filter((y) => y.id !== t.id))}>
              ✕
            </button>
          </div>
        ))}
      </div>
    </AppContext.Provider>
  );
}

function LiveIndicator({ status }: { status: LiveStatus }) {
  const text = status === 'live' ? 'Live' : status === 'paused' ? 'Live updates paused: refreshing every 3 s' : 'Connecting…';
  return (
    <span class={`live live-${status}`} role="status" title={text}>
      <span class="live-dot" aria-hidden="true" />
      <span class={status === 'paused' ? '' : 'live-text'}>{text}</span>
    </span>
  );
}

// The number of waiting requests in the nav and the tab title, so a
// technician on another page still sees a new request arrive; and, when
// they asked for them in the queue, a browser notification for each new one.
function PendingCount({ onQueue }: { onQueue: boolean }) {
  const { api } = useApp();
  const state = useLoad(() => api.get<RequestList>(PENDING_URL), 'pending-count', ['requests']);
  useRequestAlerts(state.data?.requests, onQueue);
  const n = state.data?.requests.filter((r) => r.state === 'pending').length ?? 0;
  useEffect(() => {
    document.title = n > 0 ? `(${n}) Hoist console` : 'Hoist console';
  }, [n]);
  if (n === 0) return null;
  return (
    <span class="count" aria-label={`${n} waiting`}>
      {n}
    </span>
  );
}

// The menu entry a route belongs to (a detail page to its list).
function viewOf(name: ReturnType<typeof parseHash>['name']): ViewName | null {
  if (name === 'grant') return 'grants';
  if (name === 'policy') return 'policies';
  if (name === 'request') return 'requests';
  if (name === 'not_found' || name === 'login') return null;
  return name;
}

function Page({ route, role }: { route: ReturnType<typeof parseHash>; role: Session['role'] }) {
  const view = viewOf(route.name);
  if (view === null)
    return (
      <section>
        <h1>No such page</h1>
        <p>
          <a href={DEFAULT_HASH}>Go to the request queue</a>
        </p>
      </section>
    );
  if (!mayOpen(role, view))
    return (
      <section>
        <h1>Not available to your role</h1>
        <p>Your role ({role}) cannot open this page. Ask an admin if you need it.</p>
      </section>
    );
  switch (route.name) {
    case 'queue':
      return <QueueView />;
    case 'requests':
      return <RequestHistoryView query={route.query} />;
    case 'request':
      return <RequestView key={route.param} id={route.param ?? ''} />;
    case 'grants':
      return <GrantsView />;
    case 'grant':
      return <GrantDetailView key={route.param} id={route.param ?? ''} />;
    case 'policies':
      return <PoliciesView />;
    case 'policy':
      return <PolicyDetailView key={route.param} name={route.param ?? ''} isNew={route.query.new === '1'} />;
    case 'endpoints':
      return <EndpointsView />;
    case 'codes':
      return <CodesView />;
    case 'audit':
      return <AuditView query={route.query} />;
    case 'notifications':
      return <NotificationsView query={route.query} />;
    case 'users':
      return <UsersView />;
    default:
      return null;
  }
}
