/**
 * MySQL/MariaDB column types as DuckDB types (README "Source sync"). Values travel as text (or
 * bytes) and DuckDB's appender casts them into the column's type, so the mapping is the one place
 * that decides what a value becomes. Columns are nullable in DuckDB (primary key columns aside):
 * a MySQL zero date (`0000-00-00`, or a zero month or day) has no DuckDB equivalent and arrives as NULL.
 */

/** How a value is carried and compared (validation checksums canonicalise by kind). */
export type ValueKind = 'text' | 'integer' | 'decimal' | 'double' | 'float' | 'date' | 'timestamp' | 'json' | 'blob';

export interface SourceColumn {
  name: string;
  /** `information_schema.COLUMNS.DATA_TYPE`, lower case (`int`, `decimal`, `longtext`…). */
  dataType: string;
  /** `COLUMN_TYPE` (`int(10) unsigned`, `decimal(12,2)`, `tinyint(1)`…). */
  columnType: string;
  precision: number | null;
  scale: number | null;
  /** MariaDB's JSON is LONGTEXT with a `json_valid` check: told apart by that check. */
  isJson: boolean;
}

export interface MappedColumn {
  name: string;
  /** The DuckDB type, as SQL. */
  duckdbType: string;
  kind: ValueKind;
}

const INTEGERS: Record<string, [signed: string, unsigned: string]> = {
  tinyint: ['TINYINT', 'UTINYINT'],
  smallint: ['SMALLINT', 'USMALLINT'],
  mediumint: ['INTEGER', 'UINTEGER'],
  int: ['INTEGER', 'UINTEGER'],
  integer: ['INTEGER', 'UINTEGER'],
  bigint: ['BIGINT', 'UBIGINT'],
};

const TEXT = new Set(['char', 'varchar', 'tinytext', 'text', 'mediumtext', 'longtext', 'enum', 'set', 'time', 'inet4', 'inet6', 'uuid']);
const BYTES = new Set(['binary', 'varbinary', 'tinyblob', 'blob', 'mediumblob', 'longblob', 'bit', 'geometry', 'point', 'linestring', 'polygon',
  'multipoint', 'multilinestring', 'multipolygon', 'geometrycollection']);

export function mapColumn(column: SourceColumn): MappedColumn {
  const type = column.dataType.toLowerCase();
  const at = (duckdbType: string, kind: ValueKind): MappedColumn => ({ name: column.name, duckdbType, kind });
  if (column.isJson || type === 'json') return at('JSON', 'json');
  const integer = INTEGERS[type];
  if (integer !== undefined) return at(/unsigned/i.test(column.columnType) ? integer[1] : integer[0], 'integer');
  if (type === 'year') return at('SMALLINT', 'integer');
  if (type === 'decimal' || type === 'numeric') {
    const precision = column.precision ?? 10;
    const scale = column.scale ?? 0;
    // DuckDB's DECIMAL stops at 38 digits; wider ones keep every digit as text.
    return precision <= 38 ? at(`DECIMAL(${precision},${scale})`, 'decimal') : at('VARCHAR', 'text');
  }
  if (type === 'double' || type === 'real') return at('DOUBLE', 'double');
  if (type === 'float') return at('FLOAT', 'float');
  if (type === 'date') return at('DATE', 'date');
  if (type === 'datetime' || type === 'timestamp') return at('TIMESTAMP', 'timestamp');
  if (BYTES.has(type)) return at('BLOB', 'blob');
  if (TEXT.has(type)) return at('VARCHAR', 'text');
  // Anything newer than this list still arrives, as its text form.
  return at('VARCHAR', 'text');
}

/** A zero date, or one with a zero month or day: MySQL accepts them, DuckDB has no such date. */
export function isZeroDate(text: string): boolean {
  return /^\d{4}-00-|^\d{4}-\d\d-00|^0000-/.test(text);
}

const PG_TYPES: Record<string, string> = {
  TINYINT: 'smallint', UTINYINT: 'smallint', SMALLINT: 'smallint',
  USMALLINT: 'integer', INTEGER: 'integer',
  UINTEGER: 'bigint', BIGINT: 'bigint',
  // PostgreSQL has no unsigned types: a BIGINT UNSIGNED needs 20 digits.
  UBIGINT: 'numeric(20,0)',
  DOUBLE: 'double precision', FLOAT: 'real',
  DATE: 'date', TIMESTAMP: 'timestamp',
  JSON: 'json', BLOB: 'bytea',
  // Byte-ordered like DuckDB's VARCHAR and like the text columns of PostgreSQL collections.
  VARCHAR: 'text COLLATE "C"',
};

/**
 * The PostgreSQL type of a mapped column, derived from its DuckDB type (the sync state records only
 * that one, so states written before PostgreSQL targets existed keep their shape). Each one answers
 * the same JSON through the PostgreSQL engine as the DuckDB type does through DuckDB's.
 */
export function pgTypeOf(column: Pick<MappedColumn, 'duckdbType'>): string {
  const decimal = /^DECIMAL\((\d+),(\d+)\)$/.exec(column.duckdbType);
  if (decimal) return `numeric(${decimal[1]},${decimal[2]})`;
  return PG_TYPES[column.duckdbType] ?? 'text COLLATE "C"';
}
