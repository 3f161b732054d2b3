/**
 * The data plane's seam. HTTP routes speak only to these interfaces; `duckdb/` holds the embedded
 * implementation. Nothing here knows about HTTP: failures are `ApiError`s from `src/errors.ts`
 * (400 for bad input, 404 for unknown names, 409 for conflicts) so any caller can render them.
 * Budgets (a deadline, a result budget) are plain options, so every protocol passes them alike.
 */
import type { SyncTarget } from './sync/target.js';
import type { DataLimits, ResultBudget, Truncation } from './limits.js';

export type { DataLimits, ResultBudget, Truncation } from './limits.js';

/** JSON values and ekoDB's filter language (seed 003): the wire contract's types. */
export type { Json, JsonObject } from '../contract/json.js';
export type { ComparisonOperator, Filter } from '../contract/filter.js';
import type { Filter } from '../contract/filter.js';
import type { Json, JsonObject } from '../contract/json.js';

export interface FindQuery {
  filter?: Filter;
  sort?: { field: string; ascending?: boolean }[];
  /** Above the result budget's rows: clamped to it, and the answer says so (`truncatedBy`). */
  limit?: number;
  skip?: number;
  /** Only these fields (plus `id`) are returned. */
  select_fields?: string[];
  /** These fields are never returned. */
  exclude_fields?: string[];
}

export interface ColumnInfo {
  column_name: string;
  column_type: string;
  null: 'YES' | 'NO';
  key: string | null;
  default_value: string | null;
}

export interface QueryResult {
  result: JsonObject[];
  columns: string[];
  rowCount: number;
  elapsedMs: number;
  /** True when the result budget cut the answer short (at a row boundary). */
  truncated: boolean;
  /** Which budget did: `rows` or `bytes`. */
  truncatedBy?: Truncation;
}

/** Rows of an answer. `truncatedBy` is set (and only then) when the result budget cut it short. */
export type Rows = JsonObject[] & { truncatedBy?: Truncation };

/** What every data call accepts. */
export interface CallOptions {
  /**
   * When the call must be answered, on the `performance.now()` clock. Waiting for a connection or
   * the writer, checking, planning, running and converting all count; at the deadline DuckDB is
   * interrupted and the call fails with 408 `query_timeout`. Unset: no deadline.
   */
  deadline?: number;
}

/** What every call that answers rows accepts. */
export interface ReadOptions extends CallOptions {
  /** Unset: the engine's default budget (`DataLimits.result`). */
  budget?: ResultBudget;
}

/** Which fields of a table a caller may read; `id` is always readable. */
export interface FieldView {
  select_fields?: string[];
  exclude_fields?: string[];
}

/**
 * What a non-admin caller may read through SQL. `view(table)` answers null when the table (or
 * collection) is not readable at all, otherwise the fields it may see.
 */
export interface ReadPolicy {
  view(table: string): FieldView | null;
}

export interface QueryOptions extends ReadOptions {
  /** Shorthand for `deadline: performance.now() + timeoutMs` (the earlier of the two wins). */
  timeoutMs?: number;
  /** Only statements of these kinds may run; anything else → 403 `forbidden`. Undefined: all. */
  allowedStatements?: readonly StatementKind[];
  /**
   * Set for non-admin callers with scoped grants: the SQL guard (`sql-guard.ts`) admits one SELECT
   * over readable tables only and rewrites every table reference into a projection of visible
   * columns. Unset: no guard (admins, full-data keys).
   */
  readPolicy?: ReadPolicy;
}

export type StatementKind = 'SELECT' | 'INSERT' | 'UPDATE' | 'DELETE' | 'OTHER';

export interface BatchResult {
  successful: string[];
  failed: { id?: string; error: string }[];
}

export interface SyncCounts {
  created: number;
  updated: number;
  unchanged: number;
}

/**
 * One named DuckDB database: its collections are real tables, so SQL can join them. Every method
 * takes `CallOptions` last (a deadline); those answering rows take `ReadOptions` (and a budget).
 */
export interface Database {
  readonly name: string;

  /**
   * The catalog's spelling of the table or view `name` addresses, as SQL would bind it (exact, else
   * equal ignoring ASCII case: see `identifiers.ts`), or undefined when there is none. Callers that
   * check a grant resolve first and check the real name, so no spelling reaches another table's data.
   * May answer at once (no promise) when the engine's catalogue is already in memory.
   */
  resolveTable(name: string, options?: CallOptions): string | undefined | Promise<string | undefined>;
  listCollections(options?: CallOptions): Promise<string[]>;
  hasCollection(collection: string, options?: CallOptions): Promise<boolean>;
  dropCollection(collection: string, options?: CallOptions): Promise<void>;
  countAll(options?: CallOptions): Promise<Record<string, number>>;
  count(table: string, options?: CallOptions): Promise<number>;
  schema(table: string, options?: CallOptions): Promise<ColumnInfo[]>;
  /** A page of rows in a stable order; with `view`, only the fields it lets through. */
  rows(table: string, limit: number, offset: number, view?: FieldView, options?: ReadOptions): Promise<Rows>;

