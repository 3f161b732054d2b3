/**
 * The control-plane store's seam for API keys. The embedded implementation is `sqlite.ts`; the
 * PostgreSQL one for several replicas is `postgres/keys.ts`. Changes are announced by the store's
 * change feed (`changes.ts`), not by this interface. Implementations know nothing
 * of HTTP and never see a full key: only its hash and 16-character prefix.
 */
import type { PermissionSet } from '../auth/grants.js';
import type { AuditEvent } from './audit-store.js';

export interface StoredKey {
  id: string;
  prefix: string;
  label: string;
  description: string;
  isAdmin: boolean;
  permissions: PermissionSet;
  /** ISO time; null = never expires. */
  expiresAt: string | null;
  /** Requests per hour; null = the global API_RATE_LIMIT. */
  rateLimit: number | null;
  /** IPs/CIDRs; null = any (subject to ALLOWED_IPS). */
  allowedIps: string[] | null;
  createdAt: string;
  createdBy: string | null;
  lastUsedAt: string | null;
  /** Bumped by every regeneration, so tokens exchanged for an older key die with it. */
  generation: number;
  /** ISO time the key was switched off (it answers 401 until switched on again); null = enabled. */
  disabledAt: string | null;
}

/** What creating a key stores: the key's fields, its hash, never the key itself. */
export type NewKey = Omit<StoredKey, 'createdAt' | 'lastUsedAt' | 'generation' | 'disabledAt'> & { hash: string };

/** The fields an update may change; an absent field is kept. `disabled` sets or clears `disabledAt`. */
export interface KeyUpdate {
  label?: string;
  description?: string;
  isAdmin?: boolean;
  expiresAt?: string | null;
  rateLimit?: number | null;
  allowedIps?: string[] | null;
  disabled?: boolean;
}

/** What a conditional update did (`last_admin`: it would have demoted or disabled the last working admin key). */
export type UpdateOutcome = { outcome: 'updated'; key: StoredKey } | { outcome: 'not_found' } | { outcome: 'last_admin' };

/** A key found by hash, and until when that hash is good (the key's expiry, or a grace period's end). */
export interface KeyMatch {
  key: StoredKey;
  validUntil: string | null;
}

/** What a conditional revocation did. */
export type RevokeOutcome = 'revoked' | 'not_found' | 'last_admin';

export interface RevokeOptions {
  /**
   * An admin key is revoked only when at least this many *other* active admin keys remain
   * (1 when no admin key is configured in the environment, so the last admin cannot go; 0 otherwise).
   */
  requireOtherAdmins: number;
}

/**
 * Every write that changes a key takes an optional `audit` event and, when the change is made,
 * writes it to the audit trail (`audit_events`) in the same transaction, durably: a crash keeps both
 * or neither. When the write changes nothing (`undefined`, `not_found`, `last_admin`) the event is
 * not written. A failing event insert fails the change.
 *
 * Invariants are kept inside the store, each as one conditional operation (a single statement or
 * a transaction that holds the write lock while it checks), never as a read in a service followed
 * by a write: several processes or replicas may act at the same moment. The PostgreSQL store locks
 * the active admin rows `FOR UPDATE` before its conditional revocation.
 */
export interface KeyStore {
  createKey(key: NewKey, audit?: AuditEvent): Promise<StoredKey>;
  /** Creates `key` (an admin key) only if no active admin key exists; undefined when one did. */
  createFirstAdminKey(key: NewKey, audit?: AuditEvent): Promise<StoredKey | undefined>;
  /** The active key whose current hash, or whose previous hash within its grace period, is `hash`. */
  findKeyByHash(hash: string): Promise<KeyMatch | undefined>;
  /** An active (not revoked) key. */
  getKey(id: string): Promise<StoredKey | undefined>;
  listKeys(): Promise<StoredKey[]>;
  /**
   * Revokes an active key (and ends its grace period) unless that would leave fewer admin keys than
   * `options` require, checked and done as one operation. Without options, any active key goes.
   */
  revokeKey(id: string, options?: RevokeOptions, audit?: AuditEvent): Promise<RevokeOutcome>;
  /** New hash and prefix, generation + 1; the old hash keeps working until `graceUntil` (null: dies now). */
  replaceKeyHash(id: string, next: { hash: string; prefix: string }, graceUntil: string | null, audit?: AuditEvent): Promise<StoredKey | undefined>;
  setPermissions(id: string, permissions: PermissionSet, audit?: AuditEvent): Promise<StoredKey | undefined>;
  /**
   * Changes an active key's fields. An update that takes admin power from an enabled admin key
   * (is_admin false, or disabled) is applied only when `options` admin keys would remain, checked
   * and done as one operation, as `revokeKey` does.
   */
  updateKey(id: string, update: KeyUpdate, options?: RevokeOptions, audit?: AuditEvent): Promise<UpdateOutcome>;
  /** Records last use; callers batch these (at most once a minute per key). */
  touchKeys(lastUsed: ReadonlyMap<string, string>): Promise<void>;
  /** Active admin keys, enabled or not (a disabled admin key is switched back on, not replaced). */
  countAdminKeys(): Promise<number>;
  close(): Promise<void>;
}

/** Whether `update` takes admin power from an admin key that has it (demoted or disabled). */
export function takesAdminPower(isAdmin: boolean, disabled: boolean, update: KeyUpdate): boolean {
  return isAdmin && !disabled && (update.isAdmin === false || update.disabled === true);
}
