/**
 * SQL text the engine suites need that DuckDB and PostgreSQL spell differently. Everything else a
 * suite sends is written once, in SQL both accept.
 */
import type { EngineName } from './engines.js';

export interface Dialect {
  /**
   * A FROM item of `n` integers 0…n-1 in column `column`, produced as they are read (PostgreSQL's
   * `generate_series` in FROM would first store all of them; in a select list it streams).
   */
  series(n: number, alias?: string, column?: string): string;
  /** A read that runs until cancelled, on CPU only (no rows stored, nothing spilled to disk). */
  runawayRead: string;
  /** A write to `big (n BIGINT)` that runs until cancelled and stores nothing before it ends. */
  runawayWrite: string;
  /** `{ c }`: how many tables or views called `name` the database holds. */
  tableCount(name: string): string;
}

const duckdb: Dialect = {
  series: (n, alias = 't', column = 'i') => `range(${n}) ${alias}(${column})`,
  runawayRead: 'SELECT count(*) FROM range(100000000) a, range(100000000) b',
  runawayWrite: 'INSERT INTO big SELECT a.range FROM range(100000000) a, range(100000000) b',
  tableCount: (name) => `SELECT count(*) AS c FROM duckdb_tables() WHERE table_name = '${name}'`,
};

const postgres: Dialect = {
  series: (n, alias = 't', column = 'i') => `(SELECT generate_series(0, ${n - 1}) AS ${column}) ${alias}`,
  // 10^10 pairs of a 100,000-row series: its copy for the inner loop is small.
  runawayRead: 'SELECT count(*) FROM generate_series(1, 100000) a, generate_series(1, 100000) b',
  runawayWrite: 'INSERT INTO big SELECT count(*) FROM generate_series(1, 100000) a, generate_series(1, 100000) b',
  tableCount: (name) => `SELECT count(*) AS c FROM pg_class WHERE relnamespace = current_schema()::regnamespace AND relname = '${name}'`,
};

export function dialect(engine: EngineName): Dialect {
  return engine === 'duckdb' ? duckdb : postgres;
}
