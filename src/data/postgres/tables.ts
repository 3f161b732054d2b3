/**
 * The table routes on PostgreSQL (`duckdb/tables.ts`): every table and view in the database's
 * schema, names resolved by the ASCII fold (`identifiers.ts`) before anything is checked or read.
 */
import { errors } from '../../errors.js';
import type { CallOptions, ColumnInfo, FieldView, ReadOptions, Rows } from '../engine.js';
import { foldIdentifier } from '../identifiers.js';
import { visibleColumns } from '../sql-guard.js';
import { asRows } from '../duckdb/result-reader.js';
import { assertIdentifier, quoteIdent } from '../duckdb/names.js';
import type { PgContext } from './context.js';
import { readCursor } from './reader.js';
import { displayType, qualified } from './schema.js';
import type { Client } from './session.js';

const NAMES_MS = 1000;

interface NameCache {
  names: Map<string, string[]>;
  at: number;
}

const nameCaches = new WeakMap<PgContext, NameCache>();

async function loadNames(ctx: PgContext, client: Client): Promise<Map<string, string[]>> {
  const result = await client.query(
    `SELECT c.relname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'v', 'm', 'f') ORDER BY c.relname COLLATE "C"`,
    [ctx.schema],
  );
  const names = new Map<string, string[]>();
  for (const { relname } of result.rows as { relname: string }[]) {
    const key = foldIdentifier(relname);
    names.set(key, [...(names.get(key) ?? []), relname]);
  }
  nameCaches.set(ctx, { names, at: performance.now() });
  return names;
}

/**
 * The catalog's spelling of the table `name` addresses: exact, else equal under the ASCII fold.
 * A short-lived cache answers the auth path; a miss reloads (another replica may have just made it).
 */
export async function resolveTable(ctx: PgContext, name: string, client?: Client, deadline?: number): Promise<string | undefined> {
  if (typeof name !== 'string' || name.length === 0) return undefined;
  const pick = (names: Map<string, string[]>): string | undefined => {
    const candidates = names.get(foldIdentifier(name));
    return candidates?.find((c) => c === name) ?? candidates?.[0];
  };
  const cached = nameCaches.get(ctx);
  if (cached !== undefined && performance.now() - cached.at < NAMES_MS) {
    const hit = pick(cached.names);
    if (hit !== undefined) return hit;
  }
  const load = (c: Client) => loadNames(ctx, c);
  return pick(client === undefined ? await ctx.sessions.use(load, deadline) : await load(client));
}

async function requireTable(ctx: PgContext, client: Client, table: string): Promise<string> {
  const name = await resolveTable(ctx, table, client);
  if (name === undefined) throw errors.notFound(`Table '${String(table)}' not found`);
  return name;
}

export async function listCollections(ctx: PgContext, options: CallOptions = {}): Promise<string[]> {
  return ctx.sessions.use(async (client) => [...(await ctx.schemas.all(client, true)).values()].map((t) => t.name).sort(), options.deadline);
}

export async function hasCollection(ctx: PgContext, collection: string, options: CallOptions = {}): Promise<boolean> {
  assertIdentifier(collection, 'collection');
  return ctx.sessions.use(async (client) => (await ctx.schemas.find(client, collection)) !== undefined, options.deadline);
}

export async function dropCollection(ctx: PgContext, collection: string, options: CallOptions = {}): Promise<void> {
  assertIdentifier(collection, 'collection');
  await ctx.sessions.use(async (client) => {
    const table = await ctx.schemas.require(client, collection);
    try {
      await client.query(`DROP TABLE ${qualified(ctx.schema, table.name)}`);
    } catch (error) {
      if ((error as { code?: string }).code === '42P01') throw errors.notFound(`Collection '${collection}' not found`);
      throw error;
    } finally {
      ctx.schemas.invalidate();
      nameCaches.delete(ctx);
    }
  }, options.deadline);
}

async function countOn(ctx: PgContext, client: Client, table: string): Promise<number> {
  const result = await client.query(`SELECT count(*) AS n FROM ${qualified(ctx.schema, table)}`);
  return Number((result.rows[0] as { n: number | string }).n);
}

export async function countAll(ctx: PgContext, options: CallOptions = {}): Promise<Record<string, number>> {
  return ctx.sessions.use(async (client) => {
    const counts: Record<string, number> = {};
    for (const table of [...(await ctx.schemas.all(client, true)).values()].sort((a, b) => a.name.localeCompare(b.name))) {
      counts[table.name] = await countOn(ctx, client, table.name);
    }
    return counts;
  }, options.deadline);
}

