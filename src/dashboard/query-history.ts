/**
 * The Query page's memory: the statement being written (kept in memory while the tab lives, so
 * navigating away and back keeps it) and the last statements run (localStorage, this browser only).
 * Never stored: the session token, and any statement holding an API key (`dk_live_…`/`dk_test_…`).
 */
const STORAGE_KEY = 'duckgate.query-history';
export const HISTORY_LIMIT = 20;
const KEY_PATTERN = /dk_(live|test)_[A-Za-z0-9_-]{8,}/;

/** The draft survives page changes inside the tab (module state), not a reload. */
let draft = '';

export function loadDraft(): string {
  return draft;
}

export function saveDraft(text: string): void {
  draft = text;
}

export function loadHistory(): string[] {
  try {
    const raw = localStorage.getItem(STORAGE_KEY);
    const value: unknown = raw ? JSON.parse(raw) : [];
    return Array.isArray(value) ? value.filter((entry): entry is string => typeof entry === 'string').slice(0, HISTORY_LIMIT) : [];
  } catch {
    return [];
  }
}

/** Puts `statement` first (once), keeps the newest `HISTORY_LIMIT`; answers the new list. */
export function remember(statement: string): string[] {
  const current = loadHistory();
  if (KEY_PATTERN.test(statement)) return current;
  const next = [statement, ...current.filter((entry) => entry !== statement)].slice(0, HISTORY_LIMIT);
  try {
    localStorage.setItem(STORAGE_KEY, JSON.stringify(next));
  } catch {
    // Storage full or disabled: the history just is not kept.
  }
  return next;
}

export function clearHistory(): void {
  try {
    localStorage.removeItem(STORAGE_KEY);
  } catch {
    // Nothing was kept.
  }
}
