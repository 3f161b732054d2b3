/**
 * Scoped (non-admin) SQL on PostgreSQL: one SELECT over the tables the caller may read, with the
 * hidden columns absent, under the same deadline and budgets.
 *
 * 1. PostgreSQL's own parser (`libpg-query`) gives the tree; the whole tree is walked with an allow
 *    list of node kinds (anything unknown is refused: fail closed), of functions (built-ins that
 *    only compute: no `pg_catalog` tables or settings, no `pg_sleep`, `set_config`, `lo_*`, file,
 *    `dblink` or `query_to_xml`), of types (no `reg*` casts, which read the catalog) and with no
 *    schema-qualified name anywhere (so nothing can name `pg_catalog.pg_authid` or another schema).
 * 2. Every table the statement names is resolved by duckgate's rule (`foldIdentifier`), checked
 *    against the caller's grants, and shadowed for this statement only by a temporary view of the
 *    same name that projects the visible columns of the real table (temporary objects come first
 *    in PostgreSQL's name lookup). A hidden column does not exist in what the query can reach,
 *    also for `SELECT *`, `row_to_json(t)` and the like. A CTE may not be named like any relation.
 * 3. The statement then runs as the reader role (DATA_READER_URL, `scoped-role.ts`), which can read
 *    duckgate's tables and nothing else, so a hole in steps 1–2 still cannot write or leave
 *    duckgate's schemas; without DATA_READER_URL scoped SQL is refused. The views are the reader's
 *    own temporary objects, made from tables it may SELECT. It runs in a transaction switched to
 *    read-only (after the views are made), with `search_path` =
 *    `pg_catalog, <schema>` (built-ins win over anything named alike), through a cursor under the
 *    result budget, and the transaction is rolled back (the views vanish with it); the connection
 *    is reset before it goes back to the pool.
 */
import { ApiError, errors } from '../../errors.js';
import type { Json, QueryResult, ReadPolicy, ResultBudget } from '../engine.js';
import { visibleColumns } from '../sql-guard.js';
import { quoteIdent } from '../duckdb/names.js';
import type { PgContext } from './context.js';
import { toApiError } from './errors.js';
import { parseOne, type PgNode } from './parser.js';
import { readCursor } from './reader.js';
import { toPgParams } from './params.js';
import { resolveTable } from './tables.js';

function refuse(message: string): ApiError {
  return new ApiError(403, 'forbidden', message);
}

function unsupported(what: string): ApiError {
  return refuse(`Unsupported SQL construct in a restricted query: ${what}`);
}

