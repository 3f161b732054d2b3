/** Source connections and sync logs (migration 7) in the embedded control-plane store. */
import type Database from 'better-sqlite3';
import type { SyncRun } from '../data/sync/types.js';
import type { SourceStore, StoredSource } from './source-store.js';
import { openSqliteFile } from './sqlite-file.js';

interface SourceRow {
  database: string;
  url: string;
  sealed_password: string | null;
  created_at: string;
  updated_at: string;
}

export class SqliteSourceStore implements SourceStore {
  private readonly db: Database.Database;
  private readonly statements;

  constructor(file: string) {
    this.db = openSqliteFile(file, { synchronous: 'FULL' });
    const db = this.db;
    this.statements = {
      get: db.prepare<[string], SourceRow>('SELECT database, url, sealed_password, created_at, updated_at FROM data_sources WHERE database = ?'),
      list: db.prepare<[], SourceRow>('SELECT database, url, sealed_password, created_at, updated_at FROM data_sources ORDER BY database'),
      put: db.prepare(`INSERT INTO data_sources (database, url, sealed_password, created_at, updated_at) VALUES (@database, @url, @sealed, @now, @now)
        ON CONFLICT (database) DO UPDATE SET url = excluded.url, sealed_password = excluded.sealed_password, updated_at = excluded.updated_at`),
      delete: db.prepare('DELETE FROM data_sources WHERE database = ?'),
      appendLog: db.prepare(`INSERT INTO sync_logs (id, database, type, status, started_at, finished_at, total_records, run)
        VALUES (@id, @database, @type, @status, @startedAt, @finishedAt, @totalRecords, @run) ON CONFLICT (id) DO NOTHING`),
      listLogs: db.prepare<{ database: string | null; limit: number }, { run: string }>(`SELECT run FROM sync_logs
        WHERE @database IS NULL OR database = @database ORDER BY finished_at DESC, id DESC LIMIT @limit`),
      pruneLogs: db.prepare('DELETE FROM sync_logs WHERE finished_at < ?'),
    };
  }

  async getSource(database: string): Promise<StoredSource | undefined> {
    const row = this.statements.get.get(database);
    return row && toSource(row);
  }

  async listSources(): Promise<StoredSource[]> {
    return this.statements.list.all().map(toSource);
  }

  async putSource(source: Omit<StoredSource, 'createdAt' | 'updatedAt'>): Promise<StoredSource> {
    this.statements.put.run({ database: source.database, url: source.url, sealed: source.sealedPassword, now: new Date().toISOString() });
    return toSource(this.statements.get.get(source.database)!);
  }

  async deleteSource(database: string): Promise<boolean> {
    return this.statements.delete.run(database).changes === 1;
  }

  async appendSyncLog(run: SyncRun): Promise<void> {
    this.statements.appendLog.run({ ...run, totalRecords: run.totalRecords, run: JSON.stringify(run) });
  }

  async listSyncLogs(options: { database?: string; limit: number }): Promise<SyncRun[]> {
    return this.statements.listLogs.all({ database: options.database ?? null, limit: options.limit }).map((row) => JSON.parse(row.run) as SyncRun);
  }

  async pruneSyncLogs(before: string): Promise<number> {
    return this.statements.pruneLogs.run(before).changes;
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}

function toSource(row: SourceRow): StoredSource {
  return { database: row.database, url: row.url, sealedPassword: row.sealed_password, createdAt: row.created_at, updatedAt: row.updated_at };
}
