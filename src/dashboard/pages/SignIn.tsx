/** Sign-in: username and password to `POST /api/login`; the token goes to sessionStorage. */
import { useState } from 'preact/hooks';
import { ApiError, errorMessage, request, retryHint } from '../api';
import { PageHeading } from '../components/PageHeading';
import type { Session } from '../session';
import type { LoginResponse } from '../types';

interface SignInProps {
  notice: string | null;
  onSignedIn: (session: Session) => void;
}

export function SignIn({ notice, onSignedIn }: SignInProps) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [invalid, setInvalid] = useState<'username' | 'password' | null>(null);
  const [busy, setBusy] = useState(false);
  /** Why the user is here ("signed out", "session ended"), until they try again. */
  const [showNotice, setShowNotice] = useState(true);

  const submit = async (event: Event) => {
    event.preventDefault();
    if (busy) return;
    setShowNotice(false);
    if (!username.trim()) {
      setInvalid('username');
      setError('Enter your username.');
      document.getElementById('signin-username')?.focus();
      return;
    }
    if (username.trim().length > 128) {
      setInvalid('username');
      setError('The username is too long (128 characters at most).');
      document.getElementById('signin-username')?.focus();
      return;
    }
    if (!password) {
      setInvalid('password');
      setError('Enter your password.');
      document.getElementById('signin-password')?.focus();
      return;
    }
    if (password.length > 1024) {
      setInvalid('password');
      setError('The password is too long (1024 characters at most).');
      document.getElementById('signin-password')?.focus();
      return;
    }
    setInvalid(null);
    setError(null);
    setBusy(true);
    try {
      const answer = await request<LoginResponse>('/api/login', { method: 'POST', body: { username: username.trim(), password }, auth: false });
      if (!answer || typeof answer.token !== 'string' || !answer.token) throw new Error('The server did not return a session.');
      setPassword('');
      onSignedIn({ token: answer.token, username: answer.username || username.trim(), expiresAt: answer.expiresAt ?? null });
    } catch (failure) {
      if (failure instanceof ApiError && failure.status === 429) setError(`Too many attempts. ${retryHint(failure)}`);
      else if (failure instanceof ApiError && failure.status === 404) setError('This server does not offer dashboard sign-in.');
      else setError(errorMessage(failure));
      setBusy(false);
    }
  };

  return (
    <main class="signin" id="main">
      <div class="signin-card">
        <div class="brand brand-large" aria-hidden="true"><span class="brand-mark" />duckgate</div>
        <PageHeading>Sign in</PageHeading>
        {notice && showNotice ? <p class="alert alert-info" role="status" data-testid="signin-notice">{notice}</p> : null}
        <form onSubmit={(event) => void submit(event)} noValidate>
          <div class="field">
            <label for="signin-username">Username</label>
            <input
              id="signin-username"
              name="username"
              type="text"
              autocomplete="username"
              autocapitalize="none"
              spellcheck={false}
              value={username}
              aria-invalid={invalid === 'username' ? 'true' : undefined}
              onInput={(event) => setUsername(event.currentTarget.value)}
              required
            />
          </div>
          <div class="field">
            <label for="signin-password">Password</label>
            <input
              id="signin-password"
              name="password"
              type="password"
              autocomplete="current-password"
              value={password}
              aria-invalid={invalid === 'password' ? 'true' : undefined}
              onInput={(event) => setPassword(event.currentTarget.value)}
              required
            />
          </div>
          {error ? <p class="alert alert-error" role="alert" data-testid="signin-error">{error}</p> : null}
          <button type="submit" class="button button-primary button-block" disabled={busy}>{busy ? 'Signing in…' : 'Sign in'}</button>
        </form>
      </div>
    </main>
  );
}
