import { errors } from '../../errors.js';
import type { Json } from '../engine.js';
import type { CatalogVersion } from './catalog-version.js';
import type { PooledConnection, SqlParam } from './connections.js';
import { foldIdentifier } from '../identifiers.js';
import { quoteIdent } from './names.js';

/** How a column accepts JSON values. `other` covers types created through raw SQL (DATE, INTEGER…). */
export type ColumnKind = 'boolean' | 'number' | 'string' | 'json' | 'other';

export interface Column {
  name: string;
  type: string;
  kind: ColumnKind;
}

export interface TableSchema {
  name: string;
  /** Keyed by folded name (`foldIdentifier`): DuckDB identifiers are ASCII-case-insensitive, and so are our fields. */
  columns: Map<string, Column>;
}

const NUMERIC = /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT|FLOAT|DOUBLE|DECIMAL.*)$/;

export function kindOfType(type: string): ColumnKind {
  if (type === 'BOOLEAN') return 'boolean';
  if (type === 'VARCHAR') return 'string';
  if (type === 'JSON') return 'json';
  if (NUMERIC.test(type)) return 'number';
  return 'other';
}

/**
 * The column a new field gets. A field first seen as `null` becomes JSON: it is the one type that
 * accepts whatever the field later holds, where VARCHAR would reject every later number or flag.
 */
export function kindOfValue(value: Json): Exclude<ColumnKind, 'other'> {
  if (value === null) return 'json';
  switch (typeof value) {
    case 'boolean':
      return 'boolean';
    case 'number':
      return 'number';
    case 'string':
      return 'string';
    default:
      return 'json';
  }
}

export const SQL_TYPE: Record<Exclude<ColumnKind, 'other'>, string> = {
  boolean: 'BOOLEAN',
  number: 'DOUBLE',
  string: 'VARCHAR',
  json: 'JSON',
};

const EXPECTS: Record<Exclude<ColumnKind, 'json'>, string> = {
  boolean: 'boolean',
  number: 'number',
  string: 'string',
  other: 'a string, number or boolean',
};

/** Null fits every column; JSON columns take anything; the rest want their own JSON type. */
export function fits(kind: ColumnKind, value: Json): boolean {
  if (value === null || kind === 'json') return true;
  if (kind === 'other') return typeof value !== 'object';
  return kindOfValue(value) === kind;
}

export function expectation(kind: ColumnKind): string {
  return kind === 'json' ? 'any JSON value' : EXPECTS[kind];
}

/** The parameter that stores `value` in a column of `kind`. */
export function toParam(kind: ColumnKind, value: Json): SqlParam {
  if (value === null) return null;
  if (kind === 'json' || typeof value === 'object') return JSON.stringify(value);
  return value;
}

/**
 * Schemas of every base table in `main`, loaded in one query and kept until the catalog changes.
 * A load that raced with DDL is used once but never stored, so the cache cannot go stale.
 */
export class SchemaCache {
  private tables: Map<string, TableSchema> | undefined;
  private loadedAt = -1;

  constructor(private readonly version: CatalogVersion) {}

  async all(connection: PooledConnection): Promise<Map<string, TableSchema>> {
    if (this.tables !== undefined && this.loadedAt === this.version.any) return this.tables;
    const startedAt = this.version.any;
    const result = await connection.raw.runAndReadAll(
      `SELECT c.table_name, c.column_name, c.data_type
         FROM duckdb_columns() c JOIN duckdb_tables() t USING (database_name, schema_name, table_name)
        WHERE c.database_name = current_database() AND c.schema_name = 'main'
        ORDER BY c.table_name, c.column_index`,
    );
    const tables = new Map<string, TableSchema>();
    for (const [tableName, columnName, dataType] of result.getRows() as [string, string, string][]) {
      const key = foldIdentifier(tableName);
      let table = tables.get(key);
      if (table === undefined) {
        table = { name: tableName, columns: new Map() };
        tables.set(key, table);
      }
      table.columns.set(foldIdentifier(columnName), { name: columnName, type: dataType, kind: kindOfType(dataType) });
    }
    if (this.version.any === startedAt) {
      this.tables = tables;
      this.loadedAt = startedAt;
    }
    return tables;
  }

  /**
   * What the cache holds for `collection` without touching DuckDB: `fresh` when no DDL ran since it
   * was loaded. Undefined when nothing was ever loaded.
   */
  cached(collection: string): { table: TableSchema | undefined; fresh: boolean } | undefined {
    if (this.tables === undefined) return undefined;
    return { table: this.tables.get(foldIdentifier(collection)), fresh: this.loadedAt === this.version.any };
  }

  async find(connection: PooledConnection, collection: string): Promise<TableSchema | undefined> {
    return (await this.all(connection)).get(foldIdentifier(collection));
  }

  async require(connection: PooledConnection, collection: string): Promise<TableSchema> {
    const table = await this.find(connection, collection);
    if (table === undefined) throw errors.notFound(`Collection '${collection}' not found`);
    return table;
  }
}

export function createTableSql(table: string, columns: readonly { name: string; kind: Exclude<ColumnKind, 'other'> }[]): string {
  const defs = columns.map((c) => `${quoteIdent(c.name)} ${SQL_TYPE[c.kind]}`);
  return `CREATE TABLE ${quoteIdent(table)} ("id" VARCHAR PRIMARY KEY${defs.length > 0 ? ', ' : ''}${defs.join(', ')})`;
}

export function addColumnSql(table: string, column: { name: string; kind: Exclude<ColumnKind, 'other'> }): string {
  return `ALTER TABLE ${quoteIdent(table)} ADD COLUMN ${quoteIdent(column.name)} ${SQL_TYPE[column.kind]}`;
}

/**
 * The DDL that makes `table` hold `add`: one CREATE, or the ALTERs (DuckDB takes one ADD COLUMN
 * per statement) as one multi-statement text, run in a single call.
 */
export function growSql(table: string, create: boolean, add: readonly { name: string; kind: Exclude<ColumnKind, 'other'> }[]): string {
  return create ? createTableSql(table, add) : add.map((column) => addColumnSql(table, column)).join(';\n');
}
