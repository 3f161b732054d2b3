/**
 * The seam of source sync (issue 15): copying a MySQL/MariaDB database into one duckgate database.
 * HTTP routes, the CLI and the automation runner speak only to `SourceSync`; nothing here knows HTTP.
 * Answer shapes follow Duckling's (`SyncResult`, `SyncProgressStatus`) where they fit.
 */

export type SyncType = 'full' | 'incremental' | 'table';

/** How a table was brought up to date. */
export type TableSyncMethod =
  /** Every row copied into a staging table, then swapped in. */
  | 'full'
  /** Rows changed since the last `updated_at`-like watermark, upserted by primary key. */
  | 'watermark'
  /** Rows past the last seen increasing primary key (new rows only; updates need a full sync). */
  | 'key';

export interface TableSyncResult {
  table: string;
  method: TableSyncMethod;
  /** Rows read from the source and written to DuckDB. */
  recordsProcessed: number;
  /** Rows deleted from DuckDB because the source no longer has their key. */
  recordsDeleted: number;
  /** Milliseconds. */
  duration: number;
  status: 'success' | 'error';
  error?: string;
  /** The watermark after this run: a column and its last value (ISO time or key), if any. */
  watermark?: { column: string; value: string | null };
}

export interface SyncRun {
  id: string;
  database: string;
  type: SyncType;
  status: 'success' | 'partial' | 'error';
  startedAt: string;
  finishedAt: string;
  /** Milliseconds. */
  duration: number;
  totalRecords: number;
  tables: TableSyncResult[];
  error?: string;
}

/** Duckling's `SyncProgressStatus`, per database. */
export interface SyncProgress {
  database: string;
  inProgress: boolean;
  type: SyncType | null;
  tablesCompleted: number;
  tablesTotal: number;
  currentTable: string | null;
  /** Rows of the current run written so far. */
  recordsProcessed: number;
  /** Rows of the current table written so far, and its estimated size (the source's own estimate). */
  currentTableRecords: number;
  currentTableEstimate: number | null;
  startedAt: string | null;
  lastError: string | null;
}

/** What `SourceSync.subscribe` delivers (and `GET /sync/events` streams). */
export type SyncEvent =
  | { type: 'started'; database: string; run: string; syncType: SyncType; tables: string[] }
  | { type: 'progress'; database: string; run: string; progress: SyncProgress }
  | { type: 'table'; database: string; run: string; result: TableSyncResult }
  | { type: 'finished'; database: string; run: SyncRun };

export interface TableValidation {
  table: string;
  sourceRows: number;
  duckdbRows: number;
  sourceChecksum: string;
  duckdbChecksum: string;
  match: boolean;
}

export interface ValidationResult {
  database: string;
  valid: boolean;
  tables: TableValidation[];
}

export interface TableSyncStatus {
  table: string;
  method: TableSyncMethod | null;
  watermark: { column: string; value: string | null } | null;
  lastSyncAt: string | null;
  rows: number;
}

export interface SyncStatus {
  database: string;
  /** The source URL with its password redacted; null when the database has none. */
  source: string | null;
  progress: SyncProgress;
  lastRun: SyncRun | null;
  tables: TableSyncStatus[];
}

/**
 * Source sync for every database with a source. One sync per database at a time: a second call
 * while one runs rejects with 409 `sync_running`. A database without a source: 409 `no_source`.
 */
export interface SourceSync {
  /** Copies every source table (resuming a copy a crash interrupted). */
  full(database: string): Promise<SyncRun>;
  /** Per table: by watermark, else by increasing key, else a full copy; deletes found by key sets. */
  incremental(database: string): Promise<SyncRun>;
  /** A full copy of one table. */
  table(database: string, table: string): Promise<SyncRun>;
  isRunning(database: string): boolean;
  progress(database: string): SyncProgress;
  status(database: string): Promise<SyncStatus>;
  validate(database: string): Promise<ValidationResult>;
  /** Drops every synced table and the sync state of `database` (not the source). */
  clearAll(database: string): Promise<{ tablesDropped: string[] }>;
  /** Every event of every database; returns the unsubscribe function. */
  subscribe(listener: (event: SyncEvent) => void): () => void;
}