/** Built-in functions a scoped query may call: they compute from their arguments and nothing else. */
export const ALLOWED_FUNCTIONS: ReadonlySet<string> = new Set([
  // aggregates
  'count', 'sum', 'avg', 'min', 'max', 'string_agg', 'array_agg', 'bool_and', 'bool_or', 'every', 'json_agg', 'jsonb_agg',
  'json_object_agg', 'jsonb_object_agg', 'stddev', 'stddev_pop', 'stddev_samp', 'variance', 'var_pop', 'var_samp',
  'percentile_cont', 'percentile_disc', 'mode', 'corr', 'covar_pop', 'covar_samp',
  // window
  'row_number', 'rank', 'dense_rank', 'percent_rank', 'cume_dist', 'ntile', 'lag', 'lead', 'first_value', 'last_value', 'nth_value',
  // math
  'abs', 'ceil', 'ceiling', 'floor', 'round', 'trunc', 'sqrt', 'cbrt', 'power', 'pow', 'mod', 'ln', 'log', 'log10', 'exp', 'sign',
  'pi', 'degrees', 'radians', 'sin', 'cos', 'tan', 'asin', 'acos', 'atan', 'atan2', 'div', 'gcd', 'lcm', 'width_bucket',
  // text
  'lower', 'upper', 'length', 'char_length', 'character_length', 'octet_length', 'bit_length', 'substr', 'substring', 'btrim',
  'ltrim', 'rtrim', 'replace', 'concat', 'concat_ws', 'left', 'right', 'position', 'strpos', 'split_part', 'starts_with',
  'reverse', 'repeat', 'lpad', 'rpad', 'initcap', 'translate', 'overlay', 'ascii', 'chr', 'md5', 'regexp_replace',
  'regexp_match', 'regexp_matches', 'regexp_split_to_array', 'regexp_like', 'regexp_count', 'string_to_array',
  'array_to_string', 'format', 'quote_literal', 'quote_ident', 'to_hex', 'encode', 'decode', 'normalize', 'like_escape',
  // date and time
  'now', 'date_trunc', 'date_part', 'extract', 'age', 'make_date', 'make_time', 'make_timestamp', 'make_timestamptz',
  'make_interval', 'to_char', 'to_date', 'to_timestamp', 'to_number', 'date_bin', 'justify_days', 'justify_hours',
  'justify_interval', 'isfinite', 'timezone', 'statement_timestamp', 'transaction_timestamp', 'clock_timestamp',
  // arrays and JSON
  'array_length', 'cardinality', 'array_position', 'array_positions', 'array_append', 'array_prepend', 'array_cat',
  'array_remove', 'array_replace', 'array_upper', 'array_lower', 'array_ndims', 'array_dims', 'unnest', 'generate_series',
  'json_build_object', 'jsonb_build_object', 'json_build_array', 'jsonb_build_array', 'to_json', 'to_jsonb', 'row_to_json',
  'array_to_json', 'json_extract_path', 'json_extract_path_text', 'jsonb_extract_path', 'jsonb_extract_path_text',
  'json_array_length', 'jsonb_array_length', 'json_typeof', 'jsonb_typeof', 'json_array_elements', 'jsonb_array_elements',
  'json_array_elements_text', 'jsonb_array_elements_text', 'json_each', 'jsonb_each', 'json_each_text', 'jsonb_each_text',
  'json_object_keys', 'jsonb_object_keys', 'jsonb_set', 'jsonb_insert', 'jsonb_strip_nulls', 'json_strip_nulls',
  'jsonb_pretty', 'jsonb_path_query', 'jsonb_path_exists', 'jsonb_path_match', 'jsonb_path_query_array', 'jsonb_path_query_first',
  // conditional and misc
  'coalesce', 'nullif', 'greatest', 'least', 'num_nonnulls', 'num_nulls', 'gen_random_uuid', 'random',
]);

/** Set-returning functions allowed in FROM. */
const TABLE_FUNCTIONS: ReadonlySet<string> = new Set([
  'generate_series', 'unnest', 'json_array_elements', 'jsonb_array_elements', 'json_array_elements_text',
  'jsonb_array_elements_text', 'json_each', 'jsonb_each', 'json_each_text', 'jsonb_each_text', 'json_object_keys',
  'jsonb_object_keys', 'regexp_matches', 'jsonb_path_query',
]);

/** Casts allowed: plain value types (never `reg*`, which look names up in the catalog). */
const ALLOWED_TYPES: ReadonlySet<string> = new Set([
  'int2', 'int4', 'int8', 'smallint', 'integer', 'int', 'bigint', 'numeric', 'decimal', 'float4', 'float8', 'real',
  'double precision', 'text', 'varchar', 'bpchar', 'char', 'bool', 'boolean', 'date', 'time', 'timetz', 'timestamp',
  'timestamptz', 'interval', 'json', 'jsonb', 'uuid', 'bytea',
]);

const SQL_VALUE_FUNCTIONS: ReadonlySet<string> = new Set([
  'SVFOP_CURRENT_DATE', 'SVFOP_CURRENT_TIME', 'SVFOP_CURRENT_TIME_N', 'SVFOP_CURRENT_TIMESTAMP', 'SVFOP_CURRENT_TIMESTAMP_N',
  'SVFOP_LOCALTIME', 'SVFOP_LOCALTIME_N', 'SVFOP_LOCALTIMESTAMP', 'SVFOP_LOCALTIMESTAMP_N',
]);

