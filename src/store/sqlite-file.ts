/**
 * Opening the control-plane SQLite file, shared by every store on it (keys, audit): WAL so the CLI
 * can write while a server reads, a busy timeout so two writers queue instead of failing, then the
 * migrations. Each store opens its own connection; SQLite serialises their writes.
 */
import Database from 'better-sqlite3';
import { ensurePrivateFile, tightenFile } from '../private-files.js';
import { MIGRATIONS, type Migration } from './migrations.js';

export interface OpenSqliteOptions {
  /**
   * Per connection. FULL syncs the WAL on every commit (key changes must survive a power cut);
   * NORMAL may lose the last commits on power loss, never corrupts, and costs far fewer fsyncs.
   */
  synchronous: 'FULL' | 'NORMAL';
}

export function openSqliteFile(file: string, options: OpenSqliteOptions): Database.Database {
  // SQLite gives its -wal and -shm files the mode of the database file, so a 0600 file made here
  // first keeps all three private whatever the umask; older, looser ones are tightened.
  ensurePrivateFile(file);
  for (const companion of [`${file}-wal`, `${file}-shm`]) tightenFile(companion);
  const db = new Database(file);
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('busy_timeout = 5000');
    db.pragma(`synchronous = ${options.synchronous}`);
    migrate(db);
  } catch (error) {
    db.close();
    throw error;
  }
  return db;
}

/**
 * Applies every migration not yet recorded, in order, each in its own transaction. A pending one
 * is re-checked under the write lock, so two processes (or two stores) opening an old file at the
 * same moment apply it once.
 */
export function migrate(db: Database.Database, migrations: readonly Migration[] = MIGRATIONS): void {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)`);
  const isApplied = db.prepare<[number], { version: number }>('SELECT version FROM schema_migrations WHERE version = ?');
  const applied = new Set(db.prepare<[], { version: number }>('SELECT version FROM schema_migrations').all().map((r) => r.version));
  for (const migration of migrations) {
    if (applied.has(migration.version)) continue;
    db.transaction(() => {
      if (isApplied.get(migration.version)) return;
      db.exec(migration.sql);
      db.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)').run(migration.version, new Date().toISOString());
    }).immediate();
  }
}
