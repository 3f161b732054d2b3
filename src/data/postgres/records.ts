/**
 * Collection records on PostgreSQL, with the behaviour of `duckdb/records.ts`. What differs is how
 * writers agree: DuckDB has one writer per process, PostgreSQL is shared by every replica. A write
 * whose fields all have columns already is one plain statement; a write that creates a collection
 * or adds columns takes the table's advisory lock (`pg_advisory_xact_lock`) in a transaction, reads
 * the columns as they are now, checks the growth caps, runs its DDL and its write, and commits: two
 * replicas adding the same field cannot both add it, and a failed write leaves no column behind.
 */
import { errors, isApiError } from '../../errors.js';
import type { BatchResult, CallOptions, FindQuery, JsonObject, ReadOptions, Rows } from '../engine.js';
import { foldIdentifier } from '../identifiers.js';
import { asRows } from '../duckdb/result-reader.js';
import { invalidRecord, normalizeId, planColumns, recordFields, takeId, type ColumnPlan, type Field } from '../duckdb/fields.js';
import { pageBounds, projectionOf } from '../duckdb/filter.js';
import { assertGrowth } from '../duckdb/growth.js';
import { precheck } from './growth.js';
import { assertIdentifier, quoteIdent } from '../duckdb/names.js';
import { toParam, type TableSchema } from '../duckdb/schema.js';
import { Conn, type PgContext } from './context.js';
import { catalogMoved, isDataError, isUniqueViolation, pgMessage } from './errors.js';
import { compileFilter, compileSort, type PgParam } from './filter.js';
import { readCursor, toJson } from './reader.js';
import { growSql, loadTable, qualified } from './schema.js';
import type { Client } from './session.js';

type Records = readonly { fields: readonly Field[]; where: string }[];

function recordNotFound(collection: string, id: string): Error {
  return errors.notFound(`Record '${id}' not found in collection '${collection}'`);
}

/** A row as a record: every value JSON, absent fields (NULL) left out. */
export function toRecord(row: Record<string, unknown>): JsonObject {
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(row)) {
    if (value === null || value === undefined) continue;
    out[key] = toJson(value);
  }
  return out;
}

/** Serialises schema changes to one table across every replica, until the transaction ends. */
export async function lockTable(ctx: PgContext, client: Client, collection: string): Promise<void> {
  await client.query('SELECT pg_advisory_xact_lock(hashtext($1), hashtext($2))', [ctx.schema, foldIdentifier(collection)]);
}

/**
 * Inside a transaction: takes the table's lock, reads its columns as they are now, plans, checks
 * the caps and runs the DDL. The plan it returns is the one the write must use.
 */
export async function growUnderLock(ctx: PgContext, client: Client, collection: string, records: Records, mustExist: boolean): Promise<{ plan: ColumnPlan; ddl: boolean }> {
  await lockTable(ctx, client, collection);
  const existing = await loadTable(client, ctx.schema, collection);
  if (mustExist && existing === undefined) throw errors.notFound(`Collection '${collection}' not found`);
  const plan = planColumns(collection, existing, records);
  assertGrowth(collection, existing, plan.add.length, ctx.limits);
  const ddl = plan.create || plan.add.length > 0;
  if (ddl) {
    ctx.schemas.invalidate();
    await client.query(growSql(ctx.schema, plan.table, plan.create, plan.add));
  }
  return { plan, ddl };
}

/**
 * Runs `write` with a plan whose columns exist: straight away when the cached schema already has
 * every field (the common case), else under the table's lock with the DDL it needs. A cached
 * schema that turned out stale (a column or table dropped elsewhere) is reloaded and the write
 * retried under the lock.
 */
async function withColumns<T>(ctx: PgContext, conn: Conn, collection: string, records: Records, mustExist: boolean, write: (plan: ColumnPlan) => Promise<T>): Promise<T> {
  const cached = mustExist ? await ctx.schemas.require(conn.client, collection) : await ctx.schemas.find(conn.client, collection);
  const first = planColumns(collection, cached, records);
  assertGrowth(collection, cached, first.add.length, ctx.limits);
  if (cached !== undefined && first.add.length === 0) {
    try {
      return conn.inTransaction ? await conn.atomic(() => write(first)) : await write(first);
    } catch (error) {
      if (!catalogMoved(error)) throw error;
      ctx.schemas.invalidate();
    }
  }
  let ddl = false;
  try {
    return await conn.atomic(async () => {
      const grown = await growUnderLock(ctx, conn.client, collection, records, mustExist);
      ddl = grown.ddl;
      return write(grown.plan);
    });
  } finally {
    if (ddl) ctx.schemas.invalidate();
  }
}

function insertSql(ctx: PgContext, fields: readonly Field[], plan: ColumnPlan): string {
  const names = ['"id"', ...fields.map((f) => quoteIdent(plan.columns.get(f.key)!.name))];
  const values = names.map((_, i) => `$${i + 1}`);
  return `INSERT INTO ${qualified(ctx.schema, plan.table)} (${names.join(', ')}) VALUES (${values.join(', ')}) RETURNING *`;
}