/** Node kinds walked without a check of their own (their children are all checked). */
const PLAIN_NODES: ReadonlySet<string> = new Set([
  'ResTarget', 'ColumnRef', 'String', 'Integer', 'Float', 'Boolean', 'BitString', 'A_Const', 'A_Star', 'BoolExpr',
  'NullTest', 'BooleanTest', 'SortBy', 'RangeSubselect', 'JoinExpr', 'SubLink', 'CaseExpr', 'CaseWhen', 'CoalesceExpr',
  'MinMaxExpr', 'A_Indices', 'A_Indirection', 'A_ArrayExpr', 'RowExpr', 'WindowDef', 'ParamRef', 'GroupingSet',
  'GroupingFunc', 'List', 'CollateClause', 'Alias',
]);

/** Fields that name catalog objects outside the checks below: refused wherever they appear. */
const FORBIDDEN_FIELDS: ReadonlySet<string> = new Set(['intoClause', 'lockingClause', 'relation', 'typeName', 'schemaname', 'catalogname']);

interface Limits {
  maxNodes: number;
  maxDepth: number;
  maxTableRefs: number;
}

function nameOf(list: unknown, what: string): string[] {
  if (!Array.isArray(list)) throw unsupported(what);
  return list.map((item) => {
    const sval = (item as { String?: { sval?: unknown } })?.String?.sval;
    if (typeof sval !== 'string') throw unsupported(what);
    return sval;
  });
}

/** An unqualified name, or one qualified by `pg_catalog` only. */
function builtinName(parts: string[], what: string): string {
  if (parts.length === 1) return parts[0]!;
  if (parts.length === 2 && parts[0] === 'pg_catalog') return parts[1]!;
  throw refuse(`Qualified names are not allowed in a restricted query (${what} ${parts.join('.')})`);
}

export class GuardWalker {
  /** Relation names (as PostgreSQL will look them up) the statement reads. */
  readonly relations = new Set<string>();
  /** CTE names the statement defines. */
  readonly ctes = new Set<string>();
  /** Function names and operator symbols it calls: none may also be defined in the database's schema. */
  readonly functions = new Set<string>();
  readonly operators = new Set<string>();
  private nodes = 0;
  private tableRefs = 0;

  constructor(private readonly limits: Limits) {}

  statement(kind: string, node: PgNode): void {
    if (kind !== 'SelectStmt') throw refuse('Only SELECT statements are allowed');
    this.visit({ SelectStmt: node }, 0);
  }

  private count(depth: number): void {
    if (++this.nodes > this.limits.maxNodes) throw errors.statementTooLarge(`The statement's parse tree has more than ${this.limits.maxNodes} nodes (MAX_SQL_NODES)`);
    if (depth > this.limits.maxDepth) throw errors.statementTooLarge(`The statement's parse tree nests deeper than ${this.limits.maxDepth} levels (MAX_SQL_DEPTH)`);
  }

  private tableRef(): void {
    if (++this.tableRefs > this.limits.maxTableRefs) {
      throw errors.statementTooLarge(`The statement has more than ${this.limits.maxTableRefs} table references (MAX_SQL_TABLE_REFS)`);
    }
  }

  /** Walks a field value: arrays, wrapped nodes (`{ Kind: {…} }`), plain field objects and scalars. */
  private visit(value: unknown, depth: number): void {
    if (value === null || value === undefined || typeof value !== 'object') return;
    if (Array.isArray(value)) {
      for (const item of value) this.visit(item, depth + 1);
      return;
    }
    this.count(depth);
    const keys = Object.keys(value);
    if (keys.length === 1 && /^[A-Z]/.test(keys[0]!)) {
      this.node(keys[0]!, (value as PgNode)[keys[0]!] as PgNode, depth + 1);
      return;
    }
    this.fields(value as PgNode, depth);
  }

  private fields(node: PgNode, depth: number, skip: readonly string[] = []): void {
    for (const [key, child] of Object.entries(node)) {
      if (skip.includes(key)) continue;
      if (FORBIDDEN_FIELDS.has(key) && child !== undefined && child !== null && !(Array.isArray(child) && child.length === 0)) {
        throw unsupported(key);
      }
      this.visit(child, depth + 1);
    }
  }

