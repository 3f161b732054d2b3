import type { DuckDBConnection, DuckDBMaterializedResult, DuckDBPreparedStatement } from '@duckdb/node-api';
import { errors } from '../../errors.js';
import type { CatalogVersion } from './catalog-version.js';
import { Mutex } from './mutex.js';
import { readRows, resultColumns, type ResultColumns } from './values.js';
import type { JsonObject } from '../engine.js';

/** What we bind: `number` binds as DOUBLE (collection numbers), `bigint` as BIGINT (SQL route integers). */
export type SqlParam = null | boolean | number | string | bigint;

const STATEMENT_CACHE_SIZE = 256;

interface CachedStatement {
  statement: DuckDBPreparedStatement;
  /** Result column names and converters, worked out on first execution and reused after. */
  columns: ResultColumns | undefined;
  collection: string | undefined;
  global: number;
  local: number;
}

export function bindParams(statement: DuckDBPreparedStatement, params: readonly SqlParam[]): void {
  for (let i = 0; i < params.length; i++) {
    bindParam(statement, i + 1, params[i]!);
  }
}

export function bindParam(statement: DuckDBPreparedStatement, index: number, value: SqlParam): void {
  // Typed binds skip the library's per-value type inference, and keeping one type per parameter
  // across executions avoids DuckDB re-binding the statement because a parameter type changed.
  switch (typeof value) {
    case 'string':
      statement.bindVarchar(index, value);
      return;
    case 'number':
      statement.bindDouble(index, value);
      return;
    case 'boolean':
      statement.bindBoolean(index, value);
      return;
    case 'bigint':
      statement.bindBigInt(index, value);
      return;
    default:
      statement.bindNull(index);
  }
}

/**
 * One DuckDB connection and its prepared statements. A connection is only ever used by one task
 * at a time (the pool and the writer mutex guarantee it), so its cache needs no locking.
 */
export class PooledConnection {
  private readonly statements = new Map<string, CachedStatement>();

  constructor(
    readonly raw: DuckDBConnection,
    private readonly catalog: CatalogVersion,
  ) {}

  /** `collection` tags the statement so DDL on that collection retires it. */
  async prepare(sql: string, collection?: string): Promise<DuckDBPreparedStatement> {
    const cached = this.statements.get(sql);
    if (cached !== undefined) {
      if (cached.global === this.catalog.global && cached.local === this.catalog.of(cached.collection)) {
        // Re-insert to keep the Map in least-recently-used order.
        this.statements.delete(sql);
        this.statements.set(sql, cached);
        return cached.statement;
      }
      this.statements.delete(sql);
      cached.statement.destroySync();
    }
    const statement = await this.raw.prepare(sql);
    this.statements.set(sql, { statement, columns: undefined, collection, global: this.catalog.global, local: this.catalog.of(collection) });
    if (this.statements.size > STATEMENT_CACHE_SIZE) {
      const [oldestSql, oldest] = this.statements.entries().next().value as [string, CachedStatement];
      this.statements.delete(oldestSql);
      oldest.statement.destroySync();
    }
    return statement;
  }

  /** Prepared (and cached) execution: the path every generated statement takes. */
  async run(sql: string, params: readonly SqlParam[], collection?: string): Promise<DuckDBMaterializedResult> {
    const statement = await this.prepare(sql, collection);
    bindParams(statement, params);
    return statement.run();
  }

  /**
   * Prepared execution read straight into JSON rows. Column metadata is cached with the statement:
   * asking DuckDB for names and logical types on every call was a measurable share of a point read.
   */
  async rows(sql: string, params: readonly SqlParam[], collection: string | undefined, omitNulls: boolean): Promise<JsonObject[]> {
    const result = await this.run(sql, params, collection);
    const entry = this.statements.get(sql);
    let columns = entry?.columns;
    if (columns === undefined || columns.names.length !== result.columnCount) {
      columns = resultColumns(result);
      if (entry !== undefined) entry.columns = columns;
    }
    return readRows(result, columns, omitNulls);
  }

  /** Unprepared execution for one-off statements (DDL, transaction control). */
  async exec(sql: string): Promise<void> {
    await this.raw.run(sql);
  }

  interrupt(): void {
    this.raw.interrupt();
  }

  close(): void {
    for (const { statement } of this.statements.values()) statement.destroySync();
    this.statements.clear();
    this.raw.closeSync();
  }
}

/**
 * Read connections: a task takes a free one or queues for the next to come back. Queuing rather
 * than sharing keeps each connection's prepared statements single-user.
 */
export class ReadPool {
  private readonly free: PooledConnection[];
  private readonly waiters: ((connection: PooledConnection) => void)[] = [];
  private closed = false;

  constructor(private readonly all: readonly PooledConnection[]) {
    this.free = [...all];
  }

  async use<T>(task: (connection: PooledConnection) => Promise<T>): Promise<T> {
    const connection = await this.acquire();
    try {
      return await task(connection);
    } finally {
      this.release(connection);
    }
  }

  private acquire(): Promise<PooledConnection> {
    if (this.closed) return Promise.reject(errors.unavailable('Database is closed'));
    const connection = this.free.pop();
    if (connection !== undefined) return Promise.resolve(connection);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private release(connection: PooledConnection): void {
    const next = this.waiters.shift();
    if (next !== undefined) next(connection);
    else this.free.push(connection);
  }

  /** Waits for every connection to come home, then closes them all. */
  async close(): Promise<void> {
    if (this.closed) return;
    const leases = this.all.map(() => this.acquire());
    this.closed = true;
    for (const connection of await Promise.all(leases)) connection.close();
  }
}

/** The one connection that writes: every write, DDL included, runs under its mutex. */
export class Writer {
  private readonly mutex = new Mutex();
  private closed = false;

  constructor(private readonly connection: PooledConnection) {}

  use<T>(task: (connection: PooledConnection) => Promise<T>): Promise<T> {
    return this.mutex.run(async () => {
      if (this.closed) throw errors.unavailable('Database is closed');
      return task(this.connection);
    });
  }

  /** All or nothing: any throw rolls back, and the original error is what the caller sees. */
  transaction<T>(task: (connection: PooledConnection) => Promise<T>): Promise<T> {
    return this.use((connection) => inTransaction(connection, () => task(connection)));
  }

  interrupt(): void {
    this.connection.interrupt();
  }

  async close(): Promise<void> {
    await this.mutex.run(async () => {
      if (this.closed) return;
      this.closed = true;
      this.connection.close();
    });
  }
}

/** For callers already holding the writer: wraps `task` in BEGIN … COMMIT, rolling back on any throw. */
export async function inTransaction<T>(connection: PooledConnection, task: () => Promise<T>): Promise<T> {
  await connection.exec('BEGIN TRANSACTION');
  let result: T;
  try {
    result = await task();
    await connection.exec('COMMIT');
  } catch (error) {
    // A failed COMMIT already aborted the transaction; the ROLLBACK then fails harmlessly.
    await connection.exec('ROLLBACK').catch(() => undefined);
    throw error;
  }
  return result;
}
