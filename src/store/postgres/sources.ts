/** Source connections and sync logs on PostgreSQL: the `SourceStore` of `../sqlite-sources.ts`. */
import type { SyncRun } from '../../data/sync/types.js';
import type { SourceStore, StoredSource } from '../source-store.js';
import type { PostgresDatabase } from './database.js';
import { isoTime } from './times.js';

interface SourceRow {
  database: string;
  url: string;
  sealed_password: string | null;
  created_at: Date;
  updated_at: Date;
}

const COLUMNS = 'database, url, sealed_password, created_at, updated_at';

export class PostgresSourceStore implements SourceStore {
  private closed = false;

  constructor(private readonly db: PostgresDatabase) {}

  async getSource(database: string): Promise<StoredSource | undefined> {
    const { rows } = await this.db.query<SourceRow>(`SELECT ${COLUMNS} FROM data_sources WHERE database = $1`, [database]);
    return rows[0] && toSource(rows[0]);
  }

  async listSources(): Promise<StoredSource[]> {
    return (await this.db.query<SourceRow>(`SELECT ${COLUMNS} FROM data_sources ORDER BY database`)).rows.map(toSource);
  }

  async putSource(source: Omit<StoredSource, 'createdAt' | 'updatedAt'>): Promise<StoredSource> {
    const { rows } = await this.db.query<SourceRow>(`INSERT INTO data_sources (database, url, sealed_password, created_at, updated_at)
      VALUES ($1, $2, $3, $4, $4)
      ON CONFLICT (database) DO UPDATE SET url = excluded.url, sealed_password = excluded.sealed_password, updated_at = excluded.updated_at
      RETURNING ${COLUMNS}`, [source.database, source.url, source.sealedPassword, new Date().toISOString()]);
    return toSource(rows[0]!);
  }

  async deleteSource(database: string): Promise<boolean> {
    return (await this.db.query('DELETE FROM data_sources WHERE database = $1', [database])).rowCount === 1;
  }

  async appendSyncLog(run: SyncRun): Promise<void> {
    await this.db.query(`INSERT INTO sync_logs (id, database, type, status, started_at, finished_at, total_records, run)
      VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING`,
    [run.id, run.database, run.type, run.status, run.startedAt, run.finishedAt, run.totalRecords, JSON.stringify(run)]);
  }

  async listSyncLogs(options: { database?: string; limit: number }): Promise<SyncRun[]> {
    const { rows } = await this.db.query<{ run: SyncRun }>(`SELECT run FROM sync_logs WHERE $1::text IS NULL OR database = $1
      ORDER BY finished_at DESC, id DESC LIMIT $2`, [options.database ?? null, options.limit]);
    return rows.map((row) => row.run);
  }

  async pruneSyncLogs(before: string): Promise<number> {
    return (await this.db.query('DELETE FROM sync_logs WHERE finished_at < $1', [before])).rowCount ?? 0;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.db.release();
  }
}

function toSource(row: SourceRow): StoredSource {
  return { database: row.database, url: row.url, sealedPassword: row.sealed_password, createdAt: isoTime(row.created_at), updatedAt: isoTime(row.updated_at) };
}
