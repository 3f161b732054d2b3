/**
 * Every open WebSocket of this process, so that what happens elsewhere reaches them:
 *
 * - a control-plane change (the store's change feed: a key revoked, regenerated or re-permissioned,
 *   a token logged out, a password changed, here or on another replica) re-checks the sockets it
 *   concerns at once, so an idle socket whose rights are gone is closed 1008 within the feed's
 *   delay (100 ms for SQLite's poll, a NOTIFY for PostgreSQL), not at its next message;
 * - while the feed is lost, changes could be missed, so every socket is re-checked each second
 *   until it is back, and once more when it is;
 * - a heartbeat pings every socket and ends those that stop answering;
 * - shutdown closes them all 1001 after their messages in flight are answered.
 */
import type { ControlChange } from '../../store/changes.js';
import type { SocketSession } from './session.js';

const HEARTBEAT_MS = 30_000;
const SWEEP_WHILE_LOST_MS = 1000;

export class OpenSockets {
  private readonly sessions = new Set<SocketSession>();
  private readonly heartbeat: NodeJS.Timeout;
  private sweeper: NodeJS.Timeout | undefined;

  constructor() {
    this.heartbeat = setInterval(() => {
      for (const session of this.sessions) session.heartbeat();
    }, HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  get size(): number {
    return this.sessions.size;
  }

  add(session: SocketSession): void {
    this.sessions.add(session);
  }

  remove(session: SocketSession): void {
    this.sessions.delete(session);
  }

  /**
   * Something changed on the control plane. The re-check runs on the next turn of the event loop,
   * after every listener of the same announcement (the key cache among them) has dropped what it held.
   */
  changed(change: ControlChange): void {
    setImmediate(() => {
      for (const session of this.sessions) if (concerns(session, change)) void session.recheck();
    });
  }

  /** The change feed is lost: re-check every socket each second until `resumed`. */
  lost(): void {
    this.sweeper ??= setInterval(() => this.recheckAll(), SWEEP_WHILE_LOST_MS);
    this.sweeper.unref();
  }

  /** The change feed is live: what was missed meanwhile is checked once. */
  resumed(): void {
    if (this.sweeper === undefined) return;
    clearInterval(this.sweeper);
    this.sweeper = undefined;
    setImmediate(() => this.recheckAll());
  }

  /** Closes every socket 1001, each once its messages in flight are answered (at most `graceMs`). */
  async closeAll(graceMs = 5000): Promise<void> {
    clearInterval(this.heartbeat);
    clearInterval(this.sweeper);
    await Promise.all([...this.sessions].map((session) => session.shutdown(graceMs)));
  }

  private recheckAll(): void {
    for (const session of this.sessions) void session.recheck();
  }
}

/** Whether `change` may have taken something from the socket's principal. */
function concerns(session: SocketSession, change: ControlChange): boolean {
  const principal = session.principal;
  if (principal === undefined) return false;
  switch (change.kind) {
    // A managed key and every token exchanged for it share the key's id.
    case 'key':
      return principal.id === change.keyId;
    // The announcement names a token id, which a principal does not carry: every token socket checks.
    case 'token':
      return principal.authMethod === 'jwt';
    case 'account':
      return principal.username === change.username;
  }
}
