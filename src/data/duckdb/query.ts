import { StatementType, type DuckDBPreparedStatement } from '@duckdb/node-api';
import { ApiError, errors } from '../../errors.js';
import { earliest } from '../deadline.js';
import type { Json, QueryOptions, QueryResult, ReadPolicy, ResultBudget, StatementKind } from '../engine.js';
import { GuardCache, guardSql, type GuardRunner } from '../sql-guard.js';
import { writeTarget } from '../sql-targets.js';
import type { DatabaseContext } from './context.js';
import { bindParam, type PooledConnection, type SqlParam } from './connections.js';
import { readBudgeted } from './result-reader.js';
import { duckdbMessage, toApiError } from './sql-errors.js';
import { resultColumns } from './values.js';

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
  connection.checkDeadline();
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

/**
 * Runs a prepared statement and reads its rows under the budget. `stream`: DuckDB computes rows
 * only as they are read (SELECT), so stopping at the budget stops the work too; otherwise the
 * statement runs to completion (a write must) and only its answer is cut.
 */
async function execute(
  connection: PooledConnection,
  statement: DuckDBPreparedStatement,
  params: Json[] | Record<string, Json> | undefined,
  budget: ResultBudget,
  deadline: number | undefined,
  stream: boolean,
): Promise<QueryResult> {
  const started = performance.now();
  try {
    bindUserParams(statement, params);
    connection.checkDeadline();
    const result = stream ? await statement.stream() : await statement.run();
    const columns = resultColumns(result);
    const { rows, truncatedBy } = await readBudgeted(result, columns, { ...budget, deadline }, false);
    return {
      result: rows,
      columns: columns.names,
      rowCount: rows.length,
      elapsedMs: Math.round((performance.now() - started) * 1000) / 1000,
      truncated: truncatedBy !== undefined,
      ...(truncatedBy === undefined ? {} : { truncatedBy }),
    };
  } catch (error) {
    throw toApiError(error);
  } finally {
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
 * into a projection of visible columns, with the row budget pushed in as a LIMIT so DuckDB never
 * produces more than one row past it; the rewritten statement runs on a read connection.
 */
async function guardedQuery(
  ctx: DatabaseContext,
  sql: string,
  params: Json[] | Record<string, Json> | undefined,
  options: QueryOptions,
  policy: ReadPolicy,
  budget: ResultBudget,
  deadline: number | undefined,
): Promise<QueryResult> {
  if (options.allowedStatements !== undefined && !options.allowedStatements.includes('SELECT')) throw errors.adminRequired();
  return ctx.readers.use(async (connection) => {
    let guarded;
    try {
      guarded = await guardSql(guardRunner(connection), sql, policy, guardCache(ctx), {
        maxNodes: ctx.limits.maxSqlNodes,
        maxDepth: ctx.limits.maxSqlDepth,
        maxTableRefs: ctx.limits.maxSqlTableRefs,
        maxRows: budget.maxRows + 1,
      });
    } catch (error) {
      throw toApiError(error);
    }
    const statement = await prepareSingle(connection, guarded.sql);
    if (statement.statementType !== StatementType.SELECT) {
      statement.destroySync();
      throw new ApiError(403, 'forbidden', 'Only SELECT statements are allowed');
    }
    return execute(connection, statement, params, budget, deadline, true);
  }, deadline);
}

/** Length is checked before anything parses the text, for every caller. */
function assertSqlLength(sql: string, maxBytes: number): void {
  // Cheap bound first: a UTF-8 byte is at most three UTF-16 units' worth of the length.
  if (sql.length <= maxBytes / 3) return;
  const bytes = Buffer.byteLength(sql, 'utf8');
  if (bytes > maxBytes) throw errors.statementTooLarge(`SQL text is ${bytes} bytes; the limit is ${maxBytes} (MAX_SQL_LENGTH)`);
}

/**
 * Raw SQL. The statement is classified by DuckDB's own parser, not by sniffing text: a SELECT runs
 * on a read connection, streamed under the result budget; anything else runs on the writer under
 * its lock, and after a non-SELECT every cached schema and statement is retired since we cannot
 * tell what it changed. One deadline covers queueing, guard, prepare, run and conversion.
 */
export async function query(
  ctx: DatabaseContext,
  sql: string,
  params: Json[] | Record<string, Json> | undefined,
  options: QueryOptions,
): Promise<QueryResult> {
  if (typeof sql !== 'string') throw errors.sqlError('sql must be a string');
  assertSqlLength(sql, ctx.limits.maxSqlLength);
  const deadline = earliest(options.deadline, options.timeoutMs);
  const budget = options.budget ?? ctx.limits.result;
  if (options.readPolicy !== undefined) return guardedQuery(ctx, sql, params, options, options.readPolicy, budget, deadline);
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
    return { found, result: await execute(connection, statement, params, budget, deadline, true) };
  }, deadline);
  if (kind.result !== undefined) return kind.result;
  // DML names the one table it writes; anything else (DDL, CALL, a target we cannot read) may touch any.
  const target = writeTarget(sql, kind.found);
  return ctx.writer.use(async (connection) => {
    try {
      const statement = await prepareSingle(connection, sql);
      return await execute(connection, statement, params, budget, deadline, false);
    } finally {
      ctx.version.changed();
      ctx.sqlWritten(target === undefined ? undefined : [target]);
    }
  }, deadline);
}
