/**
 * Tokens ended before their time by `POST /api/logout`, by `jti`. Every revocation is written to
 * the store first (so a restart does not bring a token back) and kept in memory, so checking a
 * token costs one map lookup. Entries leave both once the token would have expired anyway.
 *
 * A logout on another replica (or through another process on the same store) arrives through the
 * store's change feed with its `jti` and expiry, and joins the set. While that feed is lost, a
 * logout elsewhere could be missed, so every check reads through to the store until it is back
 * (`readThrough`), and the set is reloaded from the store when it resumes.
 */
import type { AccountStore } from '../store/account-store.js';
import type { AuditEvent } from '../store/audit-store.js';

const PRUNE_INTERVAL_MS = 3_600_000;

export class RevokedTokens {
  private readonly expiries = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private readThrough = false;
  private losses = 0;

  private constructor(
    private readonly store: AccountStore,
    private readonly now: () => number,
    private readonly onError: (error: unknown) => void,
  ) {}

  /** Loads the revocations still in force and prunes the expired ones hourly. */
  static async open(store: AccountStore, onError: (error: unknown) => void = () => {}, now: () => number = Date.now): Promise<RevokedTokens> {
    const revoked = new RevokedTokens(store, now, onError);
    const at = new Date(now()).toISOString();
    await store.pruneRevokedTokens(at);
    await revoked.load();
    revoked.timer = setInterval(() => revoked.prune().catch(onError), PRUNE_INTERVAL_MS);
    revoked.timer.unref();
    return revoked;
  }

  /** Whether `jti` was logged out. From memory, or from the store while the change feed is lost. */
  has(jti: string): boolean | Promise<boolean> {
    if (this.expiries.has(jti)) return true;
    if (!this.readThrough) return false;
    return this.store.isTokenRevoked(jti, new Date(this.now()).toISOString());
  }

  /** `audit`, the logout's event, is committed with the revocation (see `AccountStore`). */
  async revoke(jti: string, expiresAtMs: number, audit?: AuditEvent): Promise<void> {
    // An expired token needs no entry, but its logout still leaves its trace.
    if (expiresAtMs <= this.now() && audit === undefined) return;
    await this.store.revokeToken({ jti, expiresAt: new Date(expiresAtMs).toISOString() }, audit);
    this.expiries.set(jti, expiresAtMs);
  }

  /** A logout made anywhere on the store, announced by the change feed. */
  add(jti: string, expiresAt: string): void {
    const expiresAtMs = Date.parse(expiresAt);
    if (expiresAtMs > this.now()) this.expiries.set(jti, expiresAtMs);
  }

  /** The change feed is lost: ask the store about every token not known to be revoked. */
  stopTrusting(): void {
    this.losses++;
    this.readThrough = true;
  }

  /**
   * The change feed is live again: reload the set (logouts made meanwhile were not announced here),
   * and only then answer from memory again, unless the feed was lost again meanwhile.
   */
  async resume(): Promise<void> {
    const losses = this.losses;
    try {
      await this.load();
      if (losses === this.losses) this.readThrough = false;
    } catch (error) {
      // Still reading through (correct, only slower); try again in a second.
      this.onError(error);
      if (losses === this.losses) setTimeout(() => void this.resume(), 1000).unref();
    }
  }

  async prune(): Promise<void> {
    const now = this.now();
    for (const [jti, expiresAtMs] of this.expiries) if (expiresAtMs <= now) this.expiries.delete(jti);
    await this.store.pruneRevokedTokens(new Date(now).toISOString());
  }

  close(): void {
    clearInterval(this.timer);
  }

  private async load(): Promise<void> {
    for (const token of await this.store.listRevokedTokens(new Date(this.now()).toISOString())) this.add(token.jti, token.expiresAt);
  }
}