  private node(kind: string, node: PgNode, depth: number): void {
    if (node === null || typeof node !== 'object' || Array.isArray(node)) throw unsupported(kind);
    switch (kind) {
      case 'SelectStmt': {
        // The arms of UNION / INTERSECT / EXCEPT are SelectStmts without the wrapper: each may
        // carry a WITH of its own, so each is walked as a statement, never as plain fields.
        for (const arm of ['larg', 'rarg']) {
          if (node[arm] === undefined || node[arm] === null) continue;
          this.count(depth + 1);
          this.node('SelectStmt', node[arm] as PgNode, depth + 1);
        }
        const withClause = node.withClause as { ctes?: unknown[]; recursive?: boolean } | undefined;
        for (const cte of withClause?.ctes ?? []) {
          const entry = (cte as { CommonTableExpr?: PgNode }).CommonTableExpr;
          if (entry === undefined) throw unsupported('WITH');
          const query = entry.ctequery as PgNode | undefined;
          if (query === undefined || Object.keys(query)[0] !== 'SelectStmt') throw refuse('Only SELECT is allowed inside WITH');
          if (typeof entry.ctename !== 'string') throw unsupported('WITH');
          this.ctes.add(entry.ctename);
          this.count(depth + 1);
          this.fields(entry, depth + 1, ['ctename']);
        }
        this.fields(node, depth, ['withClause', 'larg', 'rarg']);
        return;
      }
      case 'RangeVar': {
        if (node.schemaname !== undefined || node.catalogname !== undefined) throw refuse('Qualified table names are not allowed in a restricted query');
        if (typeof node.relname !== 'string') throw unsupported('table');
        this.tableRef();
        this.relations.add(node.relname);
        this.visit(node.alias, depth + 1);
        return;
      }
      case 'RangeFunction': {
        this.tableRef();
        for (const entry of (node.functions as unknown[] | undefined) ?? []) {
          const items = (entry as { List?: { items?: unknown[] } }).List?.items ?? [];
          const call = (items[0] as { FuncCall?: PgNode } | undefined)?.FuncCall;
          if (call === undefined) throw unsupported('table function');
          const name = builtinName(nameOf(call.funcname, 'function'), 'function');
          if (!TABLE_FUNCTIONS.has(name)) throw refuse(`Table function ${name} is not allowed in a restricted query`);
          this.functions.add(name);
          if (items[1] !== undefined && Object.keys(items[1] as object).length > 0) throw unsupported('column definition list');
        }
        this.fields(node, depth);
        return;
      }
      case 'RangeSubselect':
      case 'JoinExpr':
        this.tableRef();
        this.fields(node, depth);
        return;
      case 'FuncCall': {
        const name = builtinName(nameOf(node.funcname, 'function'), 'function');
        if (!ALLOWED_FUNCTIONS.has(name)) throw refuse(`Function ${name} is not allowed in a restricted query`);
        this.functions.add(name);
        this.fields(node, depth, ['funcname']);
        return;
      }
      case 'A_Expr': {
        const operator = nameOf(node.name, 'operator');
        if (operator.length !== 1) throw refuse('Qualified operators are not allowed in a restricted query');
        this.operators.add(operator[0]!);
        this.fields(node, depth, ['name']);
        return;
      }
      case 'TypeCast': {
        const typeName = node.typeName as PgNode | undefined;
        if (typeName === undefined) throw unsupported('cast');
        const name = builtinName(nameOf(typeName.names, 'type'), 'type');
        if (!ALLOWED_TYPES.has(name)) throw refuse(`Cast to ${name} is not allowed in a restricted query`);
        this.visit(typeName.typmods, depth + 1);
        this.visit(typeName.arrayBounds, depth + 1);
        this.fields(node, depth, ['typeName']);
        return;
      }
      case 'SQLValueFunction':
        if (typeof node.op !== 'string' || !SQL_VALUE_FUNCTIONS.has(node.op)) throw refuse(`${String(node.op).replace('SVFOP_', '')} is not allowed in a restricted query`);
        return;
      case 'CollateClause':
        builtinName(nameOf(node.collname, 'collation'), 'collation');
        this.fields(node, depth, ['collname']);
        return;
      default:
        if (!PLAIN_NODES.has(kind)) throw unsupported(kind);
        this.fields(node, depth);
    }
  }
}

