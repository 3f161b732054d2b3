/**
 * What source sync needs from a duckgate database: staging tables written a batch per
 * transaction, a swap into place, upserts and deletes by primary key, and the sync state, kept
 * beside the data (DuckDB: schema `_duckgate_sync` of the same file; PostgreSQL: schema
 * `<schema>#sync`) so a batch and the progress it records commit together: after a kill -9 the
 * state says exactly what was copied.
 */
import type { MappedColumn, ValueKind } from './type-map.js';

/** A value as appended: text the target casts into the column's type, bytes for BLOB, or NULL. */
export type TargetValue = string | Uint8Array | null;

export interface TableState {
  table: string;
  method: 'full' | 'watermark' | 'key';
  columns: MappedColumn[];
  primaryKey: string[];
  /** The watermark column (`updated_at`-like or the increasing key), if any. */
  watermarkColumn: string | null;
  /** Its value as text at the last completed sync (or at the start of the copy in progress). */
  watermark: string | null;
  /** `copying`: a full copy is under way in the staging table; `done`: the table is in place. */
  phase: 'copying' | 'done';
  /** The last primary key copied into staging (JSON array of text), to resume after a crash. */
  resumeKey: string | null;
  /** Rows in staging (copying) or in the table (done). */
  rows: number;
  lastSyncAt: string | null;
}

export interface SyncTarget {
  /**
   * Claims the database's sync across every process that shares its data (409 `sync_running` when
   * another holds it); answers the release. DuckDB's file has one process, whose service already
   * claims in memory; PostgreSQL's is shared by replicas and takes an advisory lock.
   */
  claim(): Promise<() => Promise<void>>;
  states(): Promise<Map<string, TableState>>;
  /** Creates an empty staging table for `state.table` (dropping any old one) and records `state`. */
  startCopy(state: TableState): Promise<void>;
  /** Appends rows to staging and records the new state, in one transaction. */
  appendCopy(state: TableState, rows: TargetValue[][]): Promise<void>;
  /** Replaces the live table by staging, in one transaction, and records `state` (phase `done`). */
  finishCopy(state: TableState): Promise<void>;
  /** Inserts or replaces `rows` by primary key in the live table and records `state`, in one transaction. */
  upsert(state: TableState, rows: TargetValue[][]): Promise<void>;
  /** Records `state` alone (a watermark moved with no rows to write). */
  saveState(state: TableState): Promise<void>;
  /** Deletes rows by key (text values in key order); answers how many went. */
  deleteKeys(state: TableState, keys: string[][]): Promise<number>;
  /** The live table's keys as text, ordered, after `after` (exclusive), at most `limit`. */
  keys(state: TableState, after: string[] | null, limit: number): Promise<string[][]>;
  count(table: string): Promise<number>;
  /** Whether `main` has a table or view by that name (any case: DuckDB names are case-insensitive). */
  exists(table: string): Promise<boolean>;
  /** Every row of the live table, columns as text (BLOB as bytes), a chunk at a time (validation checksums). */
  scan(table: string, columns: readonly { name: string; kind: ValueKind }[], onRow: (row: TargetValue[]) => void): Promise<void>;
  /** Drops the live and staging tables and the state of every table in `tables` (or of all synced tables). */
  clear(tables?: string[]): Promise<string[]>;
}
