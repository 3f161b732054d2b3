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
import type { DataLimits } from '../limits.js';
import type { PgContext } from './context.js';
import { query } from './query.js';
import * as records from './records.js';
import { PgSchemaCache } from './schema.js';
import type { Sessions } from './session.js';
import { sync } from './sync.js';
import type { SyncTarget } from '../sync/target.js';
import { PostgresSyncTarget } from './sync-target.js';
import * as tables from './tables.js';

/** One duckgate database: one PostgreSQL schema on the shared pool. */
export class PostgresDatabase implements Database {
  private readonly ctx: PgContext;
  private target: PostgresSyncTarget | undefined;

  constructor(name: string, schema: string, sessions: Sessions, readers: Sessions | undefined, limits: DataLimits) {
    this.ctx = { name, schema, sessions, readers, schemas: new PgSchemaCache(schema), limits };
  }

  get name(): string {
    return this.ctx.name;
  }

  resolveTable(name: string, options?: CallOptions): Promise<string | undefined> {
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

  syncTarget(): SyncTarget {
    this.target ??= new PostgresSyncTarget(this.ctx);
    return this.target;
  }

  async ping(): Promise<boolean> {
    try {
      return await this.ctx.sessions.use(async (client) => (await client.query('SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1', [this.ctx.schema])).rowCount === 1, performance.now() + 2000);
    } catch {
      return false;
    }
  }
}
