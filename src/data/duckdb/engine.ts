import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { errors } from '../../errors.js';
import { compareChecks, duckdbVersion, fingerprintFile, verificationFailed } from '../backup/checks.js';
import type { DataEngine, Database, DumpInfo, EngineOptions, LoadOptions, SqlWrite } from '../engine.js';
import { DuckDBDatabase } from './database.js';
import { assertDatabaseName } from './names.js';

const DEFAULT = 'default';
const SUFFIX = '.duckdb';

/** Databases as files in one directory: `<dataDir>/<name>.duckdb`, `default` always present. */
export class DuckDBEngine implements DataEngine {
  private readonly databases = new Map<string, DuckDBDatabase>();
  /** Names being created or dropped right now, so two requests cannot race on one file. */
  private readonly busy = new Set<string>();
  private closing: Promise<void> | undefined;
  private readonly replacedListeners = new Set<(name: string) => void>();
  private readonly sqlWriteListeners = new Set<(write: SqlWrite) => void>();

  private constructor(private readonly options: EngineOptions) {}

  static async open(options: EngineOptions): Promise<DuckDBEngine> {
    mkdirSync(options.dataDir, { recursive: true });
    const engine = new DuckDBEngine(options);
    const names = new Set([DEFAULT]);
    for (const file of readdirSync(options.dataDir)) {
      if (!file.endsWith(SUFFIX)) continue;
      const name = file.slice(0, -SUFFIX.length);
      // A file whose name we would refuse to create is not ours: leave it alone rather than fail.
      if (/^[a-z][a-z0-9_-]{0,62}$/.test(name)) names.add(name);
    }
    try {
      for (const name of names) engine.databases.set(name, await engine.openFile(name));
    } catch (error) {
      await engine.close();
      throw error;
    }
    return engine;
  }

  private path(name: string): string {
    return join(this.options.dataDir, `${name}${SUFFIX}`);
  }

  private openFile(name: string): Promise<DuckDBDatabase> {
    return DuckDBDatabase.open(name, this.path(name), {
      ...this.options,
      onSqlWrite: (tables) => {
        const write: SqlWrite = tables === undefined ? { database: name } : { database: name, tables };
        for (const listener of this.sqlWriteListeners) listener(write);
      },
    });
  }

  watchSqlWrites(listener: (write: SqlWrite) => void): () => void {
    const own = (write: SqlWrite): void => listener(write);
    this.sqlWriteListeners.add(own);
    return () => this.sqlWriteListeners.delete(own);
  }

  private assertOpen(): void {
    if (this.closing !== undefined) throw errors.unavailable('Data engine is closed');
  }

  listDatabases(): string[] {
    return [DEFAULT, ...[...this.databases.keys()].filter((n) => n !== DEFAULT).sort()];
  }

  database(name: string): Database {
    const database = this.databases.get(name);
    if (database === undefined) throw errors.notFound(`Database '${name}' not found`);
    return database;
  }

  async createDatabase(name: string): Promise<void> {
    this.assertOpen();
    assertDatabaseName(name);
    if (this.databases.has(name) || this.busy.has(name)) throw errors.conflict(`Database '${name}' already exists`);
    this.busy.add(name);
    try {
      this.databases.set(name, await this.openFile(name));
    } finally {
      this.busy.delete(name);
    }
  }

  async dropDatabase(name: string): Promise<void> {
    this.assertOpen();
    assertDatabaseName(name);
    if (name === DEFAULT) throw errors.conflict('The default database cannot be dropped');
    const database = this.databases.get(name);
    if (database === undefined || this.busy.has(name)) throw errors.notFound(`Database '${name}' not found`);
    // Unlisted first: new requests get 404 while in-flight ones drain before the file goes.
    this.databases.delete(name);
    this.busy.add(name);
    try {
      await database.close();
      rmSync(this.path(name), { force: true });
      rmSync(`${this.path(name)}.wal`, { force: true });
    } finally {
      this.busy.delete(name);
    }
  }

  readonly dumpMethod = 'checkpoint-copy';

  async dumpBytes(name: string): Promise<number> {
    // The snapshot is at most the file plus its WAL.
    let bytes = 0;
    for (const file of this.databaseFiles(name)) bytes += (await stat(file).catch(() => ({ size: 0 }))).size;
    return bytes;
  }

