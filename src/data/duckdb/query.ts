import { StatementType, type DuckDBPreparedStatement } from '@duckdb/node-api';
import { ApiError, errors, isApiError } from '../../errors.js';
import type { Json, QueryOptions, QueryResult, ReadPolicy, StatementKind } from '../engine.js';
import { GuardCache, guardSql, type GuardRunner } from '../sql-guard.js';
import type { DatabaseContext } from './context.js';
import { bindParam, type PooledConnection, type SqlParam } from './connections.js';
import { duckdbMessage, toApiError } from './sql-errors.js';
import { readRows, resultColumns } from './values.js';

const KINDS: Partial<Record<StatementType, StatementKind>> = {
  [StatementType.SELECT]: 'SELECT',
  [StatementType.INSERT]: 'INSERT',
  [StatementType.UPDATE]: 'UPDATE',
  [StatementType.DELETE]: 'DELETE',
};

/**
 * Statements that would change the state of the connection itself rather than the data: on the
 * shared writer an open `BEGIN`, a `USE`/`SET search_path` or an attached catalog would silently
 * redirect or stall every later write, so they are refused whoever asks.
 */
const CONNECTION_STATE = new Set<StatementType>([
  StatementType.TRANSACTION,
  StatementType.PREPARE,
  StatementType.EXECUTE,
  StatementType.SET,
  StatementType.VARIABLE_SET,
  StatementType.LOAD,
  StatementType.EXTENSION,
  StatementType.ATTACH,
  StatementType.DETACH,
  StatementType.UPDATE_EXTENSIONS,
]);

export function statementKind(type: StatementType): StatementKind {
  return KINDS[type] ?? 'OTHER';
}

function toSqlParam(value: Json): SqlParam {
  // Integers bind as BIGINT so `LIMIT $1` or `WHERE int_col = $1` behave as written in SQL.
  if (typeof value === 'number') return Number.isSafeInteger(value) ? BigInt(value) : value;
  if (value !== null && typeof value === 'object') return JSON.stringify(value);
  return value;
}

function bindUserParams(statement: DuckDBPreparedStatement, params: Json[] | Record<string, Json> | undefined): void {
  if (params === undefined || params === null) return;
  if (Array.isArray(params)) {
    params.forEach((value, i) => bindParam(statement, i + 1, toSqlParam(value)));
    return;
  }
  for (const [name, value] of Object.entries(params)) {
    bindParam(statement, statement.parameterIndex(name.replace(/^\$/, '')), toSqlParam(value));
  }
}

/** Exactly one statement, prepared on `connection`; the caller owns (and destroys) it. */
async function prepareSingle(connection: PooledConnection, sql: string): Promise<DuckDBPreparedStatement> {
  let extracted;
  try {
    extracted = await connection.raw.extractStatements(sql);
  } catch (error) {
    const message = duckdbMessage(error);
    // An empty or comment-only text has zero statements; the binding reports that as a bare failure.
    if (!message.startsWith('Failed to extract statements: ')) throw errors.sqlError('Exactly one SQL statement is allowed');
    throw errors.sqlError(message.slice('Failed to extract statements: '.length));
  }
  if (extracted.count !== 1) throw errors.sqlError('Exactly one SQL statement is allowed');
  try {
    return await extracted.prepare(0);
  } catch (error) {
    throw toApiError(error);
  }
}

async function execute(
  connection: PooledConnection,
  statement: DuckDBPreparedStatement,
  params: Json[] | Record<string, Json> | undefined,
  timeoutMs: number,
): Promise<QueryResult> {
  const started = performance.now();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    connection.interrupt();
  }, timeoutMs);
  try {
    bindUserParams(statement, params);
    const result = await statement.run();
    const columns = resultColumns(result);
    const rows = readRows(result, columns, false);
    return { result: rows, columns: columns.names, rowCount: rows.length, elapsedMs: Math.round((performance.now() - started) * 1000) / 1000 };
  } catch (error) {
    if (timedOut && !isApiError(error)) throw errors.queryTimeout(timeoutMs);
    throw toApiError(error);
  } finally {
    clearTimeout(timer);
    statement.destroySync();
  }
}

/** One guard cache per database, dropped with it. */
const guardCaches = new WeakMap<DatabaseContext, GuardCache>();

function guardCache(ctx: DatabaseContext): GuardCache {
  let cache = guardCaches.get(ctx);
  if (cache === undefined) {
    cache = new GuardCache(() => ctx.version.any);
    guardCaches.set(ctx, cache);
  }
  return cache;
}

/** The guard reads the catalog and parses through this connection; it never runs the caller's SQL. */
function guardRunner(connection: PooledConnection): GuardRunner {
  return async (sql, params) => (await (await connection.run(sql, params)).getRows()) as unknown[][];
}

/**
 * A scoped caller's SQL: the guard admits one SELECT over readable tables and rewrites every table
 * into a projection of visible columns; the rewritten statement runs on a read connection.
 */
async function guardedQuery(
  ctx: DatabaseContext,
  sql: string,
  params: Json[] | Record<string, Json> | undefined,
  options: QueryOptions,
  policy: ReadPolicy,
): Promise<QueryResult> {
  if (options.allowedStatements !== undefined && !options.allowedStatements.includes('SELECT')) throw errors.adminRequired();
  return ctx.readers.use(async (connection) => {
    let guarded;
    try {
      guarded = await guardSql(guardRunner(connection), sql, policy, guardCache(ctx));
    } catch (error) {
      throw toApiError(error);
    }
    const statement = await prepareSingle(connection, guarded.sql);
    if (statement.statementType !== StatementType.SELECT) {
      statement.destroySync();
      throw new ApiError(403, 'forbidden', 'Only SELECT statements are allowed');
    }
    return execute(connection, statement, params, options.timeoutMs);
  });
}

/**
 * Raw SQL. The statement is classified by DuckDB's own parser, not by sniffing text: a SELECT runs
 * on a read connection, anything else on the writer under its lock, and after a non-SELECT every
 * cached schema and statement is retired since we cannot tell what it changed.
 */
export async function query(
  ctx: DatabaseContext,
  sql: string,
  params: Json[] | Record<string, Json> | undefined,
  options: QueryOptions,
): Promise<QueryResult> {
  if (typeof sql !== 'string') throw errors.sqlError('sql must be a string');
  if (options.readPolicy !== undefined) return guardedQuery(ctx, sql, params, options, options.readPolicy);
  const kind = await ctx.readers.use(async (connection) => {
    const statement = await prepareSingle(connection, sql);
    const type = statement.statementType;
    const found = statementKind(type);
    if (options.allowedStatements !== undefined && !options.allowedStatements.includes(found)) {
      statement.destroySync();
      throw errors.adminRequired();
    }
    if (CONNECTION_STATE.has(type)) {
      statement.destroySync();
      throw errors.sqlError(`${StatementType[type]} statements are not allowed`);
    }
    if (found !== 'SELECT') {
      statement.destroySync();
      return { found, result: undefined };
    }
    return { found, result: await execute(connection, statement, params, options.timeoutMs) };
  });
  if (kind.result !== undefined) return kind.result;
  return ctx.writer.use(async (connection) => {
    try {
      const statement = await prepareSingle(connection, sql);
      return await execute(connection, statement, params, options.timeoutMs);
    } finally {
      ctx.version.changed();
    }
  });
}
