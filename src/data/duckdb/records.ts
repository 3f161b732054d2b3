import { errors, isApiError } from '../../errors.js';
import type { BatchResult, FindQuery, JsonObject } from '../engine.js';
import type { DatabaseContext } from './context.js';
import { inTransaction, type PooledConnection, type SqlParam } from './connections.js';
import { normalizeId, planColumns, recordFields, takeId, invalidRecord, type ColumnPlan, type Field } from './fields.js';
import { compileFilter, compileProjection, compileSort, pageBounds } from './filter.js';
import { assertIdentifier, quoteIdent } from './names.js';
import { addColumnSql, createTableSql, toParam } from './schema.js';
import { duckdbMessage, isConstraintViolation } from './sql-errors.js';

function recordNotFound(collection: string, id: string): Error {
  return errors.notFound(`Record '${id}' not found in collection '${collection}'`);
}

/** Runs the DDL a plan calls for and retires cached schemas/statements for the collection. */
async function applyPlan(ctx: DatabaseContext, connection: PooledConnection, plan: ColumnPlan): Promise<void> {
  if (!plan.create && plan.add.length === 0) return;
  // Invalidate before running: even a rolled-back ALTER must not leave a cache built mid-change.
  ctx.version.changed(plan.table);
  if (plan.create) await connection.exec(createTableSql(plan.table, plan.add));
  else for (const column of plan.add) await connection.exec(addColumnSql(plan.table, column));
  ctx.version.changed(plan.table);
}

async function readOne(connection: PooledConnection, sql: string, params: SqlParam[], collection: string): Promise<JsonObject | undefined> {
  return (await connection.rows(sql, params, collection, true))[0];
}

/**
 * Runs `write` under the writer lock with a plan made under that same lock, so no other write can
 * change the schema in between. Needs DDL? Then DDL and write share one transaction, and a failed
 * write leaves no stray table or column behind.
 */
async function planned<T>(
  ctx: DatabaseContext,
  makePlan: (connection: PooledConnection) => Promise<ColumnPlan>,
  write: (connection: PooledConnection, plan: ColumnPlan) => Promise<T>,
): Promise<T> {
  return ctx.writer.use(async (connection) => {
    const plan = await makePlan(connection);
    if (!plan.create && plan.add.length === 0) return write(connection, plan);
    try {
      return await inTransaction(connection, async () => {
        await applyPlan(ctx, connection, plan);
        return write(connection, plan);
      });
    } finally {
      ctx.version.changed(plan.table);
    }
  });
}

function insertSql(table: string, fields: readonly Field[], plan: ColumnPlan): string {
  const names = ['"id"', ...fields.map((f) => quoteIdent(plan.columns.get(f.key)!.name))];
  const values = names.map((_, i) => `$${i + 1}`);
  return `INSERT INTO ${quoteIdent(table)} (${names.join(', ')}) VALUES (${values.join(', ')}) RETURNING *`;
}

export async function insert(ctx: DatabaseContext, collection: string, record: JsonObject): Promise<JsonObject> {
  assertIdentifier(collection, 'collection');
  const { id, rest } = takeId(recordFields(record));
  return planned(
    ctx,
    async (connection) => planColumns(collection, await ctx.schemas.find(connection, collection), [{ fields: rest, where: '' }]),
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
  );
}

export async function findById(
  ctx: DatabaseContext,
  collection: string,
  id: string,
  fields?: Pick<FindQuery, 'select_fields' | 'exclude_fields'>,
): Promise<JsonObject> {
  assertIdentifier(collection, 'collection');
  return ctx.readers.use(async (connection) => {
    const table = await ctx.schemas.require(connection, collection);
    const sql = `SELECT ${compileProjection(table, fields)} FROM ${quoteIdent(table.name)} WHERE "id" = $1`;
    const record = await readOne(connection, sql, [id], table.name);
    if (record === undefined) throw recordNotFound(collection, id);
    return record;
  });
}

export async function find(ctx: DatabaseContext, collection: string, query: FindQuery): Promise<JsonObject[]> {
  assertIdentifier(collection, 'collection');
  const { limit, skip } = pageBounds(query);
  return ctx.readers.use(async (connection) => {
    const table = await ctx.schemas.require(connection, collection);
    const params: SqlParam[] = [];
    const where = query.filter === undefined || query.filter === null ? '' : ` WHERE ${compileFilter(table, query.filter, params)}`;
    const order = compileSort(table, query.sort);
    params.push(BigInt(limit), BigInt(skip));
    const sql = `SELECT ${compileProjection(table, query)} FROM ${quoteIdent(table.name)}${where}${order} LIMIT $${params.length - 1} OFFSET $${params.length}`;
    return connection.rows(sql, params, table.name, true);
  });
}

export async function update(ctx: DatabaseContext, collection: string, id: string, patch: JsonObject): Promise<JsonObject> {
  assertIdentifier(collection, 'collection');
  const fields = recordFields(patch);
  const idField = fields.find((f) => f.key === 'id');
  if (idField !== undefined && (idField.value === null || normalizeId(idField.value) !== id)) {
    throw invalidRecord('', `Field 'id' cannot be changed (record '${id}')`);
  }
  const rest = fields.filter((f) => f.key !== 'id');
  return planned(
    ctx,
    async (connection) => planColumns(collection, await ctx.schemas.require(connection, collection), [{ fields: rest, where: '' }]),
    (connection, plan) => runUpdate(connection, plan, collection, id, rest),
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

export async function remove(ctx: DatabaseContext, collection: string, id: string): Promise<void> {
  assertIdentifier(collection, 'collection');
  await ctx.writer.use(async (connection) => {
    const table = await ctx.schemas.require(connection, collection);
    const result = await connection.run(`DELETE FROM ${quoteIdent(table.name)} WHERE "id" = $1 RETURNING "id"`, [id], table.name);
    if (result.rowCount === 0) throw recordNotFound(collection, id);
  });
}

/** Runs each item on its own: one failure is reported and the rest carry on. */
async function eachItem<T>(items: readonly T[], run: (item: T) => Promise<string>, idOf: (item: T) => string | undefined): Promise<BatchResult> {
  const result: BatchResult = { successful: [], failed: [] };
  for (const item of items) {
    try {
      result.successful.push(await run(item));
    } catch (error) {
      const id = idOf(item);
      result.failed.push({ ...(id === undefined ? {} : { id }), error: duckdbMessage(error) });
    }
  }
  return result;
}

function idIfAny(record: unknown): string | undefined {
  if (typeof record !== 'object' || record === null || Array.isArray(record)) return undefined;
  const value = (record as JsonObject).id;
  return typeof value === 'string' || typeof value === 'number' ? String(value) : undefined;
}

export function batchInsert(ctx: DatabaseContext, collection: string, records: JsonObject[]): Promise<BatchResult> {
  return eachItem(records, async (record) => String((await insert(ctx, collection, record)).id), idIfAny);
}

export function batchUpdate(ctx: DatabaseContext, collection: string, updates: { id: string; data: JsonObject }[]): Promise<BatchResult> {
  return eachItem(
    updates,
    async (item) => {
      await update(ctx, collection, item.id, item.data);
      return item.id;
    },
    (item) => (typeof item?.id === 'string' ? item.id : undefined),
  );
}

export function batchDelete(ctx: DatabaseContext, collection: string, ids: string[]): Promise<BatchResult> {
  return eachItem(
    ids,
    async (id) => {
      await remove(ctx, collection, id);
      return id;
    },
    (id) => (typeof id === 'string' ? id : undefined),
  );
}
