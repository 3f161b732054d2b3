/**
 * Who is calling. Every authenticated request carries exactly one `Principal`, whatever the
 * credential was; permissions and rate limits look only at this.
 */

import type { PermissionSet } from './grants.js';

export type PrincipalKind = 'environment-key' | 'managed-key' | 'session';

/**
 * What a principal may do with data: environment client keys get `all` (CONTRACT.md §1), managed
 * keys their grants, read fresh for every request so a change applies at once.
 */
export type DataAccess = { kind: 'all' } | { kind: 'scoped'; permissions: PermissionSet };

export interface Principal {
  /** Stable identifier, safe to log: never the credential itself. */
  id: string;
  kind: PrincipalKind;
  /** Admin = every collection of every database, database and collection drop, key management. */
  isAdmin: boolean;
  access: DataAccess;
  /** Human-readable name for logs and `/api/auth/permissions`. */
  label: string;
  /** How this request proved itself: a key directly, or a JWT (exchanged for a key, or an admin session). */
  authMethod: 'api-key' | 'jwt';
  /**
   * Changes whenever the underlying key is replaced (regenerated, rotated in the environment);
   * a token carries it, so a token dies with the key it was exchanged for.
   */
  generation: string;
  /** Managed keys: the readable 16-character prefix, for logs and audit. */
  keyPrefix?: string;
  /** Managed keys: their own requests-per-hour limit (null: the global one). */
  rateLimit?: number | null;
  /** Managed keys: their own IP allow list (null: any). */
  allowedIps?: string[] | null;
  /**
   * Managed keys: when the presented key stops working (ms since the epoch): its expiry, or the end
   * of the grace period when it is the previous key of a regenerated one. A token exchanged for it
   * never outlives this. Undefined or null: no end.
   */
  validUntil?: number | null;
  /** Admin sessions: the signed-in user. */
  username?: string;
  /** JWTs: when the presented token expires (ms since the epoch). */
  tokenExpiresAt?: number;
}
