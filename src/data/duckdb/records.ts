import { errors, isApiError } from '../../errors.js';
import type { BatchResult, CallOptions, FindQuery, JsonObject, ReadOptions, Rows } from '../engine.js';
import type { DatabaseContext } from './context.js';
import { inTransaction, type PooledConnection, type SqlParam } from './connections.js';
import { normalizeId, planColumns, recordFields, takeId, invalidRecord, type ColumnPlan, type Field } from './fields.js';
import { compileFilter, compileProjection, compileSort, pageBounds, projectionOf } from './filter.js';
import { assertGrowth, precheckGrowth } from './growth.js';
import { assertIdentifier, quoteIdent } from './names.js';
import { asRows, readBudgeted } from './result-reader.js';
import { growSql, toParam, type TableSchema } from './schema.js';
import { duckdbMessage, isConstraintViolation } from './sql-errors.js';

function recordNotFound(collection: string, id: string): Error {
  return errors.notFound(`Record '${id}' not found in collection '${collection}'`);
}

/** Runs the DDL a plan calls for and retires cached schemas/statements for the collection. */
async function applyPlan(ctx: DatabaseContext, connection: PooledConnection, plan: ColumnPlan): Promise<void> {
  if (!plan.create && plan.add.length === 0) return;
  // Invalidate before running: even a rolled-back ALTER must not leave a cache built mid-change.
  ctx.version.changed(plan.table);
  await connection.exec(growSql(plan.table, plan.create, plan.add));
  ctx.version.changed(plan.table);
}

async function readOne(connection: PooledConnection, sql: string, params: SqlParam[], collection: string): Promise<JsonObject | undefined> {
  return (await connection.rows(sql, params, collection, true))[0];
}

/**
 * Runs `write` under the writer lock with a plan made under that same lock, so no other write can
 * change the schema in between. The plan's growth is checked before its DDL runs. Needs DDL? Then
 * DDL and write share one transaction, and a failed write leaves no stray table or column behind.
 */
async function planned<T>(
  ctx: DatabaseContext,
  collection: string,
  makePlan: (connection: PooledConnection) => Promise<{ plan: ColumnPlan; existing: TableSchema | undefined }>,
  write: (connection: PooledConnection, plan: ColumnPlan) => Promise<T>,
  deadline: number | undefined,
): Promise<T> {
  return ctx.writer.use(async (connection) => {
    const { plan, existing } = await makePlan(connection);
    assertGrowth(collection, existing, plan.add.length, ctx.limits);
    if (!plan.create && plan.add.length === 0) return write(connection, plan);
    try {
      return await inTransaction(connection, async () => {
        await applyPlan(ctx, connection, plan);
        return write(connection, plan);
      });
    } finally {
      ctx.version.changed(plan.table);
    }
  }, deadline);
}

function insertSql(table: string, fields: readonly Field[], plan: ColumnPlan): string {
  const names = ['"id"', ...fields.map((f) => quoteIdent(plan.columns.get(f.key)!.name))];
  const values = names.map((_, i) => `$${i + 1}`);
  return `INSERT INTO ${quoteIdent(table)} (${names.join(', ')}) VALUES (${values.join(', ')}) RETURNING *`;
}

export async function insert(ctx: DatabaseContext, collection: string, record: JsonObject, options: CallOptions = {}): Promise<JsonObject> {
  assertIdentifier(collection, 'collection');
  const { id, rest } = takeId(recordFields(record));
  const records = [{ fields: rest, where: '' }];
  await precheckGrowth(ctx, collection, records, options.deadline);
  return planned(
    ctx,
    collection,
    async (connection) => {
      const existing = await ctx.schemas.find(connection, collection);
      return { plan: planColumns(collection, existing, records), existing };
    },
    async (connection, plan) => {
      const params: SqlParam[] = [id, ...rest.map((f) => toParam(plan.columns.get(f.key)!.kind, f.value))];
      try {
        return (await readOne(connection, insertSql(plan.table, rest, plan), params, plan.table))!;
      } catch (error) {
        if (isConstraintViolation(error)) throw errors.conflict(`Record '${id}' already exists in collection '${collection}'`);
        if (isApiError(error)) throw error;
        throw invalidRecord('', duckdbMessage(error));
      }
    },
    options.deadline,
  );
}