async function insertOn(ctx: PgContext, conn: Conn, collection: string, record: JsonObject): Promise<JsonObject> {
  const { id, rest } = takeId(recordFields(record));
  return withColumns(ctx, conn, collection, [{ fields: rest, where: '' }], false, async (plan) => {
    const params: PgParam[] = [id, ...rest.map((f) => toParam(plan.columns.get(f.key)!.kind, f.value) as PgParam)];
    try {
      return toRecord((await conn.client.query(insertSql(ctx, rest, plan), params as unknown[])).rows[0]!);
    } catch (error) {
      if (isUniqueViolation(error)) throw errors.conflict(`Record '${id}' already exists in collection '${collection}'`);
      if (isDataError(error)) throw invalidRecord('', pgMessage(error));
      throw error;
    }
  });
}

export async function insert(ctx: PgContext, collection: string, record: JsonObject, options: CallOptions = {}): Promise<JsonObject> {
  assertIdentifier(collection, 'collection');
  return ctx.sessions.use((client) => insertOn(ctx, new Conn(client), collection, record), options.deadline);
}

/** Reads on a cached schema; a statement the catalog moved under is retried once on a fresh load. */
async function withTable<T>(ctx: PgContext, client: Client, collection: string, read: (table: TableSchema) => Promise<T>): Promise<T> {
  try {
    return await read(await ctx.schemas.require(client, collection));
  } catch (error) {
    const stale = catalogMoved(error) || (isApiError(error) && error.code === 'invalid_filter' && /^Unknown field/.test(error.message));
    if (!stale) throw error;
    ctx.schemas.invalidate();
    return read(await ctx.schemas.require(client, collection));
  }
}

export async function findById(ctx: PgContext, collection: string, id: string, fields?: Pick<FindQuery, 'select_fields' | 'exclude_fields'>, options: CallOptions = {}): Promise<JsonObject> {
  assertIdentifier(collection, 'collection');
  return ctx.sessions.use((client) =>
    withTable(ctx, client, collection, async (table) => {
      const sql = `SELECT ${projectionOf(table, fields).sql} FROM ${qualified(ctx.schema, table.name)} WHERE "id" = $1`;
      const row = (await client.query(sql, [id])).rows[0] as Record<string, unknown> | undefined;
      if (row === undefined) throw recordNotFound(collection, id);
      return toRecord(row);
    }), options.deadline);
}

export async function find(ctx: PgContext, collection: string, query: FindQuery, options: ReadOptions = {}): Promise<Rows> {
  assertIdentifier(collection, 'collection');
  const { limit, skip } = pageBounds(query);
  const budget = options.budget ?? ctx.limits.result;
  const maxRows = Math.min(limit, budget.maxRows);
  const fetch = limit > budget.maxRows ? budget.maxRows + 1 : limit;
  return ctx.sessions.use((client) =>
    withTable(ctx, client, collection, async (table) => {
      const params: PgParam[] = [];
      const where = query.filter === undefined || query.filter === null ? '' : ` WHERE ${compileFilter(table, query.filter, params, ctx.limits)}`;
      const projection = projectionOf(table, query);
      const order = compileSort(table, query.sort, projection.columns);
      params.push(fetch, skip);
      const sql = `SELECT ${projection.sql} FROM ${qualified(ctx.schema, table.name)}${where}${order} LIMIT $${params.length - 1} OFFSET $${params.length}`;
      try {
        return asRows(await readCursor(client, sql, params, { maxRows, maxBytes: budget.maxBytes, deadline: options.deadline }, true));
      } catch (error) {
        // A value the column's type cannot take (a date column compared with 'soon').
        if (isDataError(error)) throw errors.badRequest('invalid_filter', pgMessage(error));
        throw error;
      }
    }), options.deadline);
}

async function updateOn(ctx: PgContext, conn: Conn, collection: string, id: string, patch: JsonObject): Promise<JsonObject> {
  const fields = recordFields(patch);
  const idField = fields.find((f) => f.key === 'id');
  if (idField !== undefined && (idField.value === null || normalizeId(idField.value) !== id)) {
    throw invalidRecord('', `Field 'id' cannot be changed (record '${id}')`);
  }
  const rest = fields.filter((f) => f.key !== 'id');
  return withColumns(ctx, conn, collection, [{ fields: rest, where: '' }], true, async (plan) => {
    const table = qualified(ctx.schema, plan.table);
    let row: Record<string, unknown> | undefined;
    if (rest.length === 0) {
      row = (await conn.client.query(`SELECT * FROM ${table} WHERE "id" = $1`, [id])).rows[0];
    } else {
      const sets = rest.map((f, i) => `${quoteIdent(plan.columns.get(f.key)!.name)} = $${i + 1}`);
      const params = [...rest.map((f) => toParam(plan.columns.get(f.key)!.kind, f.value)), id];
      try {
        row = (await conn.client.query(`UPDATE ${table} SET ${sets.join(', ')} WHERE "id" = $${params.length} RETURNING *`, params as unknown[])).rows[0];
      } catch (error) {
        if (isDataError(error)) throw invalidRecord('', pgMessage(error));
        throw error;
      }
    }
    if (row === undefined) throw recordNotFound(collection, id);
    return toRecord(row);
  });
}

