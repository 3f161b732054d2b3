/**
 * The shared data plane: duckgate's databases as PostgreSQL schemas (`<prefix><name>`, prefix
 * DATA_SCHEMA_PREFIX, `duckgate_` by default) in the database DATA_URL names, so every replica
 * pointed at it sees the same collections. A duckgate database is a schema rather than a
 * PostgreSQL database so one pool serves them all and SQL can never cross into another PostgreSQL
 * database; the tenant boundary is the same as with DuckDB files: every generated statement names
 * its schema, and name resolution never leaves it.
 */
import { errors } from '../../errors.js';
import type { DataEngine, Database, DumpInfo, LoadOptions } from '../engine.js';
import { dataLimits, type DataLimits } from '../limits.js';
import { assertDatabaseName } from '../duckdb/names.js';
import { quoteIdent } from '../duckdb/names.js';
import { PostgresDatabase } from './database.js';
import { dumpSchema } from './dump.js';
import { loadDump } from './load.js';
import { assertLockedDown } from './lockdown.js';
import { loadParser } from './parser.js';
import { assertReader, currentRole, definerFunctions, grantReader, grantReaderSchema, readerProblems } from './scoped-role.js';
import { Sessions, sqlState, type Client } from './session.js';
import { syncSchemaOf } from './sync-target.js';

const DEFAULT = 'default';
const DATABASE_NAME = /^[a-z][a-z0-9_-]{0,62}$/;
/** PostgreSQL cuts identifiers at 63 bytes: longer schema names would collide silently. */
const MAX_SCHEMA_NAME = 63;
/** How often the list of databases is re-read, so databases made by other replicas appear. */
const REFRESH_MS = 1000;

export interface PostgresEngineOptions {
  url: string;
  /**
   * DATA_READER_URL: the role scoped (non-admin) SQL runs as, able to read duckgate's tables and
   * nothing else (`scoped-role.ts`). Unset: scoped SQL is refused with 403.
   */
  readerUrl?: string;
  /** Schemas of duckgate databases start with it. */
  schemaPrefix: string;
  poolSize: number;
  /** The longest any one statement may run (QUERY_TIMEOUT_MS). */
  statementTimeoutMs: number;
  limits?: Partial<DataLimits>;
}

export class PostgresEngine implements DataEngine {
  private readonly databases = new Map<string, PostgresDatabase>();
  private readonly replacedListeners = new Set<(name: string) => void>();
  private readonly limits: DataLimits;
  private timer: NodeJS.Timeout | undefined;
  private closing: Promise<void> | undefined;

  /** The reader role's login, once checked and granted. */
  private readerRole: string | undefined;

  private constructor(private readonly options: PostgresEngineOptions, private readonly sessions: Sessions, private readonly readers: Sessions | undefined) {
    this.limits = dataLimits(options.limits);
  }

  static async open(options: PostgresEngineOptions): Promise<PostgresEngine> {
    const sessions = new Sessions({ url: options.url, poolSize: options.poolSize, statementTimeoutMs: options.statementTimeoutMs });
    const readers = options.readerUrl === undefined
      ? undefined
      : new Sessions({ url: options.readerUrl, poolSize: options.poolSize, statementTimeoutMs: options.statementTimeoutMs });
    const engine = new PostgresEngine(options, sessions, readers);
    try {
      await loadParser();
      await sessions.use((client) => assertLockedDown(client, options.schemaPrefix));
      await engine.createSchema(DEFAULT, true);
      await engine.refresh();
      // After the first refresh, so the schemas it finds are granted once, here, where a failure stops the start.
      if (readers !== undefined) await engine.setUpReader(readers);
    } catch (error) {
      await sessions.close().catch(() => undefined);
      await readers?.close().catch(() => undefined);
      throw error;
    }
    engine.timer = setInterval(() => void engine.refresh().catch(() => undefined), REFRESH_MS);
    engine.timer.unref();
    return engine;
  }

  /** Checks the reader role, then grants it what scoped SQL reads; a ConfigError names what is wrong. */
  private async setUpReader(readers: Sessions): Promise<void> {
    const prefix = this.options.schemaPrefix;
    const main = await this.sessions.use(currentRole);
    const reader = await readers.use(async (client) => {
      assertReader(await readerProblems(client, prefix, main));
      return currentRole(client);
    });
    // The databases the first refresh found: their schemas only, not sync staging (`<schema>#sync`)
    // or a restore's scratch schema, which refresh() never takes for databases.
    const schemas = [...this.databases.keys()].map((name) => this.schemaOf(name));
    await this.sessions.use((client) => grantReader(client, reader, schemas));
    // After the grants: a SECURITY DEFINER function still open to the reader is a way out of it.
    const definers = await readers.use(definerFunctions);
    assertReader(definers.map((f) => `role '${reader}' may execute ${f}, which runs as its owner (SECURITY DEFINER)`));
    this.readerRole = reader;
  }

