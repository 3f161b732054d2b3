/**
 * Connections to the shared PostgreSQL and the per-call deadline on them. Every data call borrows
 * one client from the pool for its whole duration (`Sessions.use`); the deadline covers waiting
 * for the client too. At the deadline the running statement is cancelled from a connection of its
 * own (`pg_cancel_backend`, which a role may do to its own backends) and the call fails with 408;
 * every statement also carries `statement_timeout` (QUERY_TIMEOUT_MS at most), so PostgreSQL
 * stops a runaway statement even if the cancel cannot reach it.
 */
import pg from 'pg';
import { errors, isApiError } from '../../errors.js';
import { assertBefore, atDeadline, remainingMs } from '../deadline.js';

/**
 * Values as duckgate answers them, parsed from PostgreSQL's text the way DuckDB's converter does:
 * integers as numbers while they are safe (text beyond), NUMERIC as a double, date/time types as
 * text (timestamps ISO 8601), so the same JSON in gives the same JSON out on both engines.
 */
const TYPE_PARSERS: Record<number, (text: string) => unknown> = {
  20: (text) => {
    const n = Number(text);
    return Number.isSafeInteger(n) ? n : text;
  },
  1700: (text) => {
    const n = Number(text);
    return Number.isFinite(n) ? n : text;
  },
  1082: (text) => text, // date
  1083: (text) => text, // time
  1266: (text) => text, // timetz
  1114: (text) => text.replace(' ', 'T'), // timestamp
  1184: (text) => {
    const date = new Date(text.replace(' ', 'T').replace(/([+-]\d\d)$/, '$1:00'));
    return Number.isNaN(date.getTime()) ? text : date.toISOString();
  },
  1186: (text) => text, // interval
};

export const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary'): (value: string) => unknown {
    const parser = TYPE_PARSERS[oid];
    if (parser !== undefined && format !== 'binary') return parser;
    return (pg.types.getTypeParser as (oid: number, format?: string) => (value: string) => unknown)(oid, format);
  },
};

export type Client = pg.PoolClient;

export interface SessionOptions {
  url: string;
  poolSize: number;
  /** The longest any one statement may run, whatever the caller's deadline (QUERY_TIMEOUT_MS). */
  statementTimeoutMs: number;
}

/** PostgreSQL's SQLSTATE of a driver error, if it carries one. */
export function sqlState(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/** The connection itself failed (not the statement): it must be dropped, and the caller told 503. */
function isConnectionLoss(error: unknown, state: string | undefined): boolean {
  // 08P01 is class 08 but the caller's mistake (a Bind with the wrong number of parameters): the
  // statement failed, the connection is fine.
  if (state === '08P01') return false;
  if (state !== undefined) return state.startsWith('08') || state.startsWith('57P');
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) return true;
  return error instanceof Error && /Connection terminated|not queryable|connection error|Connection ended/i.test(error.message);
}

export class Sessions {
  readonly pool: pg.Pool;

  constructor(private readonly options: SessionOptions) {
    this.pool = new pg.Pool({
      connectionString: options.url,
      max: options.poolSize,
      idleTimeoutMillis: 30_000,
      types,
      // Set once per connection: no statement outlives the longest deadline anyone can have.
      options: `-c statement_timeout=${Math.max(1, Math.ceil(options.statementTimeoutMs))}`,
      application_name: 'duckgate-data',
    });
    // An idle client that loses its server is dropped by the pool; the next use reconnects.
    this.pool.on('error', () => {});
  }

  /**
   * Runs `work` on one client. A deadline that passes while it runs cancels the statement in
   * flight and makes the call fail with 408, whatever PostgreSQL says about the cancelled query.
   */
  async use<T>(work: (client: Client) => Promise<T>, deadline?: number): Promise<T> {
    assertBefore(deadline);
    const client = await this.connect(deadline);
    // A connection that dies while checked out fails its query; without a listener its 'error'
    // event would also be an uncaught exception.
    const onError = (): void => undefined;
    client.on('error', onError);
    let expired = false;
    let broken = false;
    let onExpiry: (() => void) | undefined;
    // The caller gets its 408 at the deadline even if the cancel cannot reach PostgreSQL (the
    // connection is then closed, which ends the statement too).
    const expiry = new Promise<never>((_, reject) => {
      onExpiry = () => reject(errors.queryTimeout());
    });
    const cancel = atDeadline(deadline, () => {
      expired = true;
      void this.cancel(client);
      onExpiry?.();
    });
    try {
      assertBefore(deadline);
      const running = work(client);
      // Whatever the abandoned work says after the deadline is of no interest to anyone.
      running.catch(() => undefined);
      return await (deadline === undefined ? running : Promise.race([running, expiry]));
    } catch (error) {
      // 57014: cancelled, by our deadline or by statement_timeout (the longest deadline anyone has).
      if (expired || sqlState(error) === '57014') throw errors.queryTimeout();
      // A connection-level failure: the client must not go back to the pool.
      const state = sqlState(error);
      if (!isApiError(error) && isConnectionLoss(error, state)) {
        broken = true;
        throw errors.unavailable('The data engine (PostgreSQL) lost the connection; what this request had not committed was rolled back');
      }
      throw error;
    } finally {
      cancel();
      client.off('error', onError);
      // A cancel that raced the end of the statement could hit the next user of this client: a
      // client whose deadline fired is closed rather than reused.
      client.release(expired || broken ? true : undefined);
    }
  }

  private async connect(deadline: number | undefined): Promise<Client> {
    const wait = remainingMs(deadline);
    if (wait === Infinity) return this.pool.connect();
    let timer: NodeJS.Timeout | undefined;
    const pending = this.pool.connect();
    try {
      return await Promise.race([
        pending,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(errors.queryTimeout()), Math.ceil(wait));
        }),
      ]);
    } catch (error) {
      // The client may still arrive after the deadline: give it straight back.
      pending.then((late) => late.release(), () => undefined);
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Cancels what `client` is running, from a short-lived connection of its own. */
  private async cancel(client: Client): Promise<void> {
    const pid = (client as unknown as { processID?: number }).processID;
    if (typeof pid !== 'number') return;
    const canceller = new pg.Client({ connectionString: this.options.url, connectionTimeoutMillis: 2000 });
    canceller.on('error', () => {});
    try {
      await canceller.connect();
      await canceller.query('SELECT pg_cancel_backend($1)', [pid]);
    } catch {
      // statement_timeout remains the backstop.
    } finally {
      await canceller.end().catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

/** `work` inside BEGIN … COMMIT on `client`, rolled back on any failure. */
export async function inTransaction<T>(client: Client, work: () => Promise<T>): Promise<T> {
  await client.query('BEGIN');
  try {
    const result = await work();
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}
