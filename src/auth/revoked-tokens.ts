/**
 * Tokens ended before their time by `POST /api/logout`, by `jti`. Every revocation is written to
 * the store first (so a restart does not bring a token back) and kept in memory, so checking a
 * token costs one map lookup. Entries leave both once the token would have expired anyway.
 *
 * The in-memory copy is this process's: a revocation made by another server process on the same
 * store is seen after that process's restart or this one's. (Only one server runs per SQLite
 * store; several replicas need the PostgreSQL store, see docs/decisions.md.)
 */
import type { AccountStore } from '../store/account-store.js';

const PRUNE_INTERVAL_MS = 3_600_000;

export class RevokedTokens {
  private readonly expiries = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;

  private constructor(private readonly store: AccountStore, private readonly now: () => number) {}

  /** Loads the revocations still in force and prunes the expired ones hourly. */
  static async open(store: AccountStore, onError: (error: unknown) => void = () => {}, now: () => number = Date.now): Promise<RevokedTokens> {
    const revoked = new RevokedTokens(store, now);
    const at = new Date(now()).toISOString();
    await store.pruneRevokedTokens(at);
    for (const token of await store.listRevokedTokens(at)) revoked.expiries.set(token.jti, Date.parse(token.expiresAt));
    revoked.timer = setInterval(() => revoked.prune().catch(onError), PRUNE_INTERVAL_MS);
    revoked.timer.unref();
    return revoked;
  }

  has(jti: string): boolean {
    return this.expiries.has(jti);
  }

  async revoke(jti: string, expiresAtMs: number): Promise<void> {
    if (expiresAtMs <= this.now()) return;
    await this.store.revokeToken({ jti, expiresAt: new Date(expiresAtMs).toISOString() });
    this.expiries.set(jti, expiresAtMs);
  }

  async prune(): Promise<void> {
    const now = this.now();
    for (const [jti, expiresAtMs] of this.expiries) if (expiresAtMs <= now) this.expiries.delete(jti);
    await this.store.pruneRevokedTokens(new Date(now).toISOString());
  }

  close(): void {
    clearInterval(this.timer);
  }
}
