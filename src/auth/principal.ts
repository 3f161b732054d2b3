/**
 * Who is calling. Every authenticated request carries exactly one `Principal`, whatever the
 * credential was; permissions and rate limits look only at this.
 */

export type PrincipalKind = 'environment-key' | 'managed-key' | 'session';

/** What a principal may do with data. Environment client keys get `all` (CONTRACT.md §1). */
export type DataAccess = { kind: 'all' };

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
