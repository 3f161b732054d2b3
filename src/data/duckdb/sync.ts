import { randomUUID } from 'node:crypto';
import { errors, isApiError } from '../../errors.js';
import type { CallOptions, Json, JsonObject, SyncCounts } from '../engine.js';
import type { DatabaseContext } from './context.js';
import { inTransaction, type PooledConnection, type SqlParam } from './connections.js';
import { invalidRecord, isPlainObject, planColumns, recordFields, type ColumnPlan, type Field } from './fields.js';
import { assertIdentifier, quoteIdent } from './names.js';
import { foldIdentifier } from '../identifiers.js';
import { assertGrowth, precheckGrowth } from './growth.js';
import { growSql, toParam, type ColumnKind } from './schema.js';
import { duckdbMessage } from './sql-errors.js';

export const EXTERNAL_ID = 'externalId';
/** Lookups bind a fixed number of ids (padded with NULL) so the statement text, and its cache entry, never vary. */
const LOOKUP_BATCH = 256;

export interface SyncRecord {
  externalId: string;
  /** Everything but externalId, validated. */
  fields: Field[];
  where: string;
}

export interface CollectionBatch {
  collection: string;
  records: SyncRecord[];
}

export function deepEqual(a: Json | undefined, b: Json | undefined): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined) return a === b || (a ?? null) === (b ?? null);
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((v, i) => deepEqual(v, b[i]));
  }
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => deepEqual(a[k], b[k]));
}

/** Everything that can be checked without the database, checked before the database is touched. */
export function validateBatches(batches: unknown): CollectionBatch[] {
  if (!isPlainObject(batches)) throw invalidRecord('', 'Sync body must be an object of { collection: [records] }');
  const seenCollections = new Map<string, string>();
  return Object.entries(batches).map(([collection, records]) => {
    assertIdentifier(collection, 'collection');
    const previous = seenCollections.get(foldIdentifier(collection));
    if (previous !== undefined) throw invalidRecord(collection, `same collection as '${previous}'`);
    seenCollections.set(foldIdentifier(collection), collection);
    if (!Array.isArray(records)) throw invalidRecord(collection, 'expected an array of records');
    const seenIds = new Map<string, number>();
    const validated = records.map((record: unknown, index): SyncRecord => {
      const where = `${collection}[${index}]`;
      const fields = recordFields(record, where);
      const external = fields.find((f) => f.key === foldIdentifier(EXTERNAL_ID));
      if (external === undefined || external.value === null) throw invalidRecord(where, 'missing externalId');
      const value = external.value;
      if (!((typeof value === 'string' && value.length > 0) || (typeof value === 'number' && Number.isFinite(value)))) {
        throw invalidRecord(where, 'externalId must be a non-empty string or a number');
      }
      // Stored as text so that 42 and "42" name the same upstream record.
      const externalId = String(value);
      const first = seenIds.get(externalId);
      if (first !== undefined) throw invalidRecord(where, `duplicate externalId '${externalId}' (also at ${collection}[${first}])`);
      seenIds.set(externalId, index);
      if (fields.some((f) => f.key === 'id')) throw invalidRecord(where, "'id' is assigned by the server; identify records by externalId");
      return { externalId, fields: fields.filter((f) => f !== external), where };
    });
    return { collection, records: validated };
  });
}

function externalField(plan: ColumnPlan, value: string): Field {
  return { name: plan.columns.get(foldIdentifier(EXTERNAL_ID))?.name ?? EXTERNAL_ID, key: foldIdentifier(EXTERNAL_ID), value };
}

async function existingByExternalId(connection: PooledConnection, plan: ColumnPlan, ids: readonly string[]): Promise<Map<string, JsonObject>> {
  const found = new Map<string, JsonObject>();
  if (plan.create) return found;
  const column = quoteIdent(plan.columns.get(foldIdentifier(EXTERNAL_ID))!.name);
  const placeholders = Array.from({ length: LOOKUP_BATCH }, (_, i) => `$${i + 1}`).join(', ');
  const sql = `SELECT * FROM ${quoteIdent(plan.table)} WHERE ${column} IN (${placeholders})`;
  for (let start = 0; start < ids.length; start += LOOKUP_BATCH) {
    const slice: SqlParam[] = ids.slice(start, start + LOOKUP_BATCH);
    while (slice.length < LOOKUP_BATCH) slice.push(null);
    for (const row of await connection.rows(sql, slice, plan.table, true)) {
      const key = row[plan.columns.get(foldIdentifier(EXTERNAL_ID))!.name];
      // Rows inserted outside sync may share an externalId: the first one found is the one synced.
      if (typeof key === 'string' && !found.has(key)) found.set(key, row);
    }
  }
  return found;
}

