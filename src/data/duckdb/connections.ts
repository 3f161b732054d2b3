import {
  BOOLEAN, DOUBLE, LIST, VARCHAR,
  type DuckDBConnection, type DuckDBListType, type DuckDBMaterializedResult, type DuckDBPreparedStatement, type DuckDBResult,
} from '@duckdb/node-api';
import { errors, isApiError } from '../../errors.js';
import { assertBefore, atDeadline, isPast } from '../deadline.js';
import type { CatalogVersion } from './catalog-version.js';
import { Mutex } from './mutex.js';
import { readRows, resultColumns, type ResultColumns } from './values.js';
import type { JsonObject } from '../engine.js';

/**
 * One list bound as a single typed LIST parameter (an `In` filter's values): one parameter
 * whatever the length, so the statement text, and its cache entry, never vary with it.
 */
export interface SqlList {
  list: readonly (string | number | boolean)[];
  of: 'VARCHAR' | 'DOUBLE' | 'BOOLEAN';
}

/** What we bind: `number` binds as DOUBLE (collection numbers), `bigint` as BIGINT (SQL route integers). */
export type SqlParam = null | boolean | number | string | bigint | SqlList;

const LIST_TYPES: Record<SqlList['of'], DuckDBListType> = { VARCHAR: LIST(VARCHAR), DOUBLE: LIST(DOUBLE), BOOLEAN: LIST(BOOLEAN) };

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
    case 'object':
      if (value !== null) {
        statement.bindList(index, value.list, LIST_TYPES[value.of]);
        return;
      }
      statement.bindNull(index);
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
  /**
   * The deadline of the task holding this connection. Every call into DuckDB checks it first: an
   * interrupt only stops the statement running at that instant, so a task whose deadline passed
   * between two statements must not start the next one.
   */
  deadline: number | undefined;

  constructor(
    readonly raw: DuckDBConnection,
    private readonly catalog: CatalogVersion,
  ) {}

  /** 408 once the holder's deadline has passed; called before every statement. */
  checkDeadline(): void {
    assertBefore(this.deadline);
  }

  /** `collection` tags the statement so DDL on that collection retires it. */
  async prepare(sql: string, collection?: string): Promise<DuckDBPreparedStatement> {
    this.checkDeadline();
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
    return readRows(result, this.columnsOf(sql, result), omitNulls);
  }

  /**
   * Prepared execution as a stream: DuckDB produces chunks as they are fetched, so a reader that
   * stops at its budget leaves the rest of the result uncomputed and unmaterialised.
   */
  async stream(sql: string, params: readonly SqlParam[], collection?: string): Promise<{ result: DuckDBResult; columns: ResultColumns }> {
    const statement = await this.prepare(sql, collection);
    bindParams(statement, params);
    const result = await statement.stream();
    return { result, columns: this.columnsOf(sql, result) };
  }

  private columnsOf(sql: string, result: DuckDBResult): ResultColumns {
    const entry = this.statements.get(sql);
    let columns = entry?.columns;
    if (columns === undefined || columns.names.length !== result.columnCount) {
      columns = resultColumns(result);
      if (entry !== undefined) entry.columns = columns;
    }
    return columns;
  }

  /** Unprepared execution for one-off statements (DDL, transaction control). */
  async exec(sql: string): Promise<void> {
    this.checkDeadline();
    await this.raw.run(sql);
  }

  /**
   * Ends the open transaction whatever the deadline says (no deadline check), and tries again if
   * the first attempt fails: an interrupt landing on it must not leave a transaction open on the
   * writer. A ROLLBACK with no transaction left fails harmlessly.
   */
  async rollback(): Promise<void> {
    await this.raw.run('ROLLBACK').catch(() => this.raw.run('ROLLBACK')).catch(() => undefined);
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

interface Waiter<T> {
  grant: (value: T) => void;
  /** Set when the waiter gave up at its deadline: a grant skips it. */
  gone: boolean;
}

/**
 * Runs `task` on `connection` under `deadline`: at the deadline DuckDB is interrupted, and an
 * error from then on is 408 `query_timeout`. `race`: answer 408 at the deadline without waiting
 * for the task to wind down (reads: nothing of theirs survives). Otherwise the task's own outcome
 * is the answer (writes: a COMMIT that made it must be reported as done).
 */
function underDeadline<T>(running: Promise<T>, connection: PooledConnection, deadline: number | undefined, race: boolean): Promise<T> {
  if (deadline === undefined) return running;
  let expired = false;
  return new Promise<T>((resolve, reject) => {
    const cancel = atDeadline(deadline, () => {
      expired = true;
      connection.interrupt();
      if (race) reject(errors.queryTimeout());
    });
    running.then(
      (value) => {
        cancel();
        resolve(value);
      },
      (error: unknown) => {
        cancel();
        reject(expired || (isApiError(error) && error.code === 'query_timeout') ? errors.queryTimeout() : error);
      },
    );
  });
}

/**
 * Read connections: a task takes a free one or queues for the next to come back. Queuing rather
 * than sharing keeps each connection's prepared statements single-user. A queued task whose
 * deadline passes leaves the queue with 408; a running one is interrupted and answered 408 at
 * once, its connection coming back when DuckDB has let go of it.
 */
export class ReadPool {
  private readonly free: PooledConnection[];
  private readonly waiters: Waiter<PooledConnection>[] = [];
  private closed = false;

  constructor(private readonly all: readonly PooledConnection[]) {
    this.free = [...all];
  }

  async use<T>(task: (connection: PooledConnection) => Promise<T>, deadline?: number): Promise<T> {
    const connection = await this.acquire(deadline);
    connection.deadline = deadline;
    const running = (async () => {
      try {
        return await task(connection);
      } finally {
        connection.deadline = undefined;
        this.release(connection);
      }
    })();
    return underDeadline(running, connection, deadline, true);
  }

  private acquire(deadline?: number): Promise<PooledConnection> {
    if (this.closed) return Promise.reject(errors.unavailable('Database is closed'));
    if (isPast(deadline)) return Promise.reject(errors.queryTimeout());
    const connection = this.free.pop();
    if (connection !== undefined) return Promise.resolve(connection);
    return new Promise((resolve, reject) => {
      const waiter: Waiter<PooledConnection> = {
        grant: (granted) => {
          cancel();
          resolve(granted);
        },
        gone: false,
      };
      const cancel = atDeadline(deadline, () => {
        waiter.gone = true;
        reject(errors.queryTimeout());
      });
      this.waiters.push(waiter);
    });
  }

  private release(connection: PooledConnection): void {
    for (let next = this.waiters.shift(); next !== undefined; next = this.waiters.shift()) {
      if (next.gone) continue;
      next.grant(connection);
      return;
    }
    this.free.push(connection);
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

  /**
   * Runs `task` alone on the writer. Waiting for the lock counts against `deadline` (408 without
   * running at all); at the deadline a running statement is interrupted and its transaction rolls
   * back, but a write that committed first is reported as done.
   */
  use<T>(task: (connection: PooledConnection) => Promise<T>, deadline?: number): Promise<T> {
    return this.mutex.run(async () => {
      if (this.closed) throw errors.unavailable('Database is closed');
      const connection = this.connection;
      connection.deadline = deadline;
      try {
        return await underDeadline(task(connection), connection, deadline, false);
      } finally {
        connection.deadline = undefined;
      }
    }, deadline);
  }

  /** All or nothing: any throw rolls back, and the original error is what the caller sees. */
  transaction<T>(task: (connection: PooledConnection) => Promise<T>, deadline?: number): Promise<T> {
    return this.use((connection) => inTransaction(connection, () => task(connection)), deadline);
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
    await connection.rollback();
    throw error;
  }
  return result;
}
