/**
 * What the PostgreSQL catalog says about one duckgate database (one PostgreSQL schema): its tables,
 * their columns and how each column takes JSON values. Other replicas change the catalog too, so
 * the cache is a hint with a short life, never the authority: a miss reloads before anyone is told
 * "not found", every write that grows a table re-reads its columns under the table's lock, and a
 * statement failing because the catalog moved (42P01, 42703) is retried once on a fresh load.
 */
import { errors } from '../../errors.js';
import { foldIdentifier } from '../identifiers.js';
import type { ColumnKind, TableSchema } from '../duckdb/schema.js';
import { quoteIdent } from '../duckdb/names.js';
import type { Client } from './session.js';

export type { ColumnKind, TableSchema, Column } from '../duckdb/schema.js';

/** How long a loaded catalog is trusted before the next use reloads it. */
const CACHE_MS = 1000;

/** PostgreSQL's `format_type` → how the column takes JSON (the same rules as DuckDB's kinds). */
export function kindOfPgType(type: string): ColumnKind {
  if (type === 'boolean') return 'boolean';
  if (type === 'text' || type.startsWith('character varying')) return 'string';
  if (type === 'json' || type === 'jsonb') return 'json';
  if (/^(smallint|integer|bigint|real|double precision|numeric.*)$/.test(type)) return 'number';
  return 'other';
}

/** The column types duckgate creates: `text` is byte-ordered (`COLLATE "C"`), as DuckDB's VARCHAR. */
export const PG_TYPE: Record<Exclude<ColumnKind, 'other'>, string> = {
  boolean: 'boolean',
  number: 'double precision',
  string: 'text COLLATE "C"',
  json: 'json',
};

/**
 * Column types as the table routes report them, in the vocabulary DuckDB uses, so a collection's
 * schema reads the same on both engines (`VARCHAR`, `DOUBLE`, `BOOLEAN`, `JSON`); other types
 * keep PostgreSQL's name, upper-cased.
 */
export function displayType(type: string): string {
  const simple: Record<string, string> = {
    boolean: 'BOOLEAN',
    text: 'VARCHAR',
    'double precision': 'DOUBLE',
    real: 'FLOAT',
    smallint: 'SMALLINT',
    integer: 'INTEGER',
    bigint: 'BIGINT',
    json: 'JSON',
    jsonb: 'JSONB',
    date: 'DATE',
    'timestamp without time zone': 'TIMESTAMP',
    'timestamp with time zone': 'TIMESTAMP WITH TIME ZONE',
    'time without time zone': 'TIME',
    'time with time zone': 'TIME WITH TIME ZONE',
    uuid: 'UUID',
    bytea: 'BLOB',
    interval: 'INTERVAL',
  };
  if (simple[type] !== undefined) return simple[type];
  if (type.startsWith('character varying')) return 'VARCHAR';
  const numeric = /^numeric\((\d+),(\d+)\)$/.exec(type);
  if (numeric) return `DECIMAL(${numeric[1]},${numeric[2]})`;
  return type.toUpperCase();
}

/** `"schema"."table"`: every statement duckgate generates names its schema, never the search_path. */
export function qualified(schema: string, table: string): string {
  return `${quoteIdent(schema)}.${quoteIdent(table)}`;
}

const CATALOG_SQL = `
  SELECT c.relname AS table_name, a.attname AS column_name, format_type(a.atttypid, a.atttypmod) AS data_type
    FROM pg_catalog.pg_class c
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid
   WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
     AND ($2::text IS NULL OR lower(c.relname) = lower($2::text))
   ORDER BY c.relname, a.attnum`;

function toTables(rows: { table_name: string; column_name: string; data_type: string }[]): Map<string, TableSchema> {
  const tables = new Map<string, TableSchema>();
  for (const row of rows) {
    const key = foldIdentifier(row.table_name);
    let table = tables.get(key);
    // Two tables whose names differ only in ASCII case (made through SQL): the first in byte
    // order answers, as for DuckDB's binder (which allows one only).
    if (table !== undefined && table.name !== row.table_name) continue;
    if (table === undefined) {
      table = { name: row.table_name, columns: new Map() };
      tables.set(key, table);
    }
    table.columns.set(foldIdentifier(row.column_name), { name: row.column_name, type: row.data_type, kind: kindOfPgType(row.data_type) });
  }
  return tables;
}

/**
 * One table's columns read straight from the catalog (inside a write's transaction, after its
 * lock: what it sees includes its own uncommitted DDL and every committed one).
 */
export async function loadTable(client: Client, schema: string, collection: string): Promise<TableSchema | undefined> {
  // `lower()` only narrows the candidates (names equal under the ASCII fold are equal under it
  // too); the ASCII fold decides.
  const folded = foldIdentifier(collection);
  const result = await client.query(CATALOG_SQL, [schema, collection]);
  const tables = toTables(result.rows.filter((row: { table_name: string }) => foldIdentifier(row.table_name) === folded));
  return tables.get(folded);
}

export class PgSchemaCache {
  private tables: Map<string, TableSchema> | undefined;
  private loadedAt = 0;
  /** Bumped by local DDL, so a load that raced with it is not kept. */
  private version = 0;

  constructor(private readonly schema: string) {}

  invalidate(): void {
    this.version++;
    this.tables = undefined;
  }

  async all(client: Client, fresh = false): Promise<Map<string, TableSchema>> {
    if (!fresh && this.tables !== undefined && performance.now() - this.loadedAt < CACHE_MS) return this.tables;
    const started = this.version;
    const result = await client.query(CATALOG_SQL, [this.schema, null]);
    const tables = toTables(result.rows);
    if (this.version === started) {
      this.tables = tables;
      this.loadedAt = performance.now();
    }
    return tables;
  }

  /** What the cache holds without asking PostgreSQL (undefined: nothing loaded). */
  cached(collection: string): TableSchema | undefined {
    return this.tables?.get(foldIdentifier(collection));
  }

  /** The table, reloading once on a miss: another replica may have just created it. */
  async find(client: Client, collection: string): Promise<TableSchema | undefined> {
    const key = foldIdentifier(collection);
    const hit = (await this.all(client)).get(key);
    if (hit !== undefined) return hit;
    return (await this.all(client, true)).get(key);
  }

  async require(client: Client, collection: string): Promise<TableSchema> {
    const table = await this.find(client, collection);
    if (table === undefined) throw errors.notFound(`Collection '${collection}' not found`);
    return table;
  }
}

export function createTableSql(schema: string, table: string, columns: readonly { name: string; kind: Exclude<ColumnKind, 'other'> }[]): string {
  const defs = columns.map((c) => `${quoteIdent(c.name)} ${PG_TYPE[c.kind]}`);
  return `CREATE TABLE ${qualified(schema, table)} ("id" text COLLATE "C" PRIMARY KEY${defs.length > 0 ? ', ' : ''}${defs.join(', ')})`;
}

/** One statement for a table's new columns (PostgreSQL takes several ADD COLUMNs at once). */
export function growSql(schema: string, table: string, create: boolean, add: readonly { name: string; kind: Exclude<ColumnKind, 'other'> }[]): string {
  if (create) return createTableSql(schema, table, add);
  return `ALTER TABLE ${qualified(schema, table)} ${add.map((c) => `ADD COLUMN ${quoteIdent(c.name)} ${PG_TYPE[c.kind]}`).join(', ')}`;
}
