/**
 * The shared data plane: duckgate's databases as PostgreSQL schemas (`<prefix><name>`, prefix
 * DATA_SCHEMA_PREFIX, `duckgate_` by default) in the database DATA_URL names, so every replica
 * pointed at it sees the same collections. A duckgate database is a schema rather than a
 * PostgreSQL database so one pool serves them all and SQL can never cross into another PostgreSQL
 * database; the tenant boundary is the same as with DuckDB files: every generated statement names
 * its schema, and name resolution never leaves it.
 */
import { errors } from '../../errors.js';
import type { DataEngine, Database } from '../engine.js';
import { dataLimits, type DataLimits } from '../limits.js';
import { assertDatabaseName } from '../duckdb/names.js';
import { quoteIdent } from '../duckdb/names.js';
import { PostgresDatabase } from './database.js';
import { assertLockedDown } from './lockdown.js';
import { loadParser } from './parser.js';
import { Sessions, sqlState } from './session.js';
import { syncSchemaOf } from './sync-target.js';
import { notOnPostgres } from './unsupported.js';

const DEFAULT = 'default';
const DATABASE_NAME = /^[a-z][a-z0-9_-]{0,62}$/;
/** PostgreSQL cuts identifiers at 63 bytes: longer schema names would collide silently. */
const MAX_SCHEMA_NAME = 63;
/** How often the list of databases is re-read, so databases made by other replicas appear. */
const REFRESH_MS = 1000;

export interface PostgresEngineOptions {
  url: string;
  /** Schemas of duckgate databases start with it. */
  schemaPrefix: string;
  poolSize: number;
  /** The longest any one statement may run (QUERY_TIMEOUT_MS). */
  statementTimeoutMs: number;
  limits?: Partial<DataLimits>;
}

export class PostgresEngine implements DataEngine {
  private readonly databases = new Map<string, PostgresDatabase>();
  private readonly limits: DataLimits;
  private timer: NodeJS.Timeout | undefined;
  private closing: Promise<void> | undefined;

  private constructor(private readonly options: PostgresEngineOptions, private readonly sessions: Sessions) {
    this.limits = dataLimits(options.limits);
  }

  static async open(options: PostgresEngineOptions): Promise<PostgresEngine> {
    const sessions = new Sessions({ url: options.url, poolSize: options.poolSize, statementTimeoutMs: options.statementTimeoutMs });
    const engine = new PostgresEngine(options, sessions);
    try {
      await loadParser();
      await sessions.use((client) => assertLockedDown(client, options.schemaPrefix));
      await engine.createSchema(DEFAULT, true);
      await engine.refresh();
    } catch (error) {
      await sessions.close().catch(() => undefined);
      throw error;
    }
    engine.timer = setInterval(() => void engine.refresh().catch(() => undefined), REFRESH_MS);
    engine.timer.unref();
    return engine;
  }

  private schemaOf(name: string): string {
    return `${this.options.schemaPrefix}${name}`;
  }

  private handle(name: string): PostgresDatabase {
    let database = this.databases.get(name);
    if (database === undefined) {
      database = new PostgresDatabase(name, this.schemaOf(name), this.sessions, this.limits);
      this.databases.set(name, database);
    }
    return database;
  }

  /** Re-reads which schemas exist: databases created or dropped through other replicas. */
  private async refresh(): Promise<void> {
    const prefix = this.options.schemaPrefix;
    const result = await this.sessions.use((client) =>
      client.query('SELECT nspname FROM pg_catalog.pg_namespace WHERE starts_with(nspname, $1)', [prefix]),
    );
    const present = new Set<string>();
    for (const { nspname } of result.rows as { nspname: string }[]) {
      const name = nspname.slice(prefix.length);
      if (DATABASE_NAME.test(name)) present.add(name);
    }
    for (const name of this.databases.keys()) if (!present.has(name)) this.databases.delete(name);
    for (const name of present) this.handle(name);
  }

  private assertOpen(): void {
    if (this.closing !== undefined) throw errors.unavailable('Data engine is closed');
  }

  listDatabases(): string[] {
    return [DEFAULT, ...[...this.databases.keys()].filter((n) => n !== DEFAULT).sort()];
  }

  database(name: string): Database {
    const database = this.databases.get(name);
    if (database === undefined) {
      // Perhaps just made by another replica: the next call will know.
      if (typeof name === 'string' && DATABASE_NAME.test(name)) void this.refresh().catch(() => undefined);
      throw errors.notFound(`Database '${name}' not found`);
    }
    return database;
  }

  private async createSchema(name: string, ifMissing: boolean): Promise<void> {
    const schema = this.schemaOf(name);
    try {
      await this.sessions.use((client) => client.query(`CREATE SCHEMA ${ifMissing ? 'IF NOT EXISTS ' : ''}${quoteIdent(schema)}`));
    } catch (error) {
      // 42P06: exists; 23505: two replicas creating it at the same instant.
      const state = sqlState(error);
      if (state === '42P06' || state === '23505') {
        if (ifMissing) return;
        throw errors.conflict(`Database '${name}' already exists`);
      }
      throw error;
    }
  }

  async createDatabase(name: string): Promise<void> {
    this.assertOpen();
    assertDatabaseName(name);
    if (Buffer.byteLength(this.schemaOf(name)) > MAX_SCHEMA_NAME) {
      throw errors.badRequest('invalid_name', `Invalid database name '${name}': with DATA_SCHEMA_PREFIX it must fit PostgreSQL's ${MAX_SCHEMA_NAME}-byte names`);
    }
    if (this.databases.has(name)) throw errors.conflict(`Database '${name}' already exists`);
    await this.createSchema(name, false);
    this.handle(name);
  }

  async dropDatabase(name: string): Promise<void> {
    this.assertOpen();
    assertDatabaseName(name);
    if (name === DEFAULT) throw errors.conflict('The default database cannot be dropped');
    if (!this.databases.has(name)) throw errors.notFound(`Database '${name}' not found`);
    this.databases.delete(name);
    try {
      await this.sessions.use(async (client) => {
        await client.query(`DROP SCHEMA ${quoteIdent(this.schemaOf(name))} CASCADE`);
        // Source sync's staging and state go too, or a database made again under the name would inherit them.
        await client.query(`DROP SCHEMA IF EXISTS ${quoteIdent(syncSchemaOf(this.schemaOf(name)))} CASCADE`);
      });
    } catch (error) {
      if (sqlState(error) === '3F000') throw errors.notFound(`Database '${name}' not found`);
      throw error;
    }
  }

  // Backups are of DuckDB files (`data/backup/`); with DATA_URL they are PostgreSQL's to take.
  async snapshotDatabase(): Promise<number> {
    throw notOnPostgres('A backup');
  }
  databaseFiles(): string[] {
    return [];
  }
  stagingPath(): string {
    throw notOnPostgres('A restore');
  }
  async installDatabase(): Promise<void> {
    throw notOnPostgres('A restore');
  }
  onDatabaseReplaced(): () => void {
    // Nothing is ever installed by file, so nothing is ever announced.
    return () => undefined;
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      clearInterval(this.timer);
      this.databases.clear();
      await this.sessions.close();
    })();
    return this.closing;
  }
}
