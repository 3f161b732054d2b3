/**
 * The control-plane store's seam for dashboard accounts and logged-out tokens. The embedded
 * implementation is `sqlite-accounts.ts` (migration 4), the PostgreSQL one `postgres/accounts.ts`. Implementations never see a password:
 * only its argon2id hash.
 */
import type { AuditEvent } from './audit-store.js';

export interface AdminAccount {
  username: string;
  /** PHC string (`$argon2id$v=19$m=…`). */
  passwordHash: string;
  /** Moves with every password change; a session carries it and dies when it moves. */
  generation: number;
  createdAt: string;
  updatedAt: string;
}

export interface RevokedToken {
  jti: string;
  /** ISO time the token would have expired; after it the entry can go. */
  expiresAt: string;
}

/** Which addresses an account signed in from, shared by every process on the store. */
export interface KnownAddressStore {
  /**
   * Records that `username` signed in from `address` at `at` (ISO), and in the same operation
   * forgets that account's addresses last seen before `retention.since` and all but its
   * `retention.maxPerAccount` most recent ones, so the table stays bounded.
   */
  rememberLoginAddress(username: string, address: string, at: string, retention: { since: string; maxPerAccount: number }): Promise<void>;
  /** Whether `username` signed in from `address` at or after `since` (ISO). */
  isKnownLoginAddress(username: string, address: string, since: string): Promise<boolean>;
}

/**
 * `audit`, where a write takes one, is the event describing the change (`admin.password`,
 * `auth.logout`): it is written to `audit_events` in the same transaction, durably, as for `KeyStore`.
 */
export interface AccountStore extends KnownAddressStore {
  getAccount(username: string): Promise<AdminAccount | undefined>;
  /** Creates the account or replaces its hash (generation + 1, ending its sessions). */
  setPassword(username: string, passwordHash: string, audit?: AuditEvent): Promise<AdminAccount>;
  /** Creates the account only if there is none; false when one already existed. */
  createAccount(username: string, passwordHash: string): Promise<boolean>;
  /** Ends a token (logout); `audit` is written even when the token was already revoked. */
  revokeToken(token: RevokedToken, audit?: AuditEvent): Promise<void>;
  /** Whether `jti` was logged out and its token has not expired by `now` (ISO): the read-through check. */
  isTokenRevoked(jti: string, now: string): Promise<boolean>;
  /** Revoked tokens not yet expired at `now` (ISO). */
  listRevokedTokens(now: string): Promise<RevokedToken[]>;
  /** Deletes entries whose token has expired by `now`; answers how many. */
  pruneRevokedTokens(now: string): Promise<number>;
  close(): Promise<void>;
}
