import { errors } from '../../errors.js';
import type { CallOptions, ColumnInfo, FieldView, ReadOptions, Rows } from '../engine.js';
import { visibleColumns } from '../sql-guard.js';
import type { DatabaseContext } from './context.js';
import type { PooledConnection } from './connections.js';
import { foldIdentifier } from '../identifiers.js';
import { assertIdentifier, quoteIdent } from './names.js';
import { asRows, readBudgeted } from './result-reader.js';
import { readRows, resultColumns } from './values.js';

/**
 * Names of every table and view in `main`, keyed by folded name, kept until the catalog changes
 * (as `SchemaCache` is). Resolving a name is then a map lookup: the auth path resolves every
 * collection name it checks, so this must not cost a connection per request.
 */
class CatalogNames {
  private names: Map<string, string[]> | undefined;
  private loadedAt = -1;

  /** The names, when the ones loaded are still current. */
  current(ctx: DatabaseContext): Map<string, string[]> | undefined {
    return this.names !== undefined && this.loadedAt === ctx.version.any ? this.names : undefined;
  }

  async get(ctx: DatabaseContext, connection?: PooledConnection, deadline?: number): Promise<Map<string, string[]>> {
    const current = this.current(ctx);
    if (current !== undefined) return current;
    const startedAt = ctx.version.any;
    const load = async (on: PooledConnection) => (await (await on.run(
      `SELECT table_name FROM information_schema.tables
        WHERE table_catalog = current_database() AND table_schema = 'main' ORDER BY table_name`,
      [],
    )).getRows()) as [string][];
    const rows = connection === undefined ? await ctx.readers.use(load, deadline) : await load(connection);
    const names = new Map<string, string[]>();
    for (const [name] of rows) {
      const key = foldIdentifier(name);
      names.set(key, [...(names.get(key) ?? []), name]);
    }
    // A load that raced with DDL is used once but never stored.
    if (ctx.version.any === startedAt) {
      this.names = names;
      this.loadedAt = startedAt;
    }
    return names;
  }
}

const catalogNames = new WeakMap<DatabaseContext, CatalogNames>();

/**
 * The catalog's spelling of the table or view `name` addresses, by DuckDB's own rule: the exact
 * name, else the one equal to it ignoring ASCII case (DuckDB allows only one such). Undefined when
 * there is none. The Duckling table routes see every table and view in `main`, including ones
 * created through raw SQL whose names need not be identifiers; a name is only used in SQL after it
 * matched the catalog, and is quoted even then.
 */
export function resolveTable(ctx: DatabaseContext, name: string, connection?: PooledConnection, deadline?: number): string | undefined | Promise<string | undefined> {
  if (typeof name !== 'string' || name.length === 0) return undefined;
  let cache = catalogNames.get(ctx);
  if (cache === undefined) {
    cache = new CatalogNames();
    catalogNames.set(ctx, cache);
  }
  // Answered at once while the catalogue loaded is current: the auth path resolves every
  // collection name it checks, and a promise per request is a share of a cached read (issue 17).
  const current = cache.current(ctx);
  if (current !== undefined) return pick(current, name);
  return cache.get(ctx, connection, deadline).then((names) => pick(names, name));
}

function pick(names: Map<string, string[]>, name: string): string | undefined {
  const candidates = names.get(foldIdentifier(name));
  return candidates?.find((candidate) => candidate === name) ?? candidates?.[0];
}

async function requireTable(ctx: DatabaseContext, connection: PooledConnection, table: string): Promise<string> {
  const name = await resolveTable(ctx, table, connection);
  if (name === undefined) throw errors.notFound(`Table '${String(table)}' not found`);
  return name;
}

export async function listCollections(ctx: DatabaseContext, options: CallOptions = {}): Promise<string[]> {
  return ctx.readers.use(async (connection) => [...(await ctx.schemas.all(connection)).values()].map((t) => t.name).sort(), options.deadline);
}

export async function hasCollection(ctx: DatabaseContext, collection: string, options: CallOptions = {}): Promise<boolean> {
  assertIdentifier(collection, 'collection');
  return ctx.readers.use(async (connection) => (await ctx.schemas.find(connection, collection)) !== undefined, options.deadline);
}

export async function dropCollection(ctx: DatabaseContext, collection: string, options: CallOptions = {}): Promise<void> {
  assertIdentifier(collection, 'collection');
  await ctx.writer.use(async (connection) => {
    const table = await ctx.schemas.require(connection, collection);
    try {
      await connection.exec(`DROP TABLE ${quoteIdent(table.name)}`);
    } finally {
      ctx.version.changed(table.name);
    }
  }, options.deadline);
}