  insert(collection: string, record: JsonObject, options?: CallOptions): Promise<JsonObject>;
  /** Ordered by `sort`, then `id` (by `id` alone without a sort), so pages never overlap. */
  find(collection: string, query: FindQuery, options?: ReadOptions): Promise<Rows>;
  findById(collection: string, id: string, fields?: Pick<FindQuery, 'select_fields' | 'exclude_fields'>, options?: CallOptions): Promise<JsonObject>;
  update(collection: string, id: string, patch: JsonObject, options?: CallOptions): Promise<JsonObject>;
  delete(collection: string, id: string, options?: CallOptions): Promise<void>;
  batchInsert(collection: string, records: JsonObject[], options?: CallOptions): Promise<BatchResult>;
  batchUpdate(collection: string, updates: { id: string; data: JsonObject }[], options?: CallOptions): Promise<BatchResult>;
  batchDelete(collection: string, ids: string[], options?: CallOptions): Promise<BatchResult>;

  /** Upsert by `externalId` across collections in one transaction: all or nothing. */
  sync(batches: Record<string, JsonObject[]>, options?: CallOptions): Promise<Record<string, SyncCounts>>;

  query(sql: string, params: Json[] | Record<string, Json> | undefined, options: QueryOptions): Promise<QueryResult>;

  /** Source sync's writer and state for this database (issue 15). */
  syncTarget(): SyncTarget;
  /** Cheap liveness probe: false when the database cannot answer. */
  ping(): Promise<boolean>;
}

/** One table's fingerprint in a backup: its row count and a checksum of its rows (see the engine's dump). */
export interface TableCheck {
  table: string;
  rows: number;
  /** DuckDB: the sum of `hash()` of every row, decimal; PostgreSQL: SHA-256 of the table's dump lines, hex. */
  checksum: string;
}

/** How a backup was taken, recorded in its manifest: an engine loads only its own kind. */
export type DumpMethod = 'checkpoint-copy' | 'postgres-dump';

/** What a dump says about itself, for the manifest. */
export interface DumpInfo {
  /** Every base table, by name. */
  tables: TableCheck[];
  /** How long taking the snapshot held the writer, ms (0 where writers never wait). */
  writerHeldMs: number;
  /** What wrote it: `{ duckdbVersion }` or `{ postgresVersion }` (a newer writer's file may not load). */
  versions: { duckdbVersion?: string; postgresVersion?: string };
}

export interface LoadOptions {
  /** Overwrite an existing database of that name; without it an existing one is a 409. */
  replace: boolean;
  /** The manifest's tables: the load fails with 422 `backup_verification_failed`, changing nothing, on any difference. */
  expected: readonly TableCheck[];
}

/**
 * Backups of databases (`data/backup/`), whatever the engine: a consistent dump of one database
 * into a local file, and a verified load of such a file as a database, all or nothing. A load
 * replaces what callers may have cached about the database: they subscribe with `onDatabaseReplaced`.
 */
export interface DatabaseDumps {
  /** What this engine's dumps are (the manifest's `method`); it loads only those. */
  readonly dumpMethod: DumpMethod;
  /** About how many bytes a dump of database `name` takes, to check free space first (404 when there is none). */
  dumpBytes(name: string): Promise<number>;
  /** Writes a consistent dump of database `name` to the new file `destination`. */
  dumpDatabase(name: string, destination: string): Promise<DumpInfo>;
  /** Where to fetch a dump before `loadDatabase` (DuckDB: beside its files, for a rename); undefined: anywhere local. */
  loadStagingPath(label: string): string | undefined;
  /** Verifies the dump at `source` against `options.expected` and loads it as database `name`, all or nothing. */
  loadDatabase(name: string, source: string, options: LoadOptions): Promise<void>;
  /** Called after `loadDatabase` put a database in place as `name`; answers the unsubscribe. */
  onDatabaseReplaced(listener: (name: string) => void): () => void;
}

/**
 * What one SQL statement may have written, as the engine reports it once the statement is over
 * (committed or not). `tables` lists the tables (as named in the statement) it wrote; undefined
 * means anything in the database (DDL, a statement whose target cannot be told).
 */
export interface SqlWrite {
  database: string;
  tables?: readonly string[];
}

export interface DataEngine extends DatabaseDumps {
  /**
   * Calls `listener` synchronously after every SQL statement that is not a SELECT, before the
   * statement's call resolves, so a cache can drop what it wrote before the write is answered.
   * Record, batch, sync and drop calls are not reported: their caller sees what they touch.
   * Optional: an engine without it has every `query` call treated as a write to the whole database.
   * Answers a function that stops the reports.
   */
  watchSqlWrites?(listener: (write: SqlWrite) => void): () => void;
  /** Names of every database, `default` first. */
  listDatabases(): string[];
  /** The named database; 404 `not_found` when it does not exist. */
  database(name: string): Database;
  createDatabase(name: string): Promise<void>;
  dropDatabase(name: string): Promise<void>;
  close(): Promise<void>;
}

export interface EngineOptions {
  dataDir: string;
  /** DuckDB `memory_limit` per database, e.g. `1GB`. */
  memoryLimit: string;
  /** DuckDB threads per database. */
  threads: number;
  /** Read connections per database (writes go through one writer connection). */
  readConnections: number;
  /** Resource budgets; unset ones take `DEFAULT_LIMITS`. */
  limits?: Partial<DataLimits>;
}
