/**
 * How a running server learns that the control plane changed under it: another replica, the CLI,
 * or this process revoked a key, logged a token out or changed a password. The store pushes each
 * change, naming what changed, so a cache drops exactly the affected entries (never everything).
 *
 * The SQLite store polls a change log that its triggers fill (cheap: one indexed read per poll, on
 * one machine); the PostgreSQL store pushes with LISTEN/NOTIFY on a dedicated connection. Both say
 * when the feed is lost, since a cache that can miss changes must stop serving from memory.
 */

export type ControlChange =
  /** A key was created, revoked, regenerated, re-permissioned, or its grace period changed. */
  | { kind: 'key'; keyId: string }
  /** A token was logged out; it stays refused until `expiresAt` (ISO). */
  | { kind: 'token'; jti: string; expiresAt: string }
  /** An account was created or its password changed (its generation moved). */
  | { kind: 'account'; username: string };

export interface ChangeListener {
  /** One thing changed: forget what is cached about it. */
  changed(change: ControlChange): void;
  /**
   * The feed may miss changes from now on (its connection dropped, a poll failed): serve nothing
   * from memory that the store could contradict, until `resumed`.
   */
  lost(error: unknown): void;
  /**
   * The feed is live again (or for the first time). Changes made while it was down were not seen,
   * so everything cached before this call is suspect: drop it all, then cache again.
   */
  resumed(): void;
}

export interface ChangeFeed {
  /**
   * Starts delivering changes to `listener`, made by any process on the store (this one included).
   * Until the feed is live, `listener` is told `lost` first, then `resumed` once it is. Answers a
   * function that stops the delivery.
   */
  watch(listener: ChangeListener): () => void;
  close(): Promise<void>;
}

/** Parses a change announced as JSON (the PostgreSQL payload); undefined for anything malformed. */
export function parseChange(text: string): ControlChange | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (value === null || typeof value !== 'object') return undefined;
  const v = value as Record<string, unknown>;
  if (v.kind === 'key' && typeof v.keyId === 'string') return { kind: 'key', keyId: v.keyId };
  if (v.kind === 'account' && typeof v.username === 'string') return { kind: 'account', username: v.username };
  if (v.kind === 'token' && typeof v.jti === 'string' && typeof v.expiresAt === 'string') {
    const time = Date.parse(v.expiresAt);
    if (Number.isNaN(time)) return undefined;
    return { kind: 'token', jti: v.jti, expiresAt: new Date(time).toISOString() };
  }
  return undefined;
}

/** Listeners of one feed, each told about every change; one that throws does not stop the others. */
export class Listeners implements ChangeListener {
  private readonly all = new Set<ChangeListener>();

  add(listener: ChangeListener): () => void {
    this.all.add(listener);
    return () => this.all.delete(listener);
  }

  get size(): number {
    return this.all.size;
  }

  changed(change: ControlChange): void {
    for (const listener of this.all) safely(() => listener.changed(change));
  }

  lost(error: unknown): void {
    for (const listener of this.all) safely(() => listener.lost(error));
  }

  resumed(): void {
    for (const listener of this.all) safely(() => listener.resumed());
  }
}

function safely(call: () => void): void {
  try {
    call();
  } catch {
    // A listener's failure is its own; the feed goes on for the others.
  }
}
