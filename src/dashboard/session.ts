/**
 * The signed-in session: the admin token, who it belongs to and when it expires. It lives in
 * sessionStorage only (one tab, gone when the tab closes) and never holds an API key.
 */
export interface Session {
  token: string;
  username: string;
  /** ISO time the token expires, when the server said so. */
  expiresAt: string | null;
}

const STORAGE_KEY = 'duckgate.session';

export function loadSession(): Session | null {
  let raw: string | null;
  try {
    raw = sessionStorage.getItem(STORAGE_KEY);
  } catch {
    return null;
  }
  if (!raw) return null;
  try {
    const value: unknown = JSON.parse(raw);
    if (!value || typeof value !== 'object') return null;
    const { token, username, expiresAt } = value as Record<string, unknown>;
    if (typeof token !== 'string' || token === '') return null;
    const session: Session = {
      token,
      username: typeof username === 'string' ? username : '',
      expiresAt: typeof expiresAt === 'string' ? expiresAt : null,
    };
    return isExpired(session) ? null : session;
  } catch {
    return null;
  }
}

export function saveSession(session: Session): void {
  sessionStorage.setItem(STORAGE_KEY, JSON.stringify(session));
}

export function clearSession(): void {
  try {
    sessionStorage.removeItem(STORAGE_KEY);
  } catch {
    // Storage disabled: nothing was kept.
  }
}

export function isExpired(session: Session, now = Date.now()): boolean {
  if (!session.expiresAt) return false;
  const at = Date.parse(session.expiresAt);
  return Number.isFinite(at) && at <= now;
}

/** Whether anything is stored, valid or not (an expired or damaged session still deserves a message). */
export function hasStoredSession(): boolean {
  try {
    return sessionStorage.getItem(STORAGE_KEY) !== null;
  } catch {
    return false;
  }
}