export async function update(ctx: PgContext, collection: string, id: string, patch: JsonObject, options: CallOptions = {}): Promise<JsonObject> {
  assertIdentifier(collection, 'collection');
  return ctx.sessions.use((client) => updateOn(ctx, new Conn(client), collection, id, patch), options.deadline);
}

async function removeOn(ctx: PgContext, client: Client, collection: string, id: string): Promise<void> {
  await withTable(ctx, client, collection, async (table) => {
    const result = await client.query(`DELETE FROM ${qualified(ctx.schema, table.name)} WHERE "id" = $1`, [id]);
    if (result.rowCount === 0) throw recordNotFound(collection, id);
  });
}

export async function remove(ctx: PgContext, collection: string, id: string, options: CallOptions = {}): Promise<void> {
  assertIdentifier(collection, 'collection');
  return ctx.sessions.use((client) => removeOn(ctx, client, collection, id), options.deadline);
}

const isTimeout = (error: unknown): boolean => isApiError(error) && error.code === 'query_timeout';

/**
 * A batch: one transaction, each item in a savepoint of its own, so one item's failure is
 * reported and the rest carry on, and the batch commits once (one flush to disk, not one per item).
 * A process killed mid-batch therefore leaves none of it. At the deadline nothing commits and the
 * answer is 408 (PostgreSQL has cancelled the transaction: there is no partial batch to report).
 */
async function eachItem<T>(
  ctx: PgContext,
  items: readonly T[],
  run: (conn: Conn, item: T) => Promise<string>,
  idOf: (item: T) => string | undefined,
  deadline: number | undefined,
): Promise<BatchResult> {
  if (!Array.isArray(items)) throw errors.badRequest('invalid_record', 'A batch must be an array');
  return ctx.sessions.use(async (client) => {
    const conn = new Conn(client);
    return conn.atomic(async () => {
      const result: BatchResult = { successful: [], failed: [] };
      for (const item of items) {
        try {
          result.successful.push(await conn.atomic(() => run(conn, item)));
        } catch (error) {
          if (isTimeout(error) || !isApiError(error)) throw error;
          const id = idOf(item);
          result.failed.push({ ...(id === undefined ? {} : { id }), error: error.message });
        }
      }
      return result;
    });
  }, deadline);
}

function idIfAny(record: unknown): string | undefined {
  if (typeof record !== 'object' || record === null || Array.isArray(record)) return undefined;
  const value = (record as JsonObject).id;
  return typeof value === 'string' || typeof value === 'number' ? String(value) : undefined;
}

/** A batch is one write for the growth caps: its items' new fields together, checked before any item runs. */
async function precheckBatch(ctx: PgContext, collection: string, records: readonly unknown[], deadline: number | undefined): Promise<void> {
  if (!Array.isArray(records)) return;
  const fields: { fields: Field[] }[] = [];
  for (const record of records) {
    try {
      fields.push({ fields: recordFields(record).filter((f) => f.key !== 'id') });
    } catch {
      // Reported per item by the write itself.
    }
  }
  await precheck(ctx, collection, fields, deadline);
}

export async function batchInsert(ctx: PgContext, collection: string, records: JsonObject[], options: CallOptions = {}): Promise<BatchResult> {
  assertIdentifier(collection, 'collection');
  await precheckBatch(ctx, collection, records, options.deadline);
  return eachItem(ctx, records, async (conn, record) => String((await insertOn(ctx, conn, collection, record)).id), idIfAny, options.deadline);
}

export async function batchUpdate(ctx: PgContext, collection: string, updates: { id: string; data: JsonObject }[], options: CallOptions = {}): Promise<BatchResult> {
  assertIdentifier(collection, 'collection');
  await precheckBatch(ctx, collection, updates.map((item) => item?.data), options.deadline);
  return eachItem(
    ctx,
    updates,
    async (conn, item) => {
      await updateOn(ctx, conn, collection, item.id, item.data);
      return item.id;
    },
    (item) => (typeof item?.id === 'string' ? item.id : undefined),
    options.deadline,
  );
}

export async function batchDelete(ctx: PgContext, collection: string, ids: string[], options: CallOptions = {}): Promise<BatchResult> {
  return eachItem(
    ctx,
    ids,
    async (conn, id) => {
      assertIdentifier(collection, 'collection');
      if (typeof id !== 'string') throw errors.badRequest('invalid_record', 'A record id must be a string');
      await removeOn(ctx, conn.client, collection, id);
      return id;
    },
    (id) => (typeof id === 'string' ? id : undefined),
    options.deadline,
  );
}
