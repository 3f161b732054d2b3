/**
 * The audit trail in the embedded control-plane store: the `audit_events` table of migration 2,
 * in the same SQLite file as the keys, through its own connection. Appends are batched by the
 * caller (`auth/audit-trail.ts`) and written one batch per transaction; reads are newest first
 * with keyset paging by id. Portable SQL only, as for the key store.
 */
import type Database from 'better-sqlite3';
import type { AppendOptions, AuditEvent, AuditQuery, AuditStore, StoredAuditEvent } from './audit-store.js';
import { auditEventFromRow, isoAuditTime, type AuditRowColumns } from './audit-row.js';
import { auditRowParams } from './sqlite-audit-row.js';
import { openSqliteFile } from './sqlite-file.js';

interface AuditRow extends AuditRowColumns {
  id: number;
  at: string;
}

/** Rows deleted per transaction while pruning, so a large prune never holds the write lock long. */
const PRUNE_CHUNK = 5000;

export class SqliteAuditStore implements AuditStore {
  private readonly db: Database.Database;
  private readonly insert: Database.Statement;
  private readonly pruneChunk: Database.Statement<[string, number]>;
  private readonly maxId: Database.Statement<[], { id: number | null }>;
  private readonly trimChunk: Database.Statement<[number, number]>;

  constructor(file: string) {
    // NORMAL, not FULL: audit batches come often under attack, and losing the last ones to a power
    // cut is acceptable where losing a revocation is not. (The key store's connection stays FULL.)
    this.db = openSqliteFile(file, { synchronous: 'NORMAL' });
    this.insert = this.db.prepare(`INSERT INTO audit_events (at, kind, actor, key_prefix, ip, user_agent, route, code, target, details)
      VALUES (@at, @kind, @actor, @keyPrefix, @ip, @userAgent, @route, @code, @target, @details)`);
    this.pruneChunk = this.db.prepare(`DELETE FROM audit_events WHERE id IN
      (SELECT id FROM audit_events WHERE at < ? ORDER BY id LIMIT ?)`);
    this.maxId = this.db.prepare('SELECT max(id) AS id FROM audit_events');
    this.trimChunk = this.db.prepare(`DELETE FROM audit_events WHERE id IN
      (SELECT id FROM audit_events WHERE id <= ? ORDER BY id LIMIT ?)`);
  }

  async append(events: readonly AuditEvent[], options: AppendOptions = {}): Promise<void> {
    if (events.length === 0) return;
    const write = this.db.transaction(() => {
      for (const event of events) this.insert.run(auditRowParams(event));
    });
    if (!options.durable) {
      write();
      return;
    }
    // This commit syncs the WAL (and with it every earlier commit on the file), as a key change does.
    this.db.pragma('synchronous = FULL');
    try {
      write();
    } finally {
      this.db.pragma('synchronous = NORMAL');
    }
  }

  async query(query: AuditQuery): Promise<StoredAuditEvent[]> {
    const where: string[] = [];
    const params: (string | number)[] = [];
    if (query.kinds !== undefined) {
      if (query.kinds.length === 0) return [];
      where.push(`kind IN (${query.kinds.map(() => '?').join(', ')})`);
      params.push(...query.kinds);
    }
    for (const [column, value] of [['actor', query.actor], ['ip', query.ip], ['code', query.code], ['target', query.target]] as const) {
      if (value !== undefined) {
        where.push(`${column} = ?`);
        params.push(value);
      }
    }
    if (query.since !== undefined) {
      where.push('at >= ?');
      params.push(isoAuditTime(query.since));
    }
    if (query.until !== undefined) {
      where.push('at < ?');
      params.push(isoAuditTime(query.until));
    }
    if (query.before !== undefined) {
      where.push('id < ?');
      params.push(Math.floor(query.before));
    }
    const limit = Math.max(0, Math.floor(query.limit));
    if (limit === 0) return [];
    const sql = `SELECT id, at, kind, actor, key_prefix, ip, user_agent, route, code, target, details FROM audit_events
      ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`;
    return this.db.prepare<(string | number)[], AuditRow>(sql).all(...params, limit).map(toEvent);
  }

  async prune(olderThan: string): Promise<number> {
    const cutoff = isoAuditTime(olderThan);
    let total = 0;
    for (;;) {
      if (!this.db.open) return total;
      const deleted = this.pruneChunk.run(cutoff, PRUNE_CHUNK).changes;
      total += deleted;
      if (deleted < PRUNE_CHUNK) return total;
      // Let requests (and the audit flush) run between chunks.
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  /**
   * Ids only grow (each new one is the largest plus one), so the events with an id within `keep` of
   * the largest are the newest, and they are at most `keep`: whatever lies below goes. One max()
   * lookup on the primary key, then as many deletes as there are events to drop; after each write
   * that is the size of the batch.
   */
  async trim(keep: number): Promise<number> {
    const limit = Math.max(0, Math.floor(keep));
    let total = 0;
    for (;;) {
      if (!this.db.open) return total;
      const newest = this.maxId.get()?.id;
      if (newest === null || newest === undefined) return total;
      const deleted = this.trimChunk.run(newest - limit, PRUNE_CHUNK).changes;
      total += deleted;
      if (deleted < PRUNE_CHUNK) return total;
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}

function toEvent(row: AuditRow): StoredAuditEvent {
  return auditEventFromRow(row.id, row.at, row);
}
