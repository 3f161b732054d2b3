import { constants } from 'node:fs';
import { copyFile, stat } from 'node:fs/promises';
import { DuckDBInstance } from '@duckdb/node-api';
import { tightenFile } from '../../private-files.js';
import type {
  BatchResult,
  CallOptions,
  ColumnInfo,
  Database,
  FieldView,
  FindQuery,
  Json,
  JsonObject,
  QueryOptions,
  QueryResult,
  ReadOptions,
  Rows,
  SyncCounts,
} from '../engine.js';
import { dataLimits, type DataLimits } from '../limits.js';
import { CatalogVersion } from './catalog-version.js';
import { PooledConnection, ReadPool, Writer } from './connections.js';
import type { DatabaseContext } from './context.js';
import { query } from './query.js';
import * as records from './records.js';
import { SchemaCache } from './schema.js';
import { sync } from './sync.js';
import { DuckDBSyncTarget } from './sync-target.js';
import type { SyncTarget } from '../sync/target.js';
import * as tables from './tables.js';

export interface InstanceOptions {
  memoryLimit: string;
  threads: number;
  readConnections: number;
  limits?: Partial<DataLimits>;
  /** Told what each SQL write touched (see `DataEngine.watchSqlWrites`). */
  onSqlWrite?: (tables: readonly string[] | undefined) => void;
}

/**
 * The sandbox every instance starts in. `lock_configuration` comes last and freezes the rest, so
 * no SQL can turn file access or extension loading back on.
 */
export function instanceConfig(options: InstanceOptions): Record<string, string> {
  return {
    enable_external_access: 'false',
    allow_community_extensions: 'false',
    autoinstall_known_extensions: 'false',
    autoload_known_extensions: 'false',
    memory_limit: options.memoryLimit,
    threads: String(options.threads),
    lock_configuration: 'true',
  };
}

/** One `.duckdb` file: a writer connection, a pool of readers, and the caches they share. */
export class DuckDBDatabase implements Database {
  private closing: Promise<void> | undefined;
  private target: DuckDBSyncTarget | undefined;

  private constructor(
    private readonly instance: DuckDBInstance,
    private readonly ctx: DatabaseContext,
    /** The `.duckdb` file (its WAL is `${path}.wal`). */
    readonly path: string,
  ) {}

  static async open(name: string, path: string, options: InstanceOptions): Promise<DuckDBDatabase> {
    const instance = await DuckDBInstance.create(path, instanceConfig(options));
    // DuckDB creates the file (it refuses an empty one made beforehand); make it 0600 now. Its WAL
    // comes and goes with checkpoints and takes the server's umask (see `usePrivateUmask`).
    for (const file of [path, `${path}.wal`]) tightenFile(file);
    const version = new CatalogVersion();
    const connect = async (): Promise<PooledConnection> => new PooledConnection(await instance.connect(), version);
    try {
      const writer = new Writer(await connect());
      const readers = new ReadPool(await Promise.all(Array.from({ length: Math.max(1, options.readConnections) }, connect)));
      return new DuckDBDatabase(instance, { name, writer, readers, schemas: new SchemaCache(version), version, limits: dataLimits(options.limits), sqlWritten: options.onSqlWrite ?? (() => {}) }, path);
    } catch (error) {
      instance.closeSync();
      throw error;
    }
  }

  get name(): string {
    return this.ctx.name;
  }

  resolveTable(name: string, options?: CallOptions): string | undefined | Promise<string | undefined> {
    return tables.resolveTable(this.ctx, name, undefined, options?.deadline);
  }
  listCollections(options?: CallOptions): Promise<string[]> {
    return tables.listCollections(this.ctx, options);
  }
  hasCollection(collection: string, options?: CallOptions): Promise<boolean> {
    return tables.hasCollection(this.ctx, collection, options);
  }
  dropCollection(collection: string, options?: CallOptions): Promise<void> {
    return tables.dropCollection(this.ctx, collection, options);
  }
  countAll(options?: CallOptions): Promise<Record<string, number>> {
    return tables.countAll(this.ctx, options);
  }
  count(table: string, options?: CallOptions): Promise<number> {
    return tables.count(this.ctx, table, options);
  }
  schema(table: string, options?: CallOptions): Promise<ColumnInfo[]> {
    return tables.schema(this.ctx, table, options);
  }
  rows(table: string, limit: number, offset: number, view?: FieldView, options?: ReadOptions): Promise<Rows> {
    return tables.rows(this.ctx, table, limit, offset, view, options);
  }

  insert(collection: string, record: JsonObject, options?: CallOptions): Promise<JsonObject> {
    return records.insert(this.ctx, collection, record, options);
  }
  find(collection: string, findQuery: FindQuery, options?: ReadOptions): Promise<Rows> {
    return records.find(this.ctx, collection, findQuery, options);
  }
  findById(collection: string, id: string, fields?: Pick<FindQuery, 'select_fields' | 'exclude_fields'>, options?: CallOptions): Promise<JsonObject> {
    return records.findById(this.ctx, collection, id, fields, options);
  }
  update(collection: string, id: string, patch: JsonObject, options?: CallOptions): Promise<JsonObject> {
    return records.update(this.ctx, collection, id, patch, options);
  }
  delete(collection: string, id: string, options?: CallOptions): Promise<void> {
    return records.remove(this.ctx, collection, id, options);
  }
  batchInsert(collection: string, items: JsonObject[], options?: CallOptions): Promise<BatchResult> {
    return records.batchInsert(this.ctx, collection, items, options);
  }
  batchUpdate(collection: string, updates: { id: string; data: JsonObject }[], options?: CallOptions): Promise<BatchResult> {
    return records.batchUpdate(this.ctx, collection, updates, options);
  }
  batchDelete(collection: string, ids: string[], options?: CallOptions): Promise<BatchResult> {
    return records.batchDelete(this.ctx, collection, ids, options);
  }

  sync(batches: Record<string, JsonObject[]>, options?: CallOptions): Promise<Record<string, SyncCounts>> {
    return sync(this.ctx, batches, options);
  }

  query(sql: string, params: Json[] | Record<string, Json> | undefined, options: QueryOptions): Promise<QueryResult> {
    return query(this.ctx, sql, params, options);
  }

  /**
   * A consistent copy of this database's file at `destination` (and its WAL beside it, should one
   * survive the checkpoint). Holds the writer for the checkpoint and the copy, so no write lands
   * half-way; readers go on meanwhile (they never touch the file's committed blocks). The copy is a
   * reflink where the file system offers one, else a plain copy. Answers the bytes copied.
   */
  async checkpointedCopy(destination: string): Promise<number> {
    return this.ctx.writer.use(async (connection) => {
      await connection.exec('CHECKPOINT');
      await copyFile(this.path, destination, constants.COPYFILE_FICLONE);
      let bytes = (await stat(destination)).size;
      const wal = await stat(`${this.path}.wal`).catch(() => undefined);
      if (wal !== undefined && wal.size > 0) {
        await copyFile(`${this.path}.wal`, `${destination}.wal`);
        bytes += wal.size;
      }
      return bytes;
    });
  }

  syncTarget(): SyncTarget {
    this.target ??= new DuckDBSyncTarget(this.ctx);
    return this.target;
  }

  async ping(): Promise<boolean> {
    try {
      await this.ctx.readers.use((connection) => connection.run('SELECT 1', []));
      return true;
    } catch {
      return false;
    }
  }

  /** Lets in-flight work finish, then closes connections and the instance; safe to call twice. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await Promise.all([this.ctx.writer.close(), this.ctx.readers.close()]);
      this.instance.closeSync();
    })();
    return this.closing;
  }
}