  /** A schema made here or seen for the first time: the reader may read it (best effort; without it scoped SQL fails closed). */
  private async grantNew(schemas: readonly string[]): Promise<void> {
    const reader = this.readerRole;
    if (reader === undefined || schemas.length === 0) return;
    await this.sessions.use((client) => grantReader(client, reader, schemas)).catch(() => undefined);
  }

  private schemaOf(name: string): string {
    return `${this.options.schemaPrefix}${name}`;
  }

  private handle(name: string): PostgresDatabase {
    let database = this.databases.get(name);
    if (database === undefined) {
      database = new PostgresDatabase(name, this.schemaOf(name), this.sessions, this.readers, this.limits);
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
    // Made by another replica, perhaps one without DATA_READER_URL that granted nothing.
    const fresh = [...present].filter((name) => !this.databases.has(name));
    await this.grantNew(fresh.map((name) => this.schemaOf(name)));
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
    await this.grantNew([this.schemaOf(name)]);
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

  readonly dumpMethod = 'postgres-dump';

  async dumpBytes(name: string): Promise<number> {
    this.database(name);
    // Tables with their indexes and TOAST: more than the gzip dump takes, so a fair upper bound.
    const result = await this.sessions.use((client) => client.query<{ bytes: string | null }>(
      `SELECT sum(pg_total_relation_size(c.oid))::text AS bytes FROM pg_catalog.pg_class c
        WHERE c.relnamespace = (SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = $1) AND c.relkind = 'r'`, [this.schemaOf(name)]));
    return Number(result.rows[0]?.bytes ?? 0);
  }

  /** One REPEATABLE READ snapshot of the schema, streamed through gzip into `destination` (`dump.ts`). */
  async dumpDatabase(name: string, destination: string): Promise<DumpInfo> {
    this.assertOpen();
    this.database(name);
    const dump = await this.sessions.use((client) => dumpSchema(client, name, this.schemaOf(name), destination));
    // A snapshot holds nobody: writers go on while it is read.
    return { tables: dump.tables, writerHeldMs: 0, versions: { postgresVersion: dump.postgresVersion } };
  }

  loadStagingPath(): undefined {
    return undefined;
  }

  /** Loads a dump in one transaction and swaps it in as database `name` (`load.ts`). */
  async loadDatabase(name: string, source: string, options: LoadOptions): Promise<void> {
    this.assertOpen();
    assertDatabaseName(name);
    if (Buffer.byteLength(this.schemaOf(name)) > MAX_SCHEMA_NAME) {
      throw errors.badRequest('invalid_name', `Invalid database name '${name}': with DATA_SCHEMA_PREFIX it must fit PostgreSQL's ${MAX_SCHEMA_NAME}-byte names`);
    }
    if (this.databases.has(name) && !options.replace) {
      throw errors.conflict(`Database '${name}' exists; restore into a new name, or pass replace: true to overwrite it`);
    }
    await this.sessions.use((client) => loadDump(client, source, {
      database: name, schema: this.schemaOf(name), replace: options.replace, expected: options.expected,
      afterLoad: (loaded, schema) => this.afterSchemaLoaded(loaded, schema),
    }));
    // A fresh handle: the old one's catalog cache describes the replaced tables.
    this.databases.delete(name);
    this.handle(name);
    // Also for a new name: a cache may still hold entries of a database of that name dropped earlier.
    for (const listener of this.replacedListeners) listener(name);
  }

  /**
   * Inside a restore's transaction, once the loaded schema has its final name and before COMMIT.
   * A replaced schema's grants are already carried over (`load.ts`); a new one gets the reader's
   * (DATA_READER_URL) here, so scoped SQL reads a restored database from its first moment.
   */
  private async afterSchemaLoaded(client: Client, schema: string): Promise<void> {
    if (this.readerRole !== undefined) await grantReaderSchema(client, this.readerRole, schema);
  }

  onDatabaseReplaced(listener: (name: string) => void): () => void {
    this.replacedListeners.add(listener);
    return () => this.replacedListeners.delete(listener);
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      clearInterval(this.timer);
      this.databases.clear();
      await this.sessions.close();
      await this.readers?.close();
    })();
    return this.closing;
  }
}
