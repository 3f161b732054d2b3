import type { DataLimits } from '../limits.js';
import type { PgSchemaCache } from './schema.js';
import type { Client, Sessions } from './session.js';

/** Everything one database's operations share; each operation module takes it first. */
export interface PgContext {
  /** The duckgate database name. */
  readonly name: string;
  /** The PostgreSQL schema that holds it. */
  readonly schema: string;
  readonly sessions: Sessions;
  /** The reader role's pool (DATA_READER_URL), where scoped SQL runs; undefined: scoped SQL is refused. */
  readonly readers: Sessions | undefined;
  readonly schemas: PgSchemaCache;
  readonly limits: DataLimits;
}

/**
 * A client and how deep in transactions it is: a write that needs its own transaction opens one
 * when there is none, a savepoint inside a batch's, so the same code serves a single write and
 * one item of a batch.
 */
export class Conn {
  private depth = 0;
  private savepoints = 0;

  constructor(readonly client: Client) {}

  get inTransaction(): boolean {
    return this.depth > 0;
  }

  async atomic<T>(work: () => Promise<T>): Promise<T> {
    if (this.depth === 0) {
      await this.client.query('BEGIN');
      this.depth++;
      try {
        const result = await work();
        await this.client.query('COMMIT');
        return result;
      } catch (error) {
        await this.client.query('ROLLBACK').catch(() => undefined);
        throw error;
      } finally {
        this.depth--;
      }
    }
    const name = `dg_sp_${++this.savepoints}`;
    await this.client.query(`SAVEPOINT ${name}`);
    this.depth++;
    try {
      const result = await work();
      await this.client.query(`RELEASE SAVEPOINT ${name}`);
      return result;
    } catch (error) {
      await this.client.query(`ROLLBACK TO SAVEPOINT ${name}`).catch(() => undefined);
      throw error;
    } finally {
      this.depth--;
    }
  }
}