  /**
   * A checkpointed copy of the file (the writer held for the checkpoint and the copy; readers never
   * wait), fingerprinted in a private instance: the live database only pays for the checkpoint and copy.
   */
  async dumpDatabase(name: string, destination: string): Promise<DumpInfo> {
    const held = performance.now();
    await this.snapshotDatabase(name, destination);
    const writerHeldMs = Math.round(performance.now() - held);
    try {
      const tables = await fingerprintFile(destination, this.checkOptions());
      return { tables, writerHeldMs, versions: { duckdbVersion: duckdbVersion() } };
    } finally {
      // Folded into the file by the fingerprinting instance.
      await rm(`${destination}.wal`, { force: true });
    }
  }

  loadStagingPath(label: string): string {
    return this.stagingPath(label);
  }

  /** Fingerprints the file at `source` (in a private instance) and, when it matches, moves it in. */
  async loadDatabase(name: string, source: string, options: LoadOptions): Promise<void> {
    try {
      const problems = compareChecks(options.expected, await fingerprintFile(source, this.checkOptions()));
      if (problems.length > 0) throw verificationFailed(problems);
    } finally {
      await rm(`${source}.wal`, { force: true });
    }
    await this.installDatabase(name, source, { replace: options.replace });
  }

  private checkOptions(): { memoryLimit: string; threads: number } {
    return { memoryLimit: this.options.memoryLimit, threads: this.options.threads };
  }

  /** Copies database `name` consistently to `destination` (see `checkpointedCopy`); answers the bytes copied. */
  snapshotDatabase(name: string, destination: string): Promise<number> {
    this.assertOpen();
    const database = this.databases.get(name);
    if (database === undefined) throw errors.notFound(`Database '${name}' not found`);
    return database.checkpointedCopy(destination);
  }

  /** The files database `name` lives in now (its file and WAL), to measure it. */
  databaseFiles(name: string): string[] {
    this.database(name);
    return [this.path(name), `${this.path(name)}.wal`];
  }

  stagingPath(label: string): string {
    // Not `*.duckdb`: a staged file left by a crash is never opened as a database at start.
    return join(this.options.dataDir, `.staging-${label.replace(/[^a-z0-9_-]/gi, '_')}-${randomBytes(6).toString('hex')}.tmp`);
  }

  /**
   * Moves the file at `source` in as database `name`. An existing database is replaced only with
   * `replace: true` (409 otherwise); it is closed first (requests in flight finish) and put back if
   * the new file does not open.
   */
  async installDatabase(name: string, source: string, options: { replace: boolean }): Promise<void> {
    this.assertOpen();
    assertDatabaseName(name);
    if (this.busy.has(name)) throw errors.conflict(`Database '${name}' is being created, dropped or restored`);
    const existing = this.databases.get(name);
    if (existing !== undefined && !options.replace) {
      throw errors.conflict(`Database '${name}' exists; restore into a new name, or pass replace: true to overwrite it`);
    }
    const path = this.path(name);
    const aside = `${path}.replaced`;
    this.busy.add(name);
    try {
      if (existing !== undefined) {
        // Unlisted first: new requests get 404 while in-flight ones finish on the old file.
        this.databases.delete(name);
        await existing.close();
        renameSync(path, aside);
        rmSync(`${path}.wal`, { force: true });
      }
      renameSync(source, path);
      let opened: DuckDBDatabase;
      try {
        opened = await this.openFile(name);
      } catch (error) {
        rmSync(path, { force: true });
        if (existing !== undefined) {
          renameSync(aside, path);
          this.databases.set(name, await this.openFile(name));
        }
        throw error;
      }
      this.databases.set(name, opened);
      rmSync(aside, { force: true });
    } finally {
      this.busy.delete(name);
    }
    // Also for a new name: a cache may still hold entries of a database of that name dropped earlier.
    for (const listener of this.replacedListeners) listener(name);
  }

  onDatabaseReplaced(listener: (name: string) => void): () => void {
    this.replacedListeners.add(listener);
    return () => this.replacedListeners.delete(listener);
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      const all = [...this.databases.values()];
      this.databases.clear();
      await Promise.all(all.map((d) => d.close()));
    })();
    return this.closing;
  }
}
