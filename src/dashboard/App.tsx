/**
 * The shell: validates a stored session on load (`GET /api/check-auth`), routes by hash, shows
 * sign-in whenever there is no session, and ends the session on any 401 or on its expiry.
 */
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, request, setSessionEndedHandler } from './api';
import { Collections } from './pages/Collections';
import { Database } from './pages/Database';
import { Keys } from './pages/Keys';
import { Query } from './pages/Query';
import { SignIn } from './pages/SignIn';
import { Status } from './pages/Status';
import { href, navigate, useRoute, type Page } from './router';
import { clearSession, hasStoredSession, loadSession, saveSession, type Session } from './session';
import type { AuthCheck } from './types';

type Auth =
  | { state: 'checking'; session: Session }
  | { state: 'signed-out' }
  | { state: 'signed-in'; session: Session };

const ENDED = 'Your session has ended. Please sign in again.';
const TITLES: Record<Page, string> = { signin: 'Sign in', keys: 'API keys', collections: 'Collections', query: 'Query', status: 'Status', database: 'Database' };
const NAV: { page: Exclude<Page, 'signin'>; label: string }[] = [
  { page: 'keys', label: 'Keys' },
  { page: 'collections', label: 'Collections' },
  { page: 'query', label: 'Query' },
  { page: 'status', label: 'Status' },
  { page: 'database', label: 'Database' },
];
/** setTimeout's ceiling (about 24.8 days); longer sessions are re-armed on the next load. */
const MAX_TIMER = 2_147_483_647;

export function App() {
  const route = useRoute();
  const [auth, setAuth] = useState<Auth>(() => {
    const session = loadSession();
    return session ? { state: 'checking', session } : { state: 'signed-out' };
  });
  const [notice, setNotice] = useState<string | null>(() => (hasStoredSession() && !loadSession() ? ENDED : null));
  const returnTo = useRef<string | null>(null);

  const endSession = useCallback((message: string | null) => {
    clearSession();
    setAuth({ state: 'signed-out' });
    setNotice(message);
  }, []);

  useEffect(() => {
    setSessionEndedHandler(() => endSession(ENDED));
    return () => setSessionEndedHandler(() => {});
  }, [endSession]);

  // A stored session is only trusted once the server agrees.
  useEffect(() => {
    if (auth.state !== 'checking') return;
    const { session } = auth;
    let cancelled = false;
    request<AuthCheck>('/api/check-auth')
      .then((answer) => {
        if (cancelled) return;
        if (!answer || answer.authenticated !== true) {
          endSession(ENDED);
          return;
        }
        const checked: Session = {
          token: session.token,
          username: answer.username ?? session.username,
          expiresAt: answer.expiresAt ?? session.expiresAt,
        };
        saveSession(checked);
        setAuth({ state: 'signed-in', session: checked });
      })
      .catch((failure: unknown) => {
        if (cancelled) return;
        // 401: the session-ended handler already ran. Otherwise (offline, older server) keep the
        // session: the next call that fails with 401 ends it.
        if (failure instanceof ApiError && failure.status === 401) return;
        setAuth({ state: 'signed-in', session });
      });
    return () => {
      cancelled = true;
    };
  }, [auth, endSession]);

  // End the session when its token expires, even if the page sits idle.
  const expiresAt = auth.state === 'signed-in' ? auth.session.expiresAt : null;
  useEffect(() => {
    if (!expiresAt) return;
    const remaining = Date.parse(expiresAt) - Date.now();
    if (!Number.isFinite(remaining) || remaining > MAX_TIMER) return;
    const timer = setTimeout(() => endSession(ENDED), Math.max(0, remaining));
    return () => clearTimeout(timer);
  }, [expiresAt, endSession]);

  // Keep the address bar in line with what is shown.
  useEffect(() => {
    if (auth.state === 'signed-out' && route.page !== 'signin') {
      if (route.page !== null) returnTo.current = route.hash;
      navigate(href('signin'), true);
    } else if (auth.state === 'signed-in' && (route.page === 'signin' || route.page === null)) {
      navigate(href('keys'), true);
    }
  }, [auth.state, route]);

  const page: Page = auth.state === 'signed-out' ? 'signin' : route.page && route.page !== 'signin' ? route.page : 'keys';
  useEffect(() => {
    document.title = `${TITLES[page]} · duckgate`;
  }, [page]);

  const signedIn = (session: Session) => {
    saveSession(session);
    setNotice(null);
    setAuth({ state: 'signed-in', session });
    const target = returnTo.current;
    returnTo.current = null;
    navigate(target && !target.startsWith('#/signin') ? target : href('keys'), true);
  };

  const signOut = async () => {
    try {
      await request('/api/logout', { method: 'POST' });
    } catch {
      // Whatever the server says, this tab forgets the session.
    }
    returnTo.current = null;
    endSession('You have signed out.');
    navigate(href('signin'), true);
  };

  if (auth.state === 'checking') {
    return <main id="main" class="boot" aria-busy="true"><p class="loading">Checking your session…</p></main>;
  }
  if (auth.state === 'signed-out') {
    return <SignIn notice={notice} onSignedIn={signedIn} />;
  }

  return (
    <>
      <TopBar current={page} username={auth.session.username} onSignOut={signOut} />
      {page === 'keys' ? <Keys /> : null}
      {page === 'collections' ? <Collections params={route.params} /> : null}
      {page === 'query' ? <Query params={route.params} /> : null}
      {page === 'status' ? <Status /> : null}
      {page === 'database' ? <Database params={route.params} /> : null}
    </>
  );
}

function TopBar({ current, username, onSignOut }: { current: Page; username: string; onSignOut: () => Promise<void> }) {
  const [busy, setBusy] = useState(false);
  return (
    <header class="topbar">
      <button type="button" class="skip-link" onClick={() => document.getElementById('main')?.querySelector<HTMLElement>('h1')?.focus()}>
        Skip to content
      </button>
      <div class="brand"><span class="brand-mark" aria-hidden="true" />duckgate</div>
      <nav aria-label="Main">
        <ul class="nav-links">
          {NAV.map((item) => (
            <li key={item.page}>
              <a href={href(item.page)} aria-current={current === item.page ? 'page' : undefined}>{item.label}</a>
            </li>
          ))}
        </ul>
      </nav>
      <div class="user">
        <span class="user-name">Signed in as <strong data-testid="signed-in-user">{username || 'admin'}</strong></span>
        <button
          type="button"
          class="button button-small"
          disabled={busy}
          onClick={() => {
            setBusy(true);
            void onSignOut();
          }}
        >
          {busy ? 'Signing out…' : 'Sign out'}
        </button>
      </div>
    </header>
  );
}
