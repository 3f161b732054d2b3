/**
 * Backups of duckgate databases on either engine: the engine's consistent dump (`DatabaseDumps`:
 * DuckDB's checkpointed file copy, PostgreSQL's snapshot dump) stored with a manifest; a restore
 * verified (the file's SHA-256 here, every table's rows and checksum by the engine) and loaded all
 * or nothing; retention by count and age. Budgets: one backup or restore per database at a time
 * (409), and none that would leave less than `minFreeBytes` free (507).
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rm, stat, statfs, chmod } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ApiError, errors, isApiError } from '../../errors.js';
import type { DataEngine } from '../engine.js';
import { assertDatabaseName } from '../duckdb/names.js';
import { sha256File, verificationFailed } from './checks.js';
import { BACKUP_ID, type BackupManifest, type BackupStorage, type TableCheck } from './storage.js';

export interface RetentionPolicy {
  /** Newest backups kept per database; 0: no count limit. */
  keep: number;
  /** Backups older than this many days are deleted (the newest one never is); 0: no age limit. */
  maxAgeDays: number;
}

export interface BackupServiceOptions {
  engine: DataEngine;
  storage: BackupStorage;
  /** Where the data directory is, to measure its free space before a restore (DuckDB stages there). */
  dataDir: string;
  /** A backup or restore is refused (507) when it would leave less than this free. */
  minFreeBytes: number;
  /** Applied after every backup (a schedule may pass its own). */
  retention: RetentionPolicy;
  now?: () => Date;
}

export interface RestoreRequest {
  backupId: string;
  /** The database to restore into; default: a new name `<database>_restored_<time>`. */
  target?: string;
  /** Overwrite an existing database of that name (its current contents are lost). */
  replace?: boolean;
}

export interface RestoreResult {
  database: string;
  backupId: string;
  replaced: boolean;
  tables: TableCheck[];
  elapsedMs: number;
}

export interface BackupResult extends BackupManifest {
  elapsedMs: number;
  /** Ids deleted by retention after this backup. */
  pruned: string[];
}

export function insufficientStorage(message: string): ApiError {
  return new ApiError(507, 'insufficient_storage', message);
}

export class BackupService {
  /** Databases with a backup or restore running (by database name for backups, target for restores). */
  private readonly busy = new Map<string, 'backup' | 'restore'>();
  private readonly now: () => Date;

  constructor(private readonly options: BackupServiceOptions) {
    this.now = options.now ?? (() => new Date());
  }

  get storage(): BackupStorage {
    return this.options.storage;
  }

  /** What is running now: `{ sales: 'backup' }`. */
  running(): Record<string, 'backup' | 'restore'> {
    return Object.fromEntries(this.busy);
  }

  async list(database?: string): Promise<BackupManifest[]> {
    const all = await this.storage.list();
    return database === undefined ? all : all.filter((m) => m.database === database);
  }

  async create(database: string, retention: RetentionPolicy = this.options.retention): Promise<BackupResult> {
    assertDatabaseName(database);
    this.options.engine.database(database);
    const startedAt = performance.now();
    return this.exclusive(database, 'backup', async () => {
      const engine = this.options.engine;
      await this.requireSpace(await this.storage.freeBytes(), await engine.dumpBytes(database), 'BACKUP_DIR');
      const id = backupId(database, this.now());
      const staging = this.storage.stagingDir();
      await mkdir(staging, { recursive: true, mode: 0o700 });
      await chmod(staging, 0o700);
      const file = join(staging, `${id}.dump`);
      try {
        const dump = await engine.dumpDatabase(database, file);
        const manifest: BackupManifest = {
          id,
          database,
          createdAt: this.now().toISOString(),
          method: engine.dumpMethod,
          bytes: (await stat(file)).size,
          sha256: await sha256File(file),
          tables: dump.tables,
          writerHeldMs: dump.writerHeldMs,
          ...dump.versions,
        };
        await this.storage.put(manifest, file);
        const pruned = await this.prune(database, retention);
        return { ...manifest, elapsedMs: Math.round(performance.now() - startedAt), pruned };
      } finally {
        await rm(file, { force: true });
        await rm(`${file}.wal`, { force: true });
      }
    });
  }

