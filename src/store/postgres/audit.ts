/**
 * The audit trail on PostgreSQL: the `AuditStore` of `../sqlite-audit.ts` on the same columns, so
 * every replica appends to one trail and the dashboard reads it whole. Batches are one transaction
 * (one multi-row INSERT); reads are newest first with keyset paging by id.
 */
import type { AppendOptions, AuditEvent, AuditQuery, AuditStore, StoredAuditEvent } from '../audit-store.js';
import { auditEventFromRow, isoAuditTime, type AuditRowColumns } from '../audit-row.js';
import type { PostgresDatabase, Queryable } from './database.js';
import { isoTime } from './times.js';

interface AuditRow extends AuditRowColumns {
  id: string;
  at: Date;
}

/** Rows deleted per statement while pruning, so a large prune never holds locks for long. */
const PRUNE_CHUNK = 5000;

export class PostgresAuditStore implements AuditStore {
  private closed = false;

  constructor(private readonly db: PostgresDatabase) {}

  /**
   * `durable` needs nothing more here: every commit waits for its WAL flush (`synchronous_commit`
   * is left at its default, on), batches included.
   */
  async append(events: readonly AuditEvent[], _options?: AppendOptions): Promise<void> {
    if (events.length === 0) return;
    // One statement: all of the batch or none of it. Arrays keep the parameter count at ten.
    const column = <K extends keyof AuditEvent>(key: K) => events.map((event) => event[key]);
    await this.db.query(`INSERT INTO audit_events (at, kind, actor, key_prefix, ip, user_agent, route, code, target, details)
      SELECT at, kind, actor, key_prefix, ip, user_agent, route, code, target, details FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[])
      WITH ORDINALITY AS e(at, kind, actor, key_prefix, ip, user_agent, route, code, target, details, n) ORDER BY n`,
    [
      events.map((event) => isoAuditTime(event.at)), column('kind'), column('actor'), column('keyPrefix'), column('ip'), column('userAgent'),
      column('route'), column('code'), column('target'), events.map((event) => (event.details === null ? null : JSON.stringify(event.details))),
    ]);
  }

  async query(query: AuditQuery): Promise<StoredAuditEvent[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    const param = (value: unknown) => {
      params.push(value);
      return `$${params.length}`;
    };
    if (query.kinds !== undefined) {
      if (query.kinds.length === 0) return [];
      where.push(`kind = ANY(${param(query.kinds)}::text[])`);
    }
    for (const [column, value] of [['actor', query.actor], ['ip', query.ip], ['code', query.code], ['target', query.target]] as const) {
      if (value !== undefined) where.push(`${column} = ${param(value)}`);
    }
    if (query.since !== undefined) where.push(`at >= ${param(isoAuditTime(query.since))}`);
    if (query.until !== undefined) where.push(`at < ${param(isoAuditTime(query.until))}`);
    if (query.before !== undefined) where.push(`id < ${param(Math.floor(query.before))}`);
    const limit = Math.max(0, Math.floor(query.limit));
    if (limit === 0) return [];
    const { rows } = await this.db.query<AuditRow>(`SELECT id, at, kind, actor, key_prefix, ip, user_agent, route, code, target, details
      FROM audit_events ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ${param(limit)}`, params);
    return rows.map(toEvent);
  }

  async prune(olderThan: string): Promise<number> {
    const cutoff = isoAuditTime(olderThan);
    let total = 0;
    for (;;) {
      const { rowCount } = await this.db.query(`DELETE FROM audit_events WHERE id IN
        (SELECT id FROM audit_events WHERE at < $1 ORDER BY id LIMIT $2)`, [cutoff, PRUNE_CHUNK]);
      const deleted = rowCount ?? 0;
      total += deleted;
      if (deleted < PRUNE_CHUNK) return total;
    }
  }

  async trim(keep: number): Promise<number> {
    const limit = Math.max(0, Math.floor(keep));
    let total = 0;
    for (;;) {
      const { rows } = await this.db.query<{ id: string | null }>('SELECT max(id) AS id FROM audit_events');
      const newest = rows[0]?.id;
      if (newest === null || newest === undefined) return total;
      // Ids only grow, so the newest `keep` events are those above max(id) - keep (gaps only keep fewer).
      const { rowCount } = await this.db.query(`DELETE FROM audit_events WHERE id IN
        (SELECT id FROM audit_events WHERE id <= $1 ORDER BY id LIMIT $2)`, [Number(newest) - limit, PRUNE_CHUNK]);
      const deleted = rowCount ?? 0;
      total += deleted;
      if (deleted < PRUNE_CHUNK) return total;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.db.release();
  }
}

/**
 * One event, inside the caller's transaction: how a key or account change writes its audit event
 * with itself (see `AuditStore`), so both commit or neither does.
 */
export async function insertAuditEvent(client: Queryable, event: AuditEvent): Promise<void> {
  await client.query(`INSERT INTO audit_events (at, kind, actor, key_prefix, ip, user_agent, route, code, target, details)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
  [isoAuditTime(event.at), event.kind, event.actor, event.keyPrefix, event.ip, event.userAgent, event.route, event.code, event.target,
    event.details === null ? null : JSON.stringify(event.details)]);
}

function toEvent(row: AuditRow): StoredAuditEvent {
  return auditEventFromRow(Number(row.id), isoTime(row.at), row);
}