export async function count(ctx: PgContext, table: string, options: CallOptions = {}): Promise<number> {
  return ctx.sessions.use(async (client) => countOn(ctx, client, await requireTable(ctx, client, table)), options.deadline);
}

export async function schema(ctx: PgContext, table: string, options: CallOptions = {}): Promise<ColumnInfo[]> {
  return ctx.sessions.use(async (client) => {
    const name = await requireTable(ctx, client, table);
    const result = await client.query(
      `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS notnull,
              EXISTS (SELECT 1 FROM pg_catalog.pg_index i WHERE i.indrelid = c.oid AND i.indisprimary AND a.attnum = ANY(i.indkey)) AS pk,
              EXISTS (SELECT 1 FROM pg_catalog.pg_index i WHERE i.indrelid = c.oid AND i.indisunique AND NOT i.indisprimary AND i.indnatts = 1 AND a.attnum = ANY(i.indkey)) AS uni,
              pg_get_expr(d.adbin, d.adrelid) AS dflt
         FROM pg_catalog.pg_class c
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
         JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid
         LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
        WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped
        ORDER BY a.attnum`,
      [ctx.schema, name],
    );
    return (result.rows as { name: string; type: string; notnull: boolean; pk: boolean; uni: boolean; dflt: string | null }[]).map((row) => ({
      column_name: row.name,
      column_type: displayType(row.type),
      null: row.notnull ? 'NO' : 'YES',
      key: row.pk ? 'PRI' : row.uni ? 'UNI' : null,
      default_value: row.dflt,
    }));
  }, options.deadline);
}

async function columnNames(ctx: PgContext, client: Client, table: string): Promise<string[]> {
  const result = await client.query(
    `SELECT a.attname FROM pg_catalog.pg_attribute a
       JOIN pg_catalog.pg_class c ON c.oid = a.attrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
    [ctx.schema, table],
  );
  return (result.rows as { attname: string }[]).map((row) => row.attname);
}

/**
 * A page of rows in a stable order under the result budget; with `view`, only the columns it lets
 * through are selected. Order: by `id` when visible, else by every selected column as text
 * (byte-wise), so hidden values never decide the order and any column type can take part.
 */
export async function rows(ctx: PgContext, table: string, limit: number, offset: number, view?: FieldView, options: ReadOptions = {}): Promise<Rows> {
  if (!Number.isSafeInteger(limit) || limit < 0) throw errors.badRequest('invalid_query', 'limit must be a non-negative integer');
  if (!Number.isSafeInteger(offset) || offset < 0) throw errors.badRequest('invalid_query', 'offset must be a non-negative integer');
  if (view !== undefined && view !== null) {
    if ((view.select_fields !== undefined && !Array.isArray(view.select_fields)) || (view.exclude_fields !== undefined && !Array.isArray(view.exclude_fields))) {
      throw errors.badRequest('invalid_query', 'select_fields and exclude_fields must be arrays of field names');
    }
  }
  const budget = options.budget ?? ctx.limits.result;
  const maxRows = Math.min(limit, budget.maxRows);
  const page = [limit > budget.maxRows ? budget.maxRows + 1 : limit, offset];
  return ctx.sessions.use(async (client) => {
    const name = await requireTable(ctx, client, table);
    const all = await columnNames(ctx, client, name);
    const columns = view === undefined || view === null ? all : visibleColumns(all, view);
    if (columns.length === 0) {
      const found = (await client.query(`SELECT NULL AS "_" FROM ${qualified(ctx.schema, name)} LIMIT $1 OFFSET $2`, page)).rows;
      return asRows({ rows: found.slice(0, maxRows).map(() => ({})), ...(found.length > maxRows ? { truncatedBy: 'rows' as const } : {}) });
    }
    const id = columns.find((column) => foldIdentifier(column) === 'id');
    const order = id !== undefined ? quoteIdent(id) : columns.map((c) => `(${quoteIdent(c)})::text COLLATE "C" NULLS LAST`).join(', ');
    const select = view === undefined || view === null ? '*' : columns.map(quoteIdent).join(', ');
    const sql = `SELECT ${select} FROM ${qualified(ctx.schema, name)} ORDER BY ${order} LIMIT $1 OFFSET $2`;
    return asRows(await readCursor(client, sql, page, { maxRows, maxBytes: budget.maxBytes, deadline: options.deadline }, false));
  }, options.deadline);
}
