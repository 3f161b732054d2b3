/**
 * One row of `audit_events` as both control-plane stores read it back: the same columns on SQLite
 * and PostgreSQL, so one mapping turns either into a `StoredAuditEvent`. The drivers differ only in
 * how `id` (SQLite integer, PostgreSQL bigint as text) and `at` (text, timestamptz as Date) arrive;
 * each store normalises those two before calling `auditEventFromRow`.
 */
import type { AuditKind, StoredAuditEvent } from './audit-store.js';

export interface AuditRowColumns {
  kind: string;
  actor: string | null;
  key_prefix: string | null;
  ip: string | null;
  user_agent: string | null;
  route: string | null;
  code: string | null;
  target: string | null;
  details: string | null;
}

export function auditEventFromRow(id: number, at: string, row: AuditRowColumns): StoredAuditEvent {
  return {
    id,
    at,
    kind: row.kind as AuditKind,
    actor: row.actor,
    keyPrefix: row.key_prefix,
    ip: row.ip,
    userAgent: row.user_agent,
    route: row.route,
    code: row.code,
    target: row.target,
    details: parseAuditDetails(row.details),
  };
}

/**
 * Details are stored as JSON text. A value that is not an object (a row written by hand, or an older
 * version) is wrapped rather than dropped, so the trail never loses what was recorded.
 */
export function parseAuditDetails(text: string | null): Record<string, unknown> | null {
  if (text === null) return null;
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : { value };
  } catch {
    return { unparsed: text };
  }
}

/** An event's `at` in `toISOString()` form, so text comparison in SQL is time comparison. Throws on a non-date. */
export function isoAuditTime(value: string): string {
  const time = Date.parse(value);
  if (Number.isNaN(time)) throw new RangeError(`Not an ISO 8601 time: ${JSON.stringify(value)}`);
  return new Date(time).toISOString();
}
