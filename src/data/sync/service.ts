/**
 * Source sync (issue 15): copies a MySQL/MariaDB source into a duckgate database, table by table,
 * in batches through the target's appender. One run per database at a time (a second gets 409
 * `sync_running`); progress and results are announced to subscribers (SSE, the dashboard, the
 * automation runner) and every run is logged in the control store.
 *
 * Crash safety comes from the target: each batch and the state that records it commit together,
 * so a run killed mid-copy resumes from the last committed key at the next run, and replays of
 * incremental batches are harmless (upserts by primary key, a watermark that only moves at the end).
 */
import { createHash, randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { SourceSecret } from '../../auth/source-secret.js';
import { errors, isApiError } from '../../errors.js';
import type { SourceStore, StoredSource } from '../../store/source-store.js';
import type { DataEngine } from '../engine.js';
import { MysqlSource, quoteMysql, unreachable, type SourceTable, type SourceValue } from './mysql-source.js';
import { parseSourceUrl, redactedUrl, type SourceConnection } from './source-url.js';
import type { SyncTarget, TableState, TargetValue } from './target.js';
import { isZeroDate, type MappedColumn, type ValueKind } from './type-map.js';
import type {
  SourceSync, SyncEvent, SyncProgress, SyncRun, SyncStatus, SyncType, TableSyncMethod, TableSyncResult, TableSyncStatus, ValidationResult,
} from './types.js';

/** Rows per batch: one appender flush and one transaction; API writes wait at most this long. */
export const DEFAULT_BATCH_ROWS = 5000;
/** Keys compared per source query when looking for deleted rows. */
const KEY_BATCH = 5000;
/** Column names taken as "last changed" watermarks, in order of preference (DATETIME or TIMESTAMP). */
const WATERMARK_NAMES = ['updated_at', 'updatedat', 'modified_at', 'modifiedat', 'last_modified', 'last_updated', 'updated', 'modified', 'changed_at'];

export interface SourceSyncOptions {
  engine: DataEngine;
  sources: SourceStore;
  secret: SourceSecret;
  batchRows?: number;
}

interface Running {
  progress: SyncProgress;
  run: string;
  source: MysqlSource | undefined;
  /** Releases the target's claim (the PostgreSQL advisory lock other replicas see). */
  unclaim: () => Promise<void>;
}

export interface SourceInfo {
  database: string;
  /** Password redacted. */
  source: string;
  hasPassword: boolean;
  createdAt: string;
  updatedAt: string;
}

export interface SourceTest {
  success: boolean;
  source: string;
  version?: string;
  tables?: number;
  error?: string;
}

export class SourceSyncService implements SourceSync {
  private readonly running = new Map<string, Running>();
  private readonly last = new Map<string, SyncProgress>();
  private readonly events = new EventEmitter();
  private readonly batchRows: number;
  private closed = false;

  constructor(private readonly options: SourceSyncOptions) {
    this.batchRows = options.batchRows ?? DEFAULT_BATCH_ROWS;
    // SSE clients each subscribe; a busy dashboard must not trip Node's leak warning.
    this.events.setMaxListeners(0);
  }

  // --- sources ---------------------------------------------------------------------------

  /** Stores (or replaces) the source of `database`: the password sealed, the URL without it. */
  async setSource(database: string, url: string): Promise<SourceInfo> {
    this.options.engine.database(database);
    const connection = parseSourceUrl(url);
    const stored = await this.options.sources.putSource({
      database,
      url: redactedUrl(connection),
      sealedPassword: connection.password === '' ? null : this.options.secret.seal(connection.password),
    });
    return info(stored);
  }

  /** 400 `invalid_source` for a URL that cannot be a source. */
  checkSourceUrl(url: string): void {
    parseSourceUrl(url);
  }

  async getSource(database: string): Promise<SourceInfo | undefined> {
    const stored = await this.options.sources.getSource(database);
    return stored && info(stored);
  }

  async removeSource(database: string): Promise<boolean> {
    if (this.running.has(database)) throw errors.syncRunning(database);
    return this.options.sources.deleteSource(database);
  }

  /** Connects and lists tables; a failure is an answer (`success: false`), not an error. */
  async testSource(database: string): Promise<SourceTest> {
    const connection = await this.connection(database);
    const shown = redactedUrl(connection);
    let source: MysqlSource | undefined;
    try {
      source = await MysqlSource.connect(connection);
      const [row] = await source.query<{ version: string } & import('mysql2').RowDataPacket>('SELECT VERSION() AS version');
      const tables = await source.query<{ n: number } & import('mysql2').RowDataPacket>(
        "SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE'", [connection.database]);
      return { success: true, source: shown, version: row?.version, tables: Number(tables[0]?.n ?? 0) };
    } catch (error) {
      return { success: false, source: shown, error: isApiError(error) ? error.message : `Source unreachable: ${messageOf(error)}` };
    } finally {
      await source?.close().catch(() => source?.destroy());
    }
  }

  private async connection(database: string): Promise<SourceConnection> {
    this.options.engine.database(database);
    const stored = await this.options.sources.getSource(database);
    if (stored === undefined) throw errors.noSource(database);
    const connection = parseSourceUrl(stored.url);
    if (stored.sealedPassword !== null) {
      try {
        connection.password = this.options.secret.open(stored.sealedPassword);
      } catch {
        throw errors.sourceUnavailable(`The source password of '${database}' cannot be decrypted (was DATA_DIR's source-secret replaced?); set the source again`);
      }
    }
    return connection;
  }

  // --- runs ------------------------------------------------------------------------------

  // Async, so a refusal (409, 404) is a rejected promise like every other failure.
  async full(database: string): Promise<SyncRun> {
    return (await this.start(database, 'full')).finished;
  }

  async incremental(database: string): Promise<SyncRun> {
    return (await this.start(database, 'incremental')).finished;
  }

  async table(database: string, table: string): Promise<SyncRun> {
    return (await this.start(database, 'table', table)).finished;
  }

  /**
   * Claims the database (409 `sync_running` when this process or, on shared data, another replica
   * runs one) and runs in the background; `finished` settles with the run (or a refusal that
   * started nothing).
   */
  async start(database: string, type: SyncType, table?: string): Promise<{ id: string; finished: Promise<SyncRun> }> {
    const running = await this.claim(database, type);
    return { id: running.run, finished: this.run(database, type, running, table) };
  }

  /** 404 for an unknown database; answers the name. */
  assertDatabase(database: string): string {
    this.options.engine.database(database);
    return database;
  }

  /** 404 for an unknown database, 409 `no_source` for one without a source. */
  async assertSource(database: string): Promise<void> {
    this.assertDatabase(database);
    if ((await this.options.sources.getSource(database)) === undefined) throw errors.noSource(database);
  }

  logs(database: string | undefined, limit: number): Promise<SyncRun[]> {
    return this.options.sources.listSyncLogs({ database, limit });
  }

  isRunning(database: string): boolean {
    return this.running.has(database);
  }

  progress(database: string): SyncProgress {
    return { ...(this.running.get(database)?.progress ?? this.last.get(database) ?? idle(database)) };
  }

  subscribe(listener: (event: SyncEvent) => void): () => void {
    this.events.on('event', listener);
    return () => this.events.off('event', listener);
  }

  private emit(event: SyncEvent): void {
    this.events.emit('event', event);
  }

  /**
   * Claims the database (409 if taken) before anything else, so two requests can never both start:
   * in memory first (synchronously, so two calls of this process cannot interleave), then through
   * the target, which on PostgreSQL is what stops a second replica.
   */
  private async claim(database: string, type: SyncType | null): Promise<Running> {
    if (this.closed) throw errors.unavailable('Source sync is shutting down');
    const target = this.options.engine.database(database).syncTarget();
    if (this.running.has(database)) throw errors.syncRunning(database);
    const running: Running = {
      run: randomUUID(),
      source: undefined,
      unclaim: async () => undefined,
      progress: { ...idle(database), inProgress: true, type, startedAt: new Date().toISOString() },
    };
    this.running.set(database, running);
    try {
      running.unclaim = await target.claim();
    } catch (error) {
      this.running.delete(database);
      throw error;
    }
    return running;
  }

  /**
   * Frees the database for the next run: the target's claim first, so a run started here the
   * moment this resolves never finds its own lock still held.
   */
  private async unclaim(database: string, running: Running): Promise<void> {
    await running.unclaim().catch(() => undefined);
    if (this.running.get(database) === running) this.running.delete(database);
  }

  private async run(database: string, type: SyncType, running: Running, only?: string): Promise<SyncRun> {
    const { progress } = running;
    const started = performance.now();
    const results: TableSyncResult[] = [];
    let failure: string | undefined;
    try {
      const connection = await this.connection(database);
      try {
        running.source = await MysqlSource.connect(connection);
      } catch (error) {
        throw isApiError(error) ? error : unreachable(error);
      }
      const source = running.source;
      const target = this.options.engine.database(database).syncTarget();
      const tables = only === undefined ? await source.tables() : [await source.table(only)];
      const states = await target.states();
      progress.tablesTotal = tables.length;
      this.emit({ type: 'started', database, run: running.run, syncType: type, tables: tables.map((t) => t.name) });
      for (const table of tables) {
        if (this.closed) throw errors.unavailable('Source sync is shutting down');
        progress.currentTable = table.name;
        progress.currentTableRecords = 0;
        progress.currentTableEstimate = table.estimatedRows;
        this.emitProgress(database, running);
        const result = await this.syncTable(source, target, table, states.get(table.name), type, running);
        results.push(result);
        if (result.status === 'error') progress.lastError = `${table.name}: ${result.error}`;
        progress.tablesCompleted++;
        this.emit({ type: 'table', database, run: running.run, result });
      }
      // A table gone from the source goes from DuckDB too, at a full sync (never at an incremental one).
      if (type === 'full') {
        const names = new Set(tables.map((t) => t.name));
        const gone = [...states.keys()].filter((t) => !names.has(t));
        if (gone.length > 0) await target.clear(gone);
      }
    } catch (error) {
      failure = messageOf(error);
      progress.lastError = failure;
      if (results.length === 0 && isApiError(error) && error.status < 500 && error.code !== 'source_unavailable') {
        // Nothing started (no source, unknown table): the caller's mistake is the answer, not a run.
        await this.release(database, running);
        throw error;
      }
    }
    const finished = new Date();
    const failed = results.filter((r) => r.status === 'error').length;
    const run: SyncRun = {
      id: running.run,
      database,
      type,
      status: failure !== undefined ? (results.length > failed ? 'partial' : 'error') : failed === 0 ? 'success' : failed < results.length ? 'partial' : 'error',
      startedAt: progress.startedAt!,
      finishedAt: finished.toISOString(),
      duration: Math.round(performance.now() - started),
      totalRecords: results.reduce((n, r) => n + r.recordsProcessed, 0),
      tables: results,
      ...(failure === undefined ? {} : { error: failure }),
    };
    await this.release(database, running);
    await this.options.sources.appendSyncLog(run).catch(() => {});
    this.emit({ type: 'finished', database, run });
    return run;
  }

  private async release(database: string, running: Running): Promise<void> {
    running.progress.inProgress = false;
    running.progress.currentTable = null;
    this.last.set(database, running.progress);
    const source = running.source;
    running.source = undefined;
    source?.close().catch(() => source.destroy());
    await this.unclaim(database, running);
  }

  private emitProgress(database: string, running: Running): void {
    this.emit({ type: 'progress', database, run: running.run, progress: { ...running.progress } });
  }

  private async syncTable(
    source: MysqlSource, target: SyncTarget, table: SourceTable, previous: TableState | undefined, type: SyncType, running: Running,
  ): Promise<TableSyncResult> {
    const started = performance.now();
    const method = methodOf(table);
    const result: TableSyncResult = { table: table.name, method, recordsProcessed: 0, recordsDeleted: 0, duration: 0, status: 'success' };
    try {
      let state: TableState;
      const incremental = type === 'incremental' && previous !== undefined && previous.phase === 'done'
        && previous.method !== 'full' && sameShape(previous, table, method);
      if (!incremental) {
        result.method = 'full';
        state = await this.copy(source, target, table, method, previous, running, result);
      } else {
        state = await this.catchUp(source, target, table, previous, running, result);
        result.recordsDeleted = await this.removeDeleted(source, target, state);
      }
      if (state.watermarkColumn !== null) result.watermark = { column: state.watermarkColumn, value: state.watermark };
    } catch (error) {
      result.status = 'error';
      result.error = messageOf(error);
    }
    result.duration = Math.round(performance.now() - started);
    return result;
  }

  /** A full copy into staging, resumed from the last committed key when a crash interrupted one of the same shape. */
  private async copy(
    source: MysqlSource, target: SyncTarget, table: SourceTable, method: TableSyncMethod, previous: TableState | undefined,
    running: Running, result: TableSyncResult,
  ): Promise<TableState> {
    const pk = table.primaryKey;
    const resume = previous !== undefined && previous.phase === 'copying' && previous.resumeKey !== null && pk.length > 0
      && sameShape(previous, table, method);
    let state: TableState;
    if (resume) {
      state = { ...previous };
    } else {
      // A table sync did not create (a collection, a table made through SQL) is never replaced.
      if (previous === undefined && (await target.exists(table.name))) {
        throw errors.conflict(`Table '${table.name}' already exists in the database and was not made by source sync; drop or rename it first`);
      }
      const watermarkColumn = method === 'watermark' ? watermarkOf(table)! : method === 'key' ? pk[0]! : null;
      state = {
        table: table.name, method, columns: table.columns, primaryKey: pk, watermarkColumn,
        // Read before the copy: a row changed while it runs is newer than this and is fetched again next time.
        watermark: method === 'watermark' ? await maxOf(source, table.name, watermarkColumn!) : null,
        phase: 'copying', resumeKey: null, rows: 0, lastSyncAt: previous?.lastSyncAt ?? null,
      };
      await target.startCopy(state);
    }
    const select = table.columns.map((c) => quoteMysql(c.name)).join(', ');
    const order = pk.length > 0 ? ` ORDER BY ${pk.map(quoteMysql).join(', ')}` : '';
    const after = resume ? JSON.parse(state.resumeKey!) as string[] : null;
    const where = after === null ? '' : ` WHERE (${pk.map(quoteMysql).join(', ')}) > (${pk.map(() => '?').join(', ')})`;
    const keyIndexes = pk.map((k) => table.columns.findIndex((c) => c.name === k));
    await this.pump(source.stream(`SELECT ${select} FROM ${quoteMysql(table.name)}${where}${order}`, after ?? [], this.batchRows), table.columns, running, async (rows, last) => {
      state.rows += rows.length;
      if (pk.length > 0) state.resumeKey = JSON.stringify(keyIndexes.map((i) => String(last[i])));
      await target.appendCopy(state, rows);
      result.recordsProcessed += rows.length;
    });
    if (method === 'key' && state.resumeKey !== null) state.watermark = (JSON.parse(state.resumeKey) as string[])[0]!;
    state.phase = 'done';
    state.resumeKey = null;
    state.lastSyncAt = new Date().toISOString();
    await target.finishCopy(state);
    return state;
  }

  /** Rows changed since the watermark (or past the last key), upserted by primary key. */
  private async catchUp(
    source: MysqlSource, target: SyncTarget, table: SourceTable, previous: TableState, running: Running, result: TableSyncResult,
  ): Promise<TableState> {
    const state: TableState = { ...previous };
    const column = quoteMysql(state.watermarkColumn!);
    const select = table.columns.map((c) => quoteMysql(c.name)).join(', ');
    const keyIndex = table.columns.findIndex((c) => c.name === state.watermarkColumn);
    let next = state.watermark;
    let sql: string;
    if (state.method === 'watermark') {
      next = (await maxOf(source, table.name, state.watermarkColumn!)) ?? state.watermark;
      // `>=`: rows changed within the watermark's own second are read again, harmlessly.
      sql = `SELECT ${select} FROM ${quoteMysql(table.name)}${state.watermark === null ? ` WHERE ${column} IS NOT NULL` : ` WHERE ${column} >= ?`} ORDER BY ${column}`;
    } else {
      sql = `SELECT ${select} FROM ${quoteMysql(table.name)}${state.watermark === null ? '' : ` WHERE ${column} > ?`} ORDER BY ${column}`;
    }
    await this.pump(source.stream(sql, state.watermark === null ? [] : [state.watermark], this.batchRows), table.columns, running, async (rows, last) => {
      if (state.method === 'key') next = String(last[keyIndex]);
      await target.upsert(state, rows);
      result.recordsProcessed += rows.length;
    });
    state.watermark = next;
    state.lastSyncAt = new Date().toISOString();
    state.rows = await target.count(table.name);
    await target.saveState(state);
    return state;
  }

  /**
   * Rows whose key the source no longer has. Cheap when nothing was deleted (DuckDB holds no more
   * rows than the source); otherwise DuckDB's keys are checked against the source a batch at a time.
   * Keys of other types than integers and text are not compared (their text forms differ).
   */
  private async removeDeleted(source: MysqlSource, target: SyncTarget, state: TableState): Promise<number> {
    const pk = state.primaryKey;
    const kinds = pk.map((k) => state.columns.find((c) => c.name === k)?.kind);
    if (pk.length === 0 || kinds.some((k) => k !== 'integer' && k !== 'text')) return 0;
    const [row] = await source.query<{ n: number } & import('mysql2').RowDataPacket>(`SELECT COUNT(*) AS n FROM ${quoteMysql(state.table)}`);
    if ((await target.count(state.table)) <= Number(row?.n ?? 0)) return 0;
    let deleted = 0;
    let after: string[] | null = null;
    for (;;) {
      const keys = await target.keys(state, after, KEY_BATCH);
      if (keys.length === 0) break;
      after = keys[keys.length - 1]!;
      const tuple = pk.length === 1 ? '?' : `(${pk.map(() => '?').join(', ')})`;
      const found = await source.query<import('mysql2').RowDataPacket>(`SELECT ${pk.map(quoteMysql).join(', ')} FROM ${quoteMysql(state.table)}
        WHERE ${pk.length === 1 ? quoteMysql(pk[0]!) : `(${pk.map(quoteMysql).join(', ')})`} IN (${keys.map(() => tuple).join(', ')})`, keys.flat(), { rowsAsArray: true });
      const present = new Set((found as unknown as SourceValue[][]).map((r) => r.map(String).join('\u0000')));
      const missing = keys.filter((k) => !present.has(k.join('\u0000')));
      deleted += await target.deleteKeys(state, missing);
      if (keys.length < KEY_BATCH) break;
    }
    return deleted;
  }

  /** Reads the stream into batches of `batchRows`, each handed to `write` before the next is read. */
  private async pump(
    rows: AsyncIterable<SourceValue[]>, columns: readonly MappedColumn[], running: Running,
    write: (batch: TargetValue[][], last: SourceValue[]) => Promise<void>,
  ): Promise<void> {
    const kinds = columns.map((c) => c.kind);
    let batch: TargetValue[][] = [];
    let last: SourceValue[] = [];
    const flush = async (): Promise<void> => {
      if (batch.length === 0) return;
      const full = batch;
      batch = [];
      await write(full, last);
      running.progress.recordsProcessed += full.length;
      running.progress.currentTableRecords += full.length;
      this.emitProgress(running.progress.database, running);
    };
    for await (const row of rows) {
      if (this.closed) throw errors.unavailable('Source sync is shutting down');
      batch.push(row.map((value, i) => toTarget(value, kinds[i]!)));
      last = row;
      if (batch.length >= this.batchRows) await flush();
    }
    await flush();
  }

  // --- status, validation, clearing -------------------------------------------------------

  async status(database: string): Promise<SyncStatus> {
    const target = this.options.engine.database(database).syncTarget();
    const stored = await this.options.sources.getSource(database);
    const [lastRun] = await this.options.sources.listSyncLogs({ database, limit: 1 });
    const tables: TableSyncStatus[] = [];
    for (const state of (await target.states()).values()) {
      tables.push({
        table: state.table,
        method: state.method,
        watermark: state.watermarkColumn === null ? null : { column: state.watermarkColumn, value: state.watermark },
        lastSyncAt: state.lastSyncAt,
        rows: state.phase === 'done' ? await target.count(state.table).catch(() => 0) : 0,
      });
    }
    return { database, source: stored?.url ?? null, progress: this.progress(database), lastRun: lastRun ?? null, tables };
  }

  /** Row counts and an order-independent checksum per synced table, source vs DuckDB. */
  async validate(database: string): Promise<ValidationResult> {
    const running = await this.claim(database, null);
    try {
      const connection = await this.connection(database);
      running.source = await MysqlSource.connect(connection).catch((error: unknown) => {
        throw isApiError(error) ? error : unreachable(error);
      });
      const target = this.options.engine.database(database).syncTarget();
      const tables = [];
      for (const state of (await target.states()).values()) {
        if (state.phase !== 'done') continue;
        const columns = state.columns;
        const fromSource = new Checksum(columns.map((c) => c.kind));
        const sql = `SELECT ${columns.map((c) => quoteMysql(c.name)).join(', ')} FROM ${quoteMysql(state.table)}`;
        for await (const row of running.source.stream(sql)) fromSource.add(row.map((v, i) => toTarget(v, columns[i]!.kind)));
        const fromDuck = new Checksum(columns.map((c) => c.kind));
        await target.scan(state.table, columns, (row) => fromDuck.add(row));
        tables.push({
          table: state.table, sourceRows: fromSource.rows, duckdbRows: fromDuck.rows,
          sourceChecksum: fromSource.hex(), duckdbChecksum: fromDuck.hex(),
          match: fromSource.rows === fromDuck.rows && fromSource.hex() === fromDuck.hex(),
        });
      }
      return { database, valid: tables.every((t) => t.match), tables };
    } finally {
      const source = running.source;
      source?.close().catch(() => source.destroy());
      await this.unclaim(database, running);
    }
  }

  async clearAll(database: string): Promise<{ tablesDropped: string[] }> {
    const running = await this.claim(database, null);
    try {
      return { tablesDropped: await this.options.engine.database(database).syncTarget().clear() };
    } finally {
      await this.unclaim(database, running);
    }
  }

  /** Stops every run at its next row or batch; their sources are disconnected. */
  close(): void {
    this.closed = true;
    for (const running of this.running.values()) running.source?.destroy();
  }
}

function idle(database: string): SyncProgress {
  return {
    database, inProgress: false, type: null, tablesCompleted: 0, tablesTotal: 0, currentTable: null, recordsProcessed: 0,
    currentTableRecords: 0, currentTableEstimate: null, startedAt: null, lastError: null,
  };
}

function info(stored: StoredSource): SourceInfo {
  return { database: stored.database, source: stored.url, hasPassword: stored.sealedPassword !== null, createdAt: stored.createdAt, updatedAt: stored.updatedAt };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Watermark by an `updated_at`-like DATETIME/TIMESTAMP column, else by an increasing integer key, else full copies. */
export function methodOf(table: SourceTable): TableSyncMethod {
  if (table.primaryKey.length === 0) return 'full';
  if (watermarkOf(table) !== undefined) return 'watermark';
  if (table.primaryKey.length === 1 && table.columns.find((c) => c.name === table.primaryKey[0])?.kind === 'integer') return 'key';
  return 'full';
}

function watermarkOf(table: SourceTable): string | undefined {
  for (const name of WATERMARK_NAMES) {
    const column = table.columns.find((c) => c.name.toLowerCase() === name && c.kind === 'timestamp');
    if (column !== undefined) return column.name;
  }
  return undefined;
}

function sameShape(state: TableState, table: SourceTable, method: TableSyncMethod): boolean {
  return state.method === method
    && JSON.stringify(state.primaryKey) === JSON.stringify(table.primaryKey)
    && JSON.stringify(state.columns) === JSON.stringify(table.columns);
}

async function maxOf(source: MysqlSource, table: string, column: string): Promise<string | null> {
  const [row] = await source.query<{ m: string | number | null } & import('mysql2').RowDataPacket>(`SELECT MAX(${quoteMysql(column)}) AS m FROM ${quoteMysql(table)}`);
  return row?.m === null || row?.m === undefined ? null : String(row.m);
}

/** A source value as appended: text (zero dates → NULL), bytes for BLOB columns. */
export function toTarget(value: SourceValue, kind: ValueKind): TargetValue {
  if (value === null) return null;
  if (typeof value === 'number') return String(value);
  if (typeof value === 'string') return (kind === 'date' || kind === 'timestamp') && isZeroDate(value) ? null : value;
  return kind === 'blob' ? value : Buffer.from(value).toString('utf8');
}

/** Canonical text of one value, so the source's and DuckDB's spellings of the same value agree. */
function canonical(value: TargetValue, kind: ValueKind): string {
  if (value === null) return '\u0000';
  if (typeof value !== 'string') return Buffer.from(value).toString('hex');
  switch (kind) {
    case 'timestamp':
      return value.includes('.') ? value.replace(/0+$/, '').replace(/\.$/, '') : value;
    case 'double':
      return String(Number(value));
    case 'float':
      return String(Math.fround(Number(value)));
    default:
      return value;
  }
}

/** Row count and the sum (mod 2^64) of each row's SHA-1 prefix: independent of row order. */
class Checksum {
  rows = 0;
  private sum = 0n;

  constructor(private readonly kinds: readonly ValueKind[]) {}

  add(row: TargetValue[]): void {
    const text = row.map((v, i) => canonical(v, this.kinds[i]!)).join('\u001f');
    this.sum = (this.sum + createHash('sha1').update(text).digest().readBigUInt64BE(0)) & 0xffffffffffffffffn;
    this.rows++;
  }

  hex(): string {
    return this.sum.toString(16).padStart(16, '0');
  }
}
