/**
 * Where a database's source connection (issue 15) and its sync logs are kept: the control-plane
 * store (SQLite beside the databases, or PostgreSQL). The password is stored only as AES-256-GCM
 * ciphertext (`data/sync/source-secret.ts`); `url` never carries it.
 */
import type { SyncRun } from '../data/sync/types.js';

export interface StoredSource {
  database: string;
  /** The source URL without its password (`mysql://user@host:3306/db`). */
  url: string;
  /** The password, sealed (`v1.<iv>.<tag>.<ciphertext>`, base64url); null when the source has none. */
  sealedPassword: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface SourceStore {
  getSource(database: string): Promise<StoredSource | undefined>;
  listSources(): Promise<StoredSource[]>;
  /** Creates or replaces the source of `database`. */
  putSource(source: Omit<StoredSource, 'createdAt' | 'updatedAt'>): Promise<StoredSource>;
  /** True when there was one. */
  deleteSource(database: string): Promise<boolean>;

  appendSyncLog(run: SyncRun): Promise<void>;
  /** Newest first. */
  listSyncLogs(options: { database?: string; limit: number }): Promise<SyncRun[]>;
  /** Drops logs that finished before `before` (ISO time); answers how many went. */
  pruneSyncLogs(before: string): Promise<number>;
  close(): Promise<void>;
}
