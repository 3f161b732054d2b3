/**
 * The PostgreSQL control-plane store's connection: one pool shared by the key, account and audit
 * stores of a process, versioned migrations run once under an advisory lock (three replicas
 * starting at the same moment apply each migration once), and transactions.
 *
 * A store that cannot be reached is not the client's fault and not a bug: every connection-level
 * failure surfaces as 503 `unavailable`, so a replica that lost PostgreSQL answers 503 for what
 * needs the store and recovers by itself (the pool opens fresh connections) when it is back.
 */
import pg from 'pg';
import { ApiError, errors } from '../../errors.js';
import { POSTGRES_MIGRATIONS } from './migrations.js';
import type { Migration } from '../migrations.js';

export type Queryable = Pick<pg.PoolClient, 'query'>;

export interface PostgresOptions {
  /** `postgres://…`; `?options=-c search_path=<schema>` picks a schema (one per deployment or test run). */
  url: string;
  /** Shown in `pg_stat_activity`, so an operator can tell replicas apart. */
  applicationName?: string;
  /** Pool size. */
  maxConnections?: number;
  /** How long a request may wait for a connection before it is answered 503. */
  connectTimeoutMs?: number;
  /** Server-side bound on one statement, so a stalled store cannot hold a request for long. */
  statementTimeoutMs?: number;
}

/** SQLSTATEs worth one more try: the whole transaction was rolled back and nothing was applied. */
const RETRYABLE = new Set(['40001', '40P01']);
const ATTEMPTS = 3;

export class PostgresDatabase {
  readonly pool: pg.Pool;
  /** The schema the tables live in (the first of search_path), for the NOTIFY channel's name. */
  schema = 'public';
  private users = 0;
  private ended: Promise<void> | undefined;

  private constructor(readonly options: PostgresOptions) {
    this.pool = new pg.Pool({ ...connectionConfig(options), max: options.maxConnections ?? 10, idleTimeoutMillis: 30_000 });
    // An idle connection that dies (PostgreSQL restarted, pg_terminate_backend) is dropped from the
    // pool and reported here; without a listener the process would crash.
    this.pool.on('error', () => {});
  }

  /** Connects, applies pending migrations, and answers the database with one user (see `retain`). */
  static async open(options: PostgresOptions): Promise<PostgresDatabase> {
    const db = new PostgresDatabase(options);
    try {
      await db.migrate();
      db.schema = (await db.query<{ schema: string | null }>('SELECT current_schema() AS schema')).rows[0]?.schema ?? 'public';
    } catch (error) {
      await db.pool.end().catch(() => {});
      throw error;
    }
    db.users = 1;
    return db;
  }

  /** One more store shares this pool; each calls `release` once when it closes. */
  retain(): this {
    this.users++;
    return this;
  }

  async release(): Promise<void> {
    if (--this.users > 0) return;
    this.ended ??= this.pool.end().catch(() => {});
    await this.ended;
  }

  /** One statement on a pooled connection (its own transaction); connection failures become 503. */
  async query<R extends pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.pool.query<R>(text, values);
      } catch (error) {
        if (attempt < ATTEMPTS && isRetryable(error)) continue;
        throw storeError(error);
      }
    }
  }

  /**
   * `work` inside BEGIN … COMMIT on one connection. Rolled back on any failure; retried (whole) on
   * a deadlock or serialization failure, where PostgreSQL applied nothing.
   */
  async transaction<T>(work: (client: Queryable) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      let client: pg.PoolClient;
      try {
        client = await this.pool.connect();
      } catch (error) {
        throw storeError(error);
      }
      let destroy = false;
      try {
        await client.query('BEGIN');
        const result = await work(client);
        await client.query('COMMIT');
        return result;
      } catch (error) {
        destroy = isConnectionError(error);
        if (!destroy) await client.query('ROLLBACK').catch(() => (destroy = true));
        if (attempt < ATTEMPTS && isRetryable(error)) continue;
        throw storeError(error);
      } finally {
        // A connection that failed mid-transaction is closed, not given back to the pool.
        client.release(destroy || undefined);
      }
    }
  }

  /**
   * Applies every migration not yet recorded, in order, each in its own transaction, holding a
   * session-level advisory lock (per schema) on one connection throughout: replicas starting at the
   * same moment wait for each other, and the second finds everything applied.
   */
  private async migrate(migrations: readonly Migration[] = POSTGRES_MIGRATIONS): Promise<void> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      throw storeError(error);
    }
    try {
      // Waiting for another replica's migrations is not a stalled store: no statement timeout here.
      await client.query('SET statement_timeout = 0');
      await client.query(`SELECT pg_advisory_lock(hashtext('duckgate.migrations.' || current_schema()))`);
      try {
        await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL)`);
        const applied = new Set((await client.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map((r) => r.version));
        for (const migration of migrations) {
          if (applied.has(migration.version)) continue;
          await client.query('BEGIN');
          try {
            await client.query(migration.sql);
            await client.query('INSERT INTO schema_migrations (version, applied_at) VALUES ($1, now())', [migration.version]);
            await client.query('COMMIT');
          } catch (error) {
            await client.query('ROLLBACK').catch(() => {});
            throw error;
          }
        }
      } finally {
        await client.query(`SELECT pg_advisory_unlock(hashtext('duckgate.migrations.' || current_schema()))`).catch(() => {});
      }
    } finally {
      // Not back to the pool with its session setting changed.
      client.release(true);
    }
  }
}

/** The client settings every connection of this store uses (the pool's, and the change feed's own). */
export function connectionConfig(options: PostgresOptions): pg.ClientConfig {
  return {
    connectionString: options.url,
    application_name: options.applicationName ?? 'duckgate',
    connectionTimeoutMillis: options.connectTimeoutMs ?? 2000,
    statement_timeout: options.statementTimeoutMs ?? 5000,
    // A half-open connection (a network partition) is noticed instead of waited on forever.
    keepAlive: true,
    keepAliveInitialDelayMillis: 5000,
  };
}

function isRetryable(error: unknown): boolean {
  return typeof error === 'object' && error !== null && RETRYABLE.has(String((error as { code?: unknown }).code));
}

/**
 * The connection, not the statement, failed: refused, reset, terminated by the server
 * (pg_terminate_backend, a restart), timed out, or PostgreSQL is starting or shutting down.
 */
export function isConnectionError(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const code = String((error as { code?: unknown }).code ?? '');
  if (code.startsWith('08') || ['57P01', '57P02', '57P03', '53300', '57014'].includes(code)) return true;
  if (['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'EAI_AGAIN'].includes(code)) return true;
  const message = error instanceof Error ? error.message : '';
  return /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Connection ended|not queryable/i.test(message);
}

/** Connection failures as 503 (the store is down, not the request wrong); anything else unchanged. */
export function storeError(error: unknown): unknown {
  if (error instanceof ApiError) return error;
  if (!isConnectionError(error)) return error;
  const unavailable = errors.unavailable('The control-plane store is unavailable; try again shortly');
  return Object.assign(unavailable, { cause: error });
}
