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
}
