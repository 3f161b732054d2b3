/**
 * Where backups are kept. The embedded implementation is a local directory (`local-storage.ts`);
 * an object store (S3 and the like) implements the same interface. Only the local one is built and
 * tested here: no object store runs on these machines.
 */

import type { DumpMethod, TableCheck } from '../engine.js';

export type { TableCheck } from '../engine.js';

/** What a backup is: written beside its file, read back to list, verify and restore it. */
export interface BackupManifest {
  /** `<database>-<UTC time>-<6 hex>`: sorts by database, then time. */
  id: string;
  database: string;
  /** ISO 8601, UTC. */
  createdAt: string;
  /**
   * How the snapshot was taken: `checkpoint-copy` (a checkpointed copy of the DuckDB file) or
   * `postgres-dump` (gzip NDJSON of one PostgreSQL snapshot, `postgres/dump-format.ts`). An
   * engine restores only its own kind (400 `backup_unsupported`).
   */
  method: DumpMethod;
  /** Size of the stored file. */
  bytes: number;
  /** SHA-256 of the stored file, hex. */
  sha256: string;
  /** Every base table, by name. */
  tables: TableCheck[];
  /** How long taking the snapshot held the writer, ms. */
  writerHeldMs: number;
  /** `checkpoint-copy`: the DuckDB library version that wrote the file (a file from a newer one may not open). */
  duckdbVersion?: string;
  /** `postgres-dump`: the server version (`server_version`) it was read from. */
  postgresVersion?: string;
}

export interface BackupStorage {
  /** `local` (or another implementation's name), shown in status answers. */
  readonly kind: string;
  /** A human-readable location for logs and status (a directory, a bucket URL). */
  readonly location: string;
  /**
   * Stores a finished backup: the file at `file` (moved or uploaded; the caller no longer
   * owns it) and its manifest. Nothing is listed until both are stored.
   */
  put(manifest: BackupManifest, file: string): Promise<void>;
  /** Every stored backup, newest first. */
  list(): Promise<BackupManifest[]>;
  get(id: string): Promise<BackupManifest | undefined>;
  /** Copies backup `id`'s stored file to `destination` (a local path). */
  fetch(id: string, destination: string): Promise<void>;
  remove(id: string): Promise<void>;
  /** A local directory to stage a snapshot in before `put`. */
  stagingDir(): string;
  /** Bytes free where backups are stored; undefined when the store cannot say (a remote one). */
  freeBytes(): Promise<number | undefined>;
}

/** The stored file's name for a backup of this method. */
export function backupFileName(method: DumpMethod): string {
  return method === 'postgres-dump' ? 'dump.ndjson.gz' : 'database.duckdb';
}

/** Backup ids as this module makes them; anything else is refused before it names a path. */
export const BACKUP_ID = /^[a-z][a-z0-9_-]{0,62}-\d{8}T\d{6}Z-[0-9a-f]{6}$/;