async function syncCollection(connection: PooledConnection, batch: CollectionBatch, plan: ColumnPlan): Promise<SyncCounts> {
  const counts: SyncCounts = { created: 0, updated: 0, unchanged: 0 };
  const table = quoteIdent(plan.table);
  const existing = await existingByExternalId(connection, plan, batch.records.map((r) => r.externalId));
  const columnOf = (f: Field): { name: string; kind: ColumnKind } => plan.columns.get(f.key)!;
  for (const record of batch.records) {
    const stored = existing.get(record.externalId);
    if (stored === undefined) {
      const fields = [externalField(plan, record.externalId), ...record.fields];
      const names = ['"id"', ...fields.map((f) => quoteIdent(columnOf(f).name))];
      const params: SqlParam[] = [randomUUID(), ...fields.map((f) => toParam(columnOf(f).kind, f.value))];
      await connection.run(`INSERT INTO ${table} (${names.join(', ')}) VALUES (${names.map((_, i) => `$${i + 1}`).join(', ')})`, params, plan.table);
      counts.created++;
      continue;
    }
    const changed = record.fields.filter((f) => !deepEqual(stored[columnOf(f).name], f.value));
    if (changed.length === 0) {
      counts.unchanged++;
      continue;
    }
    const sets = changed.map((f, i) => `${quoteIdent(columnOf(f).name)} = $${i + 1}`);
    const params: SqlParam[] = [...changed.map((f) => toParam(columnOf(f).kind, f.value)), stored.id as string];
    await connection.run(`UPDATE ${table} SET ${sets.join(', ')} WHERE "id" = $${params.length}`, params, plan.table);
    counts.updated++;
  }
  return counts;
}

/**
 * Upsert by externalId across collections: validated completely, then applied in one transaction
 * on the writer, so a batch either lands whole or not at all. Sending it twice changes nothing.
 */
export async function sync(ctx: DatabaseContext, batches: Record<string, JsonObject[]>, options: CallOptions = {}): Promise<Record<string, SyncCounts>> {
  const validated = validateBatches(batches);
  const fieldsOf = (batch: CollectionBatch) =>
    batch.records.map((r) => ({ fields: [{ name: EXTERNAL_ID, key: foldIdentifier(EXTERNAL_ID), value: r.externalId } as Field, ...r.fields], where: r.where }));
  // Each collection's growth is one write's: refused before the writer lock is taken.
  for (const batch of validated) await precheckGrowth(ctx, batch.collection, fieldsOf(batch), options.deadline);
  return ctx.writer.use(async (connection) => {
    const plans = new Map<string, ColumnPlan>();
    for (const batch of validated) {
      const existing = await ctx.schemas.find(connection, batch.collection);
      const plan = planColumns(batch.collection, existing, fieldsOf(batch));
      assertGrowth(batch.collection, existing, plan.add.length, ctx.limits);
      plans.set(batch.collection, plan);
    }
    const ddl = [...plans.values()].filter((p) => p.create || p.add.length > 0);
    try {
      return await inTransaction(connection, async () => {
        for (const plan of ddl) {
          ctx.version.changed(plan.table);
          await connection.exec(growSql(plan.table, plan.create, plan.add));
        }
        const out: Record<string, SyncCounts> = {};
        for (const batch of validated) {
          try {
            out[batch.collection] = await syncCollection(connection, batch, plans.get(batch.collection)!);
          } catch (error) {
            if (isApiError(error)) throw error;
            throw errors.badRequest('invalid_record', `${batch.collection}: ${duckdbMessage(error)}`);
          }
        }
        return out;
      });
    } finally {
      for (const plan of ddl) ctx.version.changed(plan.table);
    }
  }, options.deadline);
}