export async function findById(
  ctx: DatabaseContext,
  collection: string,
  id: string,
  fields?: Pick<FindQuery, 'select_fields' | 'exclude_fields'>,
  options: CallOptions = {},
): Promise<JsonObject> {
  assertIdentifier(collection, 'collection');
  return ctx.readers.use(async (connection) => {
    const table = await ctx.schemas.require(connection, collection);
    const sql = `SELECT ${compileProjection(table, fields)} FROM ${quoteIdent(table.name)} WHERE "id" = $1`;
    const record = await readOne(connection, sql, [id], table.name);
    if (record === undefined) throw recordNotFound(collection, id);
    return record;
  }, options.deadline);
}

/**
 * A page of records in a stable order, streamed under the result budget. A `limit` above the
 * budget's rows asks DuckDB for one row more than the budget, which tells a full page from a
 * truncated one without counting the rest.
 */
export async function find(ctx: DatabaseContext, collection: string, query: FindQuery, options: ReadOptions = {}): Promise<Rows> {
  assertIdentifier(collection, 'collection');
  const { limit, skip } = pageBounds(query);
  const budget = options.budget ?? ctx.limits.result;
  const maxRows = Math.min(limit, budget.maxRows);
  const fetch = limit > budget.maxRows ? budget.maxRows + 1 : limit;
  return ctx.readers.use(async (connection) => {
    const table = await ctx.schemas.require(connection, collection);
    const params: SqlParam[] = [];
    const where = query.filter === undefined || query.filter === null ? '' : ` WHERE ${compileFilter(table, query.filter, params, ctx.limits)}`;
    const projection = projectionOf(table, query);
    const order = compileSort(table, query.sort, projection.columns);
    params.push(BigInt(fetch), BigInt(skip));
    const sql = `SELECT ${projection.sql} FROM ${quoteIdent(table.name)}${where}${order} LIMIT $${params.length - 1} OFFSET $${params.length}`;
    const { result, columns } = await connection.stream(sql, params, table.name);
    return asRows(await readBudgeted(result, columns, { maxRows, maxBytes: budget.maxBytes, deadline: options.deadline }, true));
  }, options.deadline);
}

export async function update(ctx: DatabaseContext, collection: string, id: string, patch: JsonObject, options: CallOptions = {}): Promise<JsonObject> {
  assertIdentifier(collection, 'collection');
  const fields = recordFields(patch);
  const idField = fields.find((f) => f.key === 'id');
  if (idField !== undefined && (idField.value === null || normalizeId(idField.value) !== id)) {
    throw invalidRecord('', `Field 'id' cannot be changed (record '${id}')`);
  }
  const rest = fields.filter((f) => f.key !== 'id');
  const records = [{ fields: rest, where: '' }];
  await precheckGrowth(ctx, collection, records, options.deadline);
  return planned(
    ctx,
    collection,
    async (connection) => {
      const existing = await ctx.schemas.require(connection, collection);
      return { plan: planColumns(collection, existing, records), existing };
    },
    (connection, plan) => runUpdate(connection, plan, collection, id, rest),
    options.deadline,
  );
}

async function runUpdate(connection: PooledConnection, plan: ColumnPlan, collection: string, id: string, fields: Field[]): Promise<JsonObject> {
  const table = quoteIdent(plan.table);
  if (fields.length === 0) {
    const record = await readOne(connection, `SELECT * FROM ${table} WHERE "id" = $1`, [id], plan.table);
    if (record === undefined) throw recordNotFound(collection, id);
    return record;
  }
  const sets = fields.map((f, i) => `${quoteIdent(plan.columns.get(f.key)!.name)} = $${i + 1}`);
  const params: SqlParam[] = [...fields.map((f) => toParam(plan.columns.get(f.key)!.kind, f.value)), id];
  let record: JsonObject | undefined;
  try {
    record = await readOne(connection, `UPDATE ${table} SET ${sets.join(', ')} WHERE "id" = $${params.length} RETURNING *`, params, plan.table);
  } catch (error) {
    if (isApiError(error)) throw error;
    throw invalidRecord('', duckdbMessage(error));
  }
  if (record === undefined) throw recordNotFound(collection, id);
  return record;
}

