/**
 * The PostgreSQL dump format (`postgres-dump` backups): gzip NDJSON, one JSON value per line.
 *
 *   {"format":"duckgate-postgres-dump","version":1,…,"tables":[…],"views":[…]}   the header
 *   {"table":"orders"}                                                          a table's rows begin
 *   ["1","eu","12.50",null]                                                     one row per line
 *   {"end":"orders","rows":2,"sha256":"…"}                                      a table's rows end
 *   {"done":2}                                                                  the file ends
 *
 * A row holds every stored (not generated) column in header order, as PostgreSQL's own text
 * output (null for NULL), read and written under the same session settings (`SESSION_SETTINGS`), so
 * every built-in type loads back exactly (numeric digits, json text, bigints, bytea, timestamps).
 * A table's `sha256` covers its row lines, each with its newline; the manifest repeats it, so a
 * restore checks the file against itself and against the manifest. The last line proves the file
 * was not cut short.
 */
import { createHash, type Hash } from 'node:crypto';

export const DUMP_FORMAT = 'duckgate-postgres-dump';
export const DUMP_VERSION = 1;

/**
 * Set for the dump's and the load's transactions: the text forms of dates, intervals, floats and
 * bytea depend on them. `extra_float_digits = 1` is PostgreSQL 12+'s shortest exact float text.
 */
export const SESSION_SETTINGS: Readonly<Record<string, string>> = {
  DateStyle: 'ISO, YMD',
  IntervalStyle: 'postgres',
  TimeZone: 'UTC',
  extra_float_digits: '1',
  bytea_output: 'hex',
};

export interface DumpColumn {
  name: string;
  /** `format_type()` of the column's type: built-in types only (a dump refuses others). */
  type: string;
  /** A collation other than the type's default (`C` for duckgate's text columns). */
  collation: string | null;
  notNull: boolean;
  /** The default expression, as `pg_get_expr` prints it with the search path on the schema. */
  default: string | null;
  /** `a` (ALWAYS) or `d` (BY DEFAULT) for identity columns. */
  identity: 'a' | 'd' | null;
  /** The expression of a stored generated column (its values are not in the rows). */
  generated: string | null;
}

export interface DumpTable {
  name: string;
  columns: DumpColumn[];
  /** Constraints (primary keys, unique, check, foreign keys): added after the rows, in this order. */
  constraints: { name: string; definition: string }[];
  /** Indexes that no constraint made, as `CREATE INDEX` statements without a schema (the load's search path puts them in place). */
  indexes: string[];
}

export interface DumpHeader {
  format: typeof DUMP_FORMAT;
  version: number;
  database: string;
  /** `server_version` of the PostgreSQL it was read from. */
  postgresVersion: string;
  tables: DumpTable[];
  /** Views in creation order (`pg_get_viewdef`, unqualified). */
  views: { name: string; definition: string }[];
}

export type DumpLine =
  | { table: string }
  | { end: string; rows: number; sha256: string }
  | { done: number };

/** The columns a row line carries: generated ones are computed by the table again. */
export function storedColumns(table: DumpTable): DumpColumn[] {
  return table.columns.filter((c) => c.generated === null);
}

/** Counts and hashes one table's row lines, the same way on the way out and on the way back. */
export class TableDigest {
  rows = 0;
  private readonly hash: Hash = createHash('sha256');

  add(line: string): void {
    this.rows++;
    this.hash.update(line);
    this.hash.update('\n');
  }

  hex(): string {
    return this.hash.digest('hex');
  }
}

/** The header, checked for the fields a load relies on; throws with the reason otherwise. */
export function parseHeader(line: string | undefined): DumpHeader {
  if (line === undefined) throw new Error('the file is empty');
  const header = JSON.parse(line) as Partial<DumpHeader>;
  if (header.format !== DUMP_FORMAT) throw new Error(`not a ${DUMP_FORMAT} file`);
  if (header.version !== DUMP_VERSION) throw new Error(`format version ${String(header.version)}; this duckgate reads version ${DUMP_VERSION}`);
  if (!Array.isArray(header.tables) || !Array.isArray(header.views)) throw new Error('the header lists no tables');
  return header as DumpHeader;
}