/** Runs a scoped caller's SELECT as the module comment describes. */
export async function guardedQuery(
  ctx: PgContext,
  sql: string,
  params: Json[] | Record<string, Json> | undefined,
  policy: ReadPolicy,
  budget: ResultBudget,
  deadline: number | undefined,
): Promise<QueryResult> {
  const readers = ctx.readers;
  if (readers === undefined) {
    throw refuse('Scoped SQL on PostgreSQL runs as a read-only role of its own, and this server has none: set DATA_READER_URL (see docs/deployment.md)');
  }
  const statement = await parseOne(sql);
  const walker = new GuardWalker({ maxNodes: ctx.limits.maxSqlNodes, maxDepth: ctx.limits.maxSqlDepth, maxTableRefs: ctx.limits.maxSqlTableRefs });
  walker.statement(statement.kind, statement.node);
  const values = toPgParams(params);
  const started = performance.now();
  try {
    return await readers.use(async (client) => {
      try {
        await client.query('BEGIN');
        await client.query(`SELECT set_config('search_path', $1, true)`, [`pg_catalog, ${quoteIdent(ctx.schema)}`]);
        // A function or operator an admin defined in this schema under a name the statement uses
        // could be chosen over the built-in (a better argument match) and read anything: refused.
        const shadowing = await client.query(
          `SELECT p.proname AS name FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
            WHERE n.nspname = $1 AND p.proname = ANY($2::text[])
           UNION ALL
           SELECT o.oprname FROM pg_catalog.pg_operator o JOIN pg_catalog.pg_namespace n ON n.oid = o.oprnamespace
            WHERE n.nspname = $1 AND o.oprname = ANY($3::text[]) LIMIT 1`,
          [ctx.schema, [...walker.functions], [...walker.operators]],
        );
        if (shadowing.rows.length > 0) throw refuse(`${(shadowing.rows[0] as { name: string }).name} is defined in this database, so a restricted query may not use it`);
        for (const cte of walker.ctes) {
          const found = await client.query('SELECT pg_catalog.to_regclass($1) AS r', [quoteIdent(cte)]);
          if ((found.rows[0] as { r: string | null }).r !== null) throw refuse(`A WITH query may not be named like a table (${cte})`);
        }
        for (const relation of walker.relations) {
          if (walker.ctes.has(relation)) continue;
          const table = await resolveTable(ctx, relation, client);
          if (table === undefined) throw errors.noPermission('read', relation);
          const view = policy.view(table);
          if (view === null) throw errors.noPermission('read', table);
          const all = await client.query(
            `SELECT a.attname FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
               JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
              WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
            [ctx.schema, table],
          );
          const columns = visibleColumns((all.rows as { attname: string }[]).map((row) => row.attname), view);
          await client.query(`CREATE TEMPORARY VIEW ${quoteIdent(relation)} AS SELECT ${columns.map(quoteIdent).join(', ')} FROM ${quoteIdent(ctx.schema)}.${quoteIdent(table)}`);
        }
        // From here on nothing may be written, whatever the statement calls.
        await client.query('SET LOCAL transaction_read_only = on');
        const { rows, truncatedBy, columns } = await readCursor(client, sql, values, { ...budget, deadline }, false);
        return {
          result: rows,
          columns,
          rowCount: rows.length,
          elapsedMs: Math.round((performance.now() - started) * 1000) / 1000,
          truncated: truncatedBy !== undefined,
          ...(truncatedBy === undefined ? {} : { truncatedBy }),
        };
      } finally {
        await client.query('ROLLBACK').catch(() => undefined);
        await client.query('DISCARD ALL').catch(() => undefined);
      }
    }, deadline);
  } catch (error) {
    throw toApiError(error);
  }
}