export async function remove(ctx: DatabaseContext, collection: string, id: string, options: CallOptions = {}): Promise<void> {
  assertIdentifier(collection, 'collection');
  await ctx.writer.use(async (connection) => {
    const table = await ctx.schemas.require(connection, collection);
    const result = await connection.run(`DELETE FROM ${quoteIdent(table.name)} WHERE "id" = $1 RETURNING "id"`, [id], table.name);
    if (result.rowCount === 0) throw recordNotFound(collection, id);
  }, options.deadline);
}

const isTimeout = (error: unknown): boolean => isApiError(error) && error.code === 'query_timeout';

/**
 * Runs each item on its own: one failure is reported and the rest carry on. At the deadline the
 * batch stops: if nothing was applied the answer is a plain 408; otherwise the items not reached
 * are reported failed with the timeout's message, so the answer still says exactly what landed.
 */
async function eachItem<T>(items: readonly T[], run: (item: T) => Promise<string>, idOf: (item: T) => string | undefined): Promise<BatchResult> {
  const result: BatchResult = { successful: [], failed: [] };
  const fail = (item: T, message: string): void => {
    const id = idOf(item);
    result.failed.push({ ...(id === undefined ? {} : { id }), error: message });
  };
  for (let i = 0; i < items.length; i++) {
    try {
      result.successful.push(await run(items[i]!));
    } catch (error) {
      if (isTimeout(error)) {
        if (result.successful.length === 0) throw error;
        for (const rest of items.slice(i)) fail(rest, duckdbMessage(error));
        return result;
      }
      fail(items[i]!, duckdbMessage(error));
    }
  }
  return result;
}

function idIfAny(record: unknown): string | undefined {
  if (typeof record !== 'object' || record === null || Array.isArray(record)) return undefined;
  const value = (record as JsonObject).id;
  return typeof value === 'string' || typeof value === 'number' ? String(value) : undefined;
}

/**
 * A batch is one write for the growth caps: the new fields of all its items together, checked
 * before any item runs, so a batch that would widen a collection past its caps changes nothing.
 * Items that are not objects are left to fail on their own, as before.
 */
async function precheckBatch(ctx: DatabaseContext, collection: string, records: readonly unknown[], deadline: number | undefined): Promise<void> {
  const fields: { fields: Field[] }[] = [];
  for (const record of records) {
    try {
      fields.push({ fields: recordFields(record).filter((f) => f.key !== 'id') });
    } catch {
      // Reported per item by the write itself.
    }
  }
  await precheckGrowth(ctx, collection, fields, deadline);
}

export async function batchInsert(ctx: DatabaseContext, collection: string, records: JsonObject[], options: CallOptions = {}): Promise<BatchResult> {
  assertIdentifier(collection, 'collection');
  await precheckBatch(ctx, collection, records, options.deadline);
  return eachItem(records, async (record) => String((await insert(ctx, collection, record, options)).id), idIfAny);
}

export async function batchUpdate(ctx: DatabaseContext, collection: string, updates: { id: string; data: JsonObject }[], options: CallOptions = {}): Promise<BatchResult> {
  assertIdentifier(collection, 'collection');
  await precheckBatch(ctx, collection, updates.map((item) => item?.data), options.deadline);
  return eachItem(
    updates,
    async (item) => {
      await update(ctx, collection, item.id, item.data, options);
      return item.id;
    },
    (item) => (typeof item?.id === 'string' ? item.id : undefined),
  );
}

export function batchDelete(ctx: DatabaseContext, collection: string, ids: string[], options: CallOptions = {}): Promise<BatchResult> {
  return eachItem(
    ids,
    async (id) => {
      await remove(ctx, collection, id, options);
      return id;
    },
    (id) => (typeof id === 'string' ? id : undefined),
  );
}