export async function countAll(ctx: DatabaseContext, options: CallOptions = {}): Promise<Record<string, number>> {
  return ctx.readers.use(async (connection) => {
    const counts: Record<string, number> = {};
    for (const table of [...(await ctx.schemas.all(connection)).values()].sort((a, b) => a.name.localeCompare(b.name))) {
      counts[table.name] = await countOn(connection, table.name);
    }
    return counts;
  }, options.deadline);
}

async function countOn(connection: PooledConnection, table: string): Promise<number> {
  const result = await connection.run(`SELECT count(*) FROM ${quoteIdent(table)}`, [], table);
  return Number(result.getChunk(0).getColumnVector(0).getItem(0));
}

export async function count(ctx: DatabaseContext, table: string, options: CallOptions = {}): Promise<number> {
  return ctx.readers.use(async (connection) => countOn(connection, await requireTable(ctx, connection, table)), options.deadline);
}

export async function schema(ctx: DatabaseContext, table: string, options: CallOptions = {}): Promise<ColumnInfo[]> {
  return ctx.readers.use(async (connection) => {
    connection.checkDeadline();
    const name = await requireTable(ctx, connection, table);
    const result = await connection.raw.run(`DESCRIBE main.${quoteIdent(name)}`);
    return readRows(result, resultColumns(result), false).map((row) => ({
      column_name: String(row.column_name),
      column_type: String(row.column_type),
      null: row.null === 'NO' ? 'NO' : 'YES',
      key: typeof row.key === 'string' ? row.key : null,
      default_value: typeof row.default === 'string' ? row.default : null,
    }));
  }, options.deadline);
}

/** Column names of a table or view in `main`, in table order. */
async function columnNames(connection: PooledConnection, table: string): Promise<string[]> {
  const result = await connection.run(
    `SELECT column_name FROM duckdb_columns()
      WHERE database_name = current_database() AND schema_name = 'main' AND table_name = $1
      ORDER BY column_index`,
    [table],
  );
  return ((await result.getRows()) as [string][]).map((row) => row[0]);
}

/**
 * A page of rows in a stable order, streamed under the result budget. With `view`, only the
 * columns it lets through are selected (`id` always; names case-insensitive; unknown names
 * ignored), so hidden values never leave DuckDB. Order: by `id` when the table has one, else by
 * every selected column (`ORDER BY ALL`): a table made through raw SQL may have no key at all,
 * and ordering by what the caller sees keeps hidden values from deciding the order. Rows equal in
 * every selected column are interchangeable, so the pages stay consistent.
 */
export async function rows(ctx: DatabaseContext, table: string, limit: number, offset: number, view?: FieldView, options: ReadOptions = {}): Promise<Rows> {
  if (!Number.isSafeInteger(limit) || limit < 0) throw errors.badRequest('invalid_query', 'limit must be a non-negative integer');
  if (!Number.isSafeInteger(offset) || offset < 0) throw errors.badRequest('invalid_query', 'offset must be a non-negative integer');
  if (view !== undefined && view !== null) {
    if ((view.select_fields !== undefined && !Array.isArray(view.select_fields)) || (view.exclude_fields !== undefined && !Array.isArray(view.exclude_fields))) {
      throw errors.badRequest('invalid_query', 'select_fields and exclude_fields must be arrays of field names');
    }
  }
  const budget = options.budget ?? ctx.limits.result;
  const maxRows = Math.min(limit, budget.maxRows);
  const page = [BigInt(limit > budget.maxRows ? budget.maxRows + 1 : limit), BigInt(offset)];
  return ctx.readers.use(async (connection) => {
    const name = await requireTable(ctx, connection, table);
    const all = await columnNames(connection, name);
    const columns = view === undefined || view === null ? all : visibleColumns(all, view);
    if (columns.length === 0) {
      // Nothing visible (no `id` either): one empty object per row keeps paging meaningful.
      const found = await connection.rows(`SELECT NULL AS "_" FROM ${quoteIdent(name)} LIMIT $1 OFFSET $2`, page, name, false);
      return asRows({ rows: found.slice(0, maxRows).map(() => ({})), ...(found.length > maxRows ? { truncatedBy: 'rows' as const } : {}) });
    }
    const id = columns.find((column) => foldIdentifier(column) === 'id');
    const order = id !== undefined ? quoteIdent(id) : 'ALL';
    const select = view === undefined || view === null ? '*' : columns.map(quoteIdent).join(', ');
    const sql = `SELECT ${select} FROM ${quoteIdent(name)} ORDER BY ${order} LIMIT $1 OFFSET $2`;
    const { result, columns: resultColumnsOf } = await connection.stream(sql, page, name);
    return asRows(await readBudgeted(result, resultColumnsOf, { maxRows, maxBytes: budget.maxBytes, deadline: options.deadline }, false));
  }, options.deadline);
}
