/**
 * Raw SQL on PostgreSQL. The statement is parsed by PostgreSQL's own parser (`parser.ts`) and
 * classified from its tree; statements that change the connection rather than the data (SET,
 * RESET, BEGIN, PREPARE, LISTEN, DECLARE, COPY…) are refused whoever asks, as on DuckDB. What runs
 * runs as DATA_URL's role, which the engine has checked at start is locked down (no superuser, no
 * server-file or program roles, no file functions, no dblink: `lockdown.ts`), in a transaction of
 * its own whose search_path is the database's schema, read-only when the caller may only read;
 * the connection is reset (`DISCARD ALL`) before it goes back to the pool, so a `set_config` inside
 * a SELECT cannot follow the next caller. Rows stream through a cursor under the result budget;
 * the deadline cancels the statement.
 */
import { ApiError, errors } from '../../errors.js';
import { earliest } from '../deadline.js';
import type { Json, QueryOptions, QueryResult, StatementKind } from '../engine.js';
import { quoteIdent } from '../duckdb/names.js';
import type { PgContext } from './context.js';
import { toApiError } from './errors.js';
import { guardedQuery } from './guard.js';
import { parseOne, type ParsedStatement } from './parser.js';
import { readCursor } from './reader.js';
import { assertSqlLength, toPgParams } from './params.js';

/** Statements that would change the session (not the data) or talk a protocol of their own. */
const CONNECTION_STATE = new Set([
  'TransactionStmt',
  'VariableSetStmt',
  'DiscardStmt',
  'PrepareStmt',
  'ExecuteStmt',
  'DeallocateStmt',
  'ListenStmt',
  'UnlistenStmt',
  'NotifyStmt',
  'LoadStmt',
  'CopyStmt',
  'DeclareCursorStmt',
  'FetchStmt',
  'ClosePortalStmt',
  'AlterSystemStmt',
  'CheckPointStmt',
  'CreateRoleStmt',
  'AlterRoleStmt',
  'AlterRoleSetStmt',
  'DropRoleStmt',
  'GrantRoleStmt',
  'CreateExtensionStmt',
  'AlterExtensionStmt',
  'CreateFdwStmt',
  'CreateForeignServerStmt',
  'CreateUserMappingStmt',
  'ImportForeignSchemaStmt',
  'CreateSubscriptionStmt',
  'CreatePublicationStmt',
  'CreatedbStmt',
  'DropdbStmt',
  'AlterDatabaseStmt',
  'AlterDatabaseSetStmt',
  'CreateTableSpaceStmt',
]);

const WRITES = new Set(['INSERT', 'UPDATE', 'DELETE', 'MERGE']);

const KINDS: Record<string, StatementKind> = { SelectStmt: 'SELECT', InsertStmt: 'INSERT', UpdateStmt: 'UPDATE', DeleteStmt: 'DELETE' };

/** A SELECT that writes (`SELECT … INTO`, a data-modifying CTE) is not a SELECT for permissions. */
function writesThroughCtes(node: Record<string, unknown>): boolean {
  // Each arm of a UNION may have a WITH of its own.
  for (const arm of ['larg', 'rarg']) {
    const child = node[arm] as Record<string, unknown> | undefined;
    if (child !== undefined && child !== null && writesThroughCtes(child)) return true;
  }
  const ctes = ((node.withClause as { ctes?: { CommonTableExpr?: { ctequery?: Record<string, unknown> } }[] } | undefined)?.ctes ?? []);
  return ctes.some((cte) => {
    const query = cte.CommonTableExpr?.ctequery ?? {};
    const kind = Object.keys(query)[0];
    return kind !== 'SelectStmt' || writesThroughCtes(query[kind] as Record<string, unknown>);
  });
}

export function statementKind(statement: ParsedStatement): StatementKind {
  const kind = KINDS[statement.kind] ?? 'OTHER';
  if (kind === 'SELECT' && (statement.node.intoClause !== undefined || writesThroughCtes(statement.node))) return 'OTHER';
  if (kind !== 'OTHER' && kind !== 'SELECT' && writesThroughCtes(statement.node)) return kind;
  return kind;
}

export async function query(ctx: PgContext, sql: string, params: Json[] | Record<string, Json> | undefined, options: QueryOptions): Promise<QueryResult> {
  if (typeof sql !== 'string') throw errors.sqlError('sql must be a string');
  assertSqlLength(sql, ctx.limits.maxSqlLength);
  const deadline = earliest(options.deadline, options.timeoutMs);
  const budget = options.budget ?? ctx.limits.result;
  if (options.readPolicy !== undefined) {
    if (options.allowedStatements !== undefined && !options.allowedStatements.includes('SELECT')) throw errors.adminRequired();
    return guardedQuery(ctx, sql, params, options.readPolicy, budget, deadline);
  }
  const statement = await parseOne(sql);
  const kind = statementKind(statement);
  if (options.allowedStatements !== undefined && !options.allowedStatements.includes(kind)) throw errors.adminRequired();
  if (CONNECTION_STATE.has(statement.kind)) throw errors.sqlError(`${statement.kind.replace(/Stmt$/, '')} statements are not allowed`);
  const values = toPgParams(params);
  const readOnly = options.allowedStatements !== undefined && !options.allowedStatements.includes('OTHER') && kind === 'SELECT';
  const started = performance.now();
  try {
    return await ctx.sessions.use(async (client) => {
      try {
        await client.query(readOnly ? 'BEGIN READ ONLY' : 'BEGIN');
        await client.query(`SELECT set_config('search_path', $1, true)`, [quoteIdent(ctx.schema)]);
        const { rows: read, truncatedBy, columns: readColumns, affected } = await readCursor(client, sql, values, { ...budget, deadline }, false);
        await client.query('COMMIT');
        // As DuckDB answers a write without RETURNING: one row with the count, so the same call
        // gives the same JSON on both engines.
        const counted = affected !== undefined && WRITES.has(affected.command);
        const rows = counted ? [{ Count: affected.rows }] : read;
        const columns = counted ? ['Count'] : readColumns;
        return {
          result: rows,
          columns,
          rowCount: rows.length,
          elapsedMs: Math.round((performance.now() - started) * 1000) / 1000,
          truncated: truncatedBy !== undefined,
          ...(truncatedBy === undefined ? {} : { truncatedBy }),
        };
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      } finally {
        // Whatever the statement did to the session (set_config, temp tables) ends with it.
        await client.query('DISCARD ALL').catch(() => undefined);
      }
    }, deadline);
  } catch (error) {
    if (error instanceof ApiError) throw error;
    throw toApiError(error);
  } finally {
    if (kind !== 'SELECT') ctx.schemas.invalidate();
  }
}
