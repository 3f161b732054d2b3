/**
 * `/v1/sync` on PostgreSQL: upsert by externalId across collections in one transaction, all or
 * nothing, with the answer `duckdb/sync.ts` gives (created / updated / unchanged). Every replica
 * syncing a collection takes that collection's advisory lock first (in one order, by folded name,
 * so two multi-collection syncs cannot deadlock), and under READ COMMITTED each statement after the
 * lock sees what the previous holder committed: concurrent upserts of one externalId from several
 * replicas end as one record, without a unique index that plain inserts would trip over.
 */
import { randomUUID } from 'node:crypto';
import { errors, isApiError } from '../../errors.js';
import type { CallOptions, JsonObject, SyncCounts } from '../engine.js';
import { foldIdentifier } from '../identifiers.js';
import { precheck } from './growth.js';
import { deepEqual, EXTERNAL_ID, validateBatches, type CollectionBatch } from '../duckdb/sync.js';
import type { ColumnPlan, Field } from '../duckdb/fields.js';
import { quoteIdent } from '../duckdb/names.js';
import { toParam, type ColumnKind } from '../duckdb/schema.js';
import { Conn, type PgContext } from './context.js';
import { isDataError, pgMessage } from './errors.js';
import { growUnderLock, toRecord } from './records.js';
import { qualified } from './schema.js';
import type { Client } from './session.js';

const EXTERNAL_KEY = foldIdentifier(EXTERNAL_ID);

function fieldsOf(batch: CollectionBatch): { fields: Field[]; where: string }[] {
  return batch.records.map((r) => ({ fields: [{ name: EXTERNAL_ID, key: EXTERNAL_KEY, value: r.externalId }, ...r.fields], where: r.where }));
}

async function existingByExternalId(ctx: PgContext, client: Client, plan: ColumnPlan, ids: readonly string[]): Promise<Map<string, JsonObject>> {
  const found = new Map<string, JsonObject>();
  if (plan.create) return found;
  const column = plan.columns.get(EXTERNAL_KEY)!.name;
  const result = await client.query(`SELECT * FROM ${qualified(ctx.schema, plan.table)} WHERE ${quoteIdent(column)} = ANY($1::text[]) ORDER BY "id"`, [ids]);
  for (const row of result.rows as Record<string, unknown>[]) {
    const record = toRecord(row);
    const key = record[column];
    // Rows inserted outside sync may share an externalId: the first one found is the one synced.
    if (typeof key === 'string' && !found.has(key)) found.set(key, record);
  }
  return found;
}

async function syncCollection(ctx: PgContext, client: Client, batch: CollectionBatch, plan: ColumnPlan): Promise<SyncCounts> {
  const counts: SyncCounts = { created: 0, updated: 0, unchanged: 0 };
  const table = qualified(ctx.schema, plan.table);
  const existing = await existingByExternalId(ctx, client, plan, batch.records.map((r) => r.externalId));
  const columnOf = (f: Field): { name: string; kind: ColumnKind } => plan.columns.get(f.key)!;
  for (const record of batch.records) {
    const stored = existing.get(record.externalId);
    if (stored === undefined) {
      const fields: Field[] = [{ name: columnOf({ key: EXTERNAL_KEY } as Field).name, key: EXTERNAL_KEY, value: record.externalId }, ...record.fields];
      const names = ['"id"', ...fields.map((f) => quoteIdent(columnOf(f).name))];
      const params = [randomUUID(), ...fields.map((f) => toParam(columnOf(f).kind, f.value))];
      await client.query(`INSERT INTO ${table} (${names.join(', ')}) VALUES (${names.map((_, i) => `$${i + 1}`).join(', ')})`, params as unknown[]);
      counts.created++;
      continue;
    }
    const changed = record.fields.filter((f) => !deepEqual(stored[columnOf(f).name], f.value));
    if (changed.length === 0) {
      counts.unchanged++;
      continue;
    }
    const sets = changed.map((f, i) => `${quoteIdent(columnOf(f).name)} = $${i + 1}`);
    const params = [...changed.map((f) => toParam(columnOf(f).kind, f.value)), stored.id as string];
    await client.query(`UPDATE ${table} SET ${sets.join(', ')} WHERE "id" = $${params.length}`, params as unknown[]);
    counts.updated++;
  }
  return counts;
}

export async function sync(ctx: PgContext, batches: Record<string, JsonObject[]>, options: CallOptions = {}): Promise<Record<string, SyncCounts>> {
  const validated = validateBatches(batches);
  // Refused before any lock is taken when the cached schema already shows the caps broken.
  for (const batch of validated) await precheck(ctx, batch.collection, fieldsOf(batch), options.deadline);
  const ordered = [...validated].sort((a, b) => (foldIdentifier(a.collection) < foldIdentifier(b.collection) ? -1 : 1));
  let ddl = false;
  try {
    return await ctx.sessions.use(async (client) => {
      const conn = new Conn(client);
      return conn.atomic(async () => {
        const plans = new Map<string, ColumnPlan>();
        for (const batch of ordered) {
          const grown = await growUnderLock(ctx, client, batch.collection, fieldsOf(batch), false);
          ddl ||= grown.ddl;
          plans.set(batch.collection, grown.plan);
        }
        const out: Record<string, SyncCounts> = {};
        for (const batch of validated) {
          try {
            out[batch.collection] = await syncCollection(ctx, client, batch, plans.get(batch.collection)!);
          } catch (error) {
            if (isApiError(error) || !isDataError(error)) throw error;
            throw errors.badRequest('invalid_record', `${batch.collection}: ${pgMessage(error)}`);
          }
        }
        return out;
      });
    }, options.deadline);
  } finally {
    if (ddl) ctx.schemas.invalidate();
  }
}