  /**
   * Restores backup `backupId` into `target`: the file is fetched (DuckDB: into the data
   * directory), its SHA-256 compared with the manifest, then the engine verifies every table's row
   * count and checksum as it loads. On any difference nothing is changed (422
   * `backup_verification_failed`); a backup of the other engine is refused (400 `backup_unsupported`).
   */
  async restore(request: RestoreRequest): Promise<RestoreResult> {
    const startedAt = performance.now();
    if (!BACKUP_ID.test(request.backupId)) throw errors.badRequest('invalid_backup_id', `Invalid backup id '${request.backupId}'`);
    const manifest = await this.storage.get(request.backupId);
    if (manifest === undefined) throw errors.notFound(`Backup '${request.backupId}' not found`);
    const engine = this.options.engine;
    if (manifest.method !== engine.dumpMethod) {
      throw errors.badRequest('backup_unsupported', `Backup '${manifest.id}' is a ${manifest.method} backup; this data engine restores ${engine.dumpMethod} backups only (DuckDB files and PostgreSQL dumps do not cross)`);
    }
    const target = request.target ?? `${manifest.database}_restored_${compactTime(this.now()).toLowerCase()}`.slice(0, 63);
    assertDatabaseName(target);
    const replace = request.replace === true;
    const exists = engine.listDatabases().includes(target);
    if (exists && !replace) {
      throw errors.conflict(`Database '${target}' exists; restore into a new name, or pass replace: true to overwrite it`);
    }
    return this.exclusive(target, 'restore', async () => {
      const local = engine.loadStagingPath(target);
      const staged = local ?? join(this.storage.stagingDir(), `restore-${target}-${randomBytes(6).toString('hex')}.dump`);
      await this.requireSpace(local === undefined ? await this.storage.freeBytes() : await freeBytes(this.options.dataDir), manifest.bytes, local === undefined ? 'BACKUP_DIR' : 'DATA_DIR');
      try {
        await mkdir(dirname(staged), { recursive: true, mode: 0o700 });
        await this.storage.fetch(manifest.id, staged);
        if (await sha256File(staged) !== manifest.sha256) throw verificationFailed(['file: SHA-256 differs from the manifest']);
        await engine.loadDatabase(target, staged, { replace, expected: manifest.tables });
        return { database: target, backupId: manifest.id, replaced: exists, tables: manifest.tables, elapsedMs: Math.round(performance.now() - startedAt) };
      } catch (error) {
        if (isApiError(error) && error.code === 'backup_verification_failed') {
          const problems = Array.isArray(error.details) ? error.details as string[] : [];
          throw new ApiError(422, error.code, `Backup '${manifest.id}' failed verification: ${problems[0] ?? error.message}`, problems);
        }
        throw error;
      } finally {
        await rm(staged, { force: true });
        await rm(`${staged}.wal`, { force: true });
      }
    });
  }

  /** Deletes backups of `database` beyond `keep` and older than `maxAgeDays`; never the newest. Answers the ids deleted. */
  async prune(database: string, retention: RetentionPolicy = this.options.retention): Promise<string[]> {
    const backups = await this.list(database);
    const cutoff = this.now().getTime() - retention.maxAgeDays * 86_400_000;
    const doomed = backups.filter((backup, index) => index > 0 && (
      (retention.keep > 0 && index >= retention.keep) || (retention.maxAgeDays > 0 && Date.parse(backup.createdAt) < cutoff)
    ));
    for (const backup of doomed) await this.storage.remove(backup.id);
    return doomed.map((b) => b.id);
  }

  private async requireSpace(free: number | undefined, needed: number, where: string): Promise<void> {
    if (free === undefined) return;
    if (free - needed < this.options.minFreeBytes) {
      throw insufficientStorage(`Not enough free space in ${where}: ${free} bytes free, about ${needed} needed, and BACKUP_MIN_FREE (${this.options.minFreeBytes} bytes) must stay free`);
    }
  }

  private async exclusive<T>(database: string, kind: 'backup' | 'restore', task: () => Promise<T>): Promise<T> {
    const running = this.busy.get(database);
    if (running !== undefined) throw errors.conflict(`A ${running} of database '${database}' is already running`);
    this.busy.set(database, kind);
    try {
      return await task();
    } finally {
      this.busy.delete(database);
    }
  }
}

async function freeBytes(dir: string): Promise<number> {
  const stats = await statfs(dir).catch(() => statfs(dirname(dir)));
  return stats.bavail * stats.bsize;
}

function compactTime(date: Date): string {
  return date.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}

export function backupId(database: string, at: Date): string {
  return `${database}-${compactTime(at)}-${randomBytes(3).toString('hex')}`;
}
