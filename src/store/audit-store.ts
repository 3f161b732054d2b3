/**
 * The control-plane store's seam for the audit trail. The embedded implementation is
 * `sqlite-audit.ts`; a PostgreSQL one implements the same interface on the same schema
 * (migration 2). Implementations know nothing of HTTP, and are never handed a full key or a
 * password: at most a key's 16-character prefix (`auth/audit-trail.ts` guards this).
 *
 * Not every event comes through here: a change to a key or an account carries its event into the
 * key or account store's own write (their optional `audit` parameter), which commits both in one
 * transaction, so no crash can keep the change and lose who made it.
 */

export const AUDIT_KINDS = [
  'auth.failure',
  'auth.login',
  'auth.login_failed',
  'auth.logout',
  'admin.password',
  'key.created',
  'key.regenerated',
  'key.revoked',
  'key.permissions',
  'database.created',
  'database.dropped',
  'collection.dropped',
  'database.source_set',
  'database.source_removed',
  'database.source_tested',
  'sync.full',
  'sync.incremental',
  'sync.table',
  'sync.validated',
  'sync.cleared',
  'backup.created',
  'backup.restored',
  'backup.deleted',
  'automation.started',
  'automation.stopped',
  'automation.schedule_set',
  'automation.schedule_deleted',
  'automation.job',
] as const;

export type AuditKind = (typeof AUDIT_KINDS)[number];

export function isAuditKind(value: string): value is AuditKind {
  return (AUDIT_KINDS as readonly string[]).includes(value);
}

export interface AuditEvent {
  /** ISO 8601, UTC, `toISOString()` form (so text order is time order). */
  at: string;
  kind: AuditKind;
  /** Who: a principal id (`key_…`, `env:admin`, an admin user); null when unauthenticated. */
  actor: string | null;
  /** A presented or acting key's 16-character prefix; never more. */
  keyPrefix: string | null;
  ip: string | null;
  userAgent: string | null;
  /** The route pattern, e.g. "GET /api/find/:collection"; null when no route matched. */
  route: string | null;
  /** The error code of a failure, e.g. `invalid_api_key`. */
  code: string | null;
  /** What was acted on: a key_id, `user:<name>`, `database:<name>`, `collection:<database>.<name>`. */
  target: string | null;
  /** Anything else worth keeping, as JSON (e.g. permission changes, grace period). */
  details: Record<string, unknown> | null;
}

export interface StoredAuditEvent extends AuditEvent {
  /** Increases with every append: newest first means highest id first. */
  id: number;
}

export interface AuditQuery {
  kinds?: AuditKind[];
  actor?: string;
  ip?: string;
  code?: string;
  target?: string;
  /** Inclusive: events at or after this ISO time. */
  since?: string;
  /** Exclusive: events before this ISO time. */
  until?: string;
  /** Most events answered (newest first). */
  limit: number;
  /** Keyset paging: events with id < before. */
  before?: number;
}

export interface AppendOptions {
  /**
   * The events are on stable storage when `append` resolves, as a key change is: admin and security
   * events (see docs/decisions.md). Without it a store may trade the last batches of a power cut for
   * fewer syncs (SQLite: `synchronous = NORMAL`), which only high-volume failures accept.
   */
  durable?: boolean;
}

export interface AuditStore {
  /** All of `events` in one transaction, in order. */
  append(events: readonly AuditEvent[], options?: AppendOptions): Promise<void>;
  /** Newest first (id descending). */
  query(query: AuditQuery): Promise<StoredAuditEvent[]>;
  /** Deletes events with `at` before `olderThan` (ISO); answers how many. */
  prune(olderThan: string): Promise<number>;
  /** Deletes the oldest events (lowest ids) so that at most `keep` remain; answers how many went. */
  trim(keep: number): Promise<number>;
  close(): Promise<void>;
}
