/**
 * One audit event as a row of `audit_events`, for every SQLite store that writes one: the audit
 * store's batches, and the key and account stores, which write a change's event in the change's
 * own transaction (see `AuditStore`).
 */
import type Database from 'better-sqlite3';
import type { AuditEvent } from './audit-store.js';

export type AuditInsert = (event: AuditEvent) => void;

/** A prepared insert on `db`; call it inside the transaction the event belongs to. */
export function prepareAuditInsert(db: Database.Database): AuditInsert {
  const insert = db.prepare(`INSERT INTO audit_events (at, kind, actor, key_prefix, ip, user_agent, route, code, target, details)
    VALUES (@at, @kind, @actor, @keyPrefix, @ip, @userAgent, @route, @code, @target, @details)`);
  return (event) => {
    insert.run(auditRowParams(event));
  };
}

export function auditRowParams(event: AuditEvent) {
  return {
    at: event.at,
    kind: event.kind,
    actor: event.actor,
    keyPrefix: event.keyPrefix,
    ip: event.ip,
    userAgent: event.userAgent,
    route: event.route,
    code: event.code,
    target: event.target,
    details: event.details === null ? null : JSON.stringify(event.details),
  };
}
