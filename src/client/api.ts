/** Typed methods for every protected route (CONTRACT.md §5), over whichever credentials the client holds. */
import { DuckgateError } from './errors.js';
import { send, type Call, type Transport } from './http.js';
import type { TokenCache } from './credentials.js';
import type {
  AuthCheck,
  AuditFilters, AuditPage, BatchResult, BatchUpdate, CollectionList, CollectionPermissions, DatabaseChange, DatabaseList,
  DbOption, DeleteResult, FindQuery, Health, RegisteredKey, JsonObject, KeySummary, ListOptions, OwnPermissions, PermissionsSet,
  PermissionsUpdated, QueryParams, QueryResult, RegenerateOptions, RegeneratedKey, RegisterKeyRequest, Status, StatusMessage,
  StoredRecord, SyncRecord, SyncResult, TableDataOptions, TableSchema,
} from './types.js';

const seg = encodeURIComponent;

export abstract class DuckgateApi {
  protected constructor(
    protected readonly http: Transport,
    protected readonly tokens: TokenCache,
  ) {}

  /**
   * One authenticated call. On 401 `invalid_token` (the token expired early, or its key was
   * regenerated) it gets a new token and retries once; if that fails too, the error surfaces.
   * Retrying a write is safe: a 401 is answered before the route's handler runs.
   */
  protected async call<T>(call: Call): Promise<T> {
    const token = await this.tokens.current();
    try {
      return await send<T>(this.http, call, token);
    } catch (error) {
      if (!(error instanceof DuckgateError && error.status === 401 && error.code === 'invalid_token')) throw error;
      return send<T>(this.http, call, await this.tokens.renew(token));
    }
  }

  // ── Records ────────────────────────────────────────────────────────────────────────────────

  /** Insert a record (an `id` is generated when absent; the collection is created on first write). */
  insert<T extends object = JsonObject>(collection: string, record: T, options: DbOption = {}): Promise<StoredRecord<T>> {
    return this.call({ method: 'POST', path: `/api/insert/${seg(collection)}`, query: { db: options.db }, body: record });
  }

  /** Find with a filter, sort, paging and field selection. */
  find<T extends object = JsonObject>(collection: string, query: FindQuery = {}, options: DbOption = {}): Promise<StoredRecord<T>[]> {
    return this.call({ method: 'POST', path: `/api/find/${seg(collection)}`, query: { db: options.db }, body: query });
  }

  /** List records, a page at a time. */
  list<T extends object = JsonObject>(collection: string, options: ListOptions = {}): Promise<StoredRecord<T>[]> {
    return this.call({ method: 'GET', path: `/api/find/${seg(collection)}`, query: { db: options.db, limit: options.limit, skip: options.skip } });
  }

  findById<T extends object = JsonObject>(collection: string, id: string, options: DbOption = {}): Promise<StoredRecord<T>> {
    return this.call({ method: 'GET', path: `/api/find/${seg(collection)}/${seg(id)}`, query: { db: options.db } });
  }

  /** Update some fields; answers the whole record. */
  update<T extends object = JsonObject>(collection: string, id: string, patch: Partial<T>, options: DbOption = {}): Promise<StoredRecord<T>> {
    return this.call({ method: 'PUT', path: `/api/update/${seg(collection)}/${seg(id)}`, query: { db: options.db }, body: patch });
  }

  delete(collection: string, id: string, options: DbOption = {}): Promise<DeleteResult> {
    return this.call({ method: 'DELETE', path: `/api/delete/${seg(collection)}/${seg(id)}`, query: { db: options.db } });
  }

  /** Insert many records; each succeeds or fails on its own. Sent as `{ inserts: [{ data }] }`. */
  batchInsert<T extends object = JsonObject>(collection: string, records: T[], options: DbOption = {}): Promise<BatchResult> {
    return this.call({ method: 'POST', path: `/api/batch/insert/${seg(collection)}`, query: { db: options.db }, body: { inserts: records.map((data) => ({ data })) } });
  }

  batchUpdate<T extends object = JsonObject>(collection: string, updates: BatchUpdate<T>[], options: DbOption = {}): Promise<BatchResult> {
    return this.call({ method: 'PUT', path: `/api/batch/update/${seg(collection)}`, query: { db: options.db }, body: { updates } });
  }

  /** Delete many records by id. Sent as `{ deletes: [{ id }] }`. */
  batchDelete(collection: string, ids: string[], options: DbOption = {}): Promise<BatchResult> {
    return this.call({ method: 'DELETE', path: `/api/batch/delete/${seg(collection)}`, query: { db: options.db }, body: { deletes: ids.map((id) => ({ id })) } });
  }

  /** The collections the caller can see. */
  collections(options: DbOption = {}): Promise<CollectionList> {
    return this.call({ method: 'GET', path: '/api/collections', query: { db: options.db } });
  }

  /** Drop a collection and all its records (admin). */
  dropCollection(collection: string, options: DbOption = {}): Promise<StatusMessage> {
    return this.call({ method: 'DELETE', path: `/api/collections/${seg(collection)}`, query: { db: options.db } });
  }

  // ── SQL ────────────────────────────────────────────────────────────────────────────────────

  /** Run one SQL statement; `$1`-style params as an array, `$name` ones as an object. */
  query<Row extends object = JsonObject>(sql: string, params?: QueryParams, options: DbOption = {}): Promise<QueryResult<Row>> {
    return this.call({ method: 'POST', path: '/api/query', query: { db: options.db }, body: params === undefined ? { sql } : { sql, params } });
  }

  // ── Sync ───────────────────────────────────────────────────────────────────────────────────

  /** Upsert by `externalId` across collections, all or nothing: `{ "<collection>": [records] }`. */
  sync<T extends { externalId: string } = SyncRecord>(batches: Record<string, T[]>, options: DbOption = {}): Promise<SyncResult> {
    return this.call({ method: 'POST', path: '/v1/sync', query: { db: options.db }, body: batches });
  }

  /** Upsert one collection's records by `externalId`, all or nothing. */
  syncCollection<T extends { externalId: string } = SyncRecord>(collection: string, records: T[], options: DbOption = {}): Promise<SyncResult> {
    return this.call({ method: 'POST', path: `/v1/sync/${seg(collection)}`, query: { db: options.db }, body: records });
  }

  // ── Databases ──────────────────────────────────────────────────────────────────────────────

  /** The databases the caller can see. */
  databases(): Promise<DatabaseList> {
    return this.call({ method: 'GET', path: '/api/databases' });
  }

  /** Create a database (admin). */
  createDatabase(name: string): Promise<DatabaseChange> {
    return this.call({ method: 'POST', path: '/api/databases', body: { name } });
  }

  /** Drop a database and its file (admin). */
  dropDatabase(name: string): Promise<DatabaseChange> {
    return this.call({ method: 'DELETE', path: `/api/databases/${seg(name)}` });
  }

  // ── Tables ─────────────────────────────────────────────────────────────────────────────────

  tables(options: DbOption = {}): Promise<string[]> {
    return this.call({ method: 'GET', path: '/api/tables', query: { db: options.db } });
  }

  /** Table → row count. */
  tableCounts(options: DbOption = {}): Promise<Record<string, number>> {
    return this.call({ method: 'GET', path: '/api/tables/counts/all', query: { db: options.db } });
  }

  tableSchema(name: string, options: DbOption = {}): Promise<TableSchema> {
    return this.call({ method: 'GET', path: `/api/tables/${seg(name)}/schema`, query: { db: options.db } });
  }

  tableData<Row extends object = JsonObject>(name: string, options: TableDataOptions = {}): Promise<Row[]> {
    return this.call({ method: 'GET', path: `/api/tables/${seg(name)}/data`, query: { db: options.db, limit: options.limit, offset: options.offset } });
  }

  tableCount(name: string, options: DbOption = {}): Promise<{ count: number }> {
    return this.call({ method: 'GET', path: `/api/tables/${seg(name)}/count`, query: { db: options.db } });
  }

  // ── Keys and permissions ───────────────────────────────────────────────────────────────────

  /** Create a key (admin). The answer's `key` is the full key: the only time it is shown. */
  registerKey(body: RegisterKeyRequest): Promise<RegisteredKey> {
    return this.call({ method: 'POST', path: '/api/auth/register', body });
  }

  /** Every key (admin); prefixes only, never the full keys. */
  listKeys(): Promise<KeySummary[]> {
    return this.call({ method: 'GET', path: '/api/auth/keys' });
  }

  /** Revoke a key (admin); it and its tokens fail on the very next request. */
  revokeKey(keyId: string): Promise<StatusMessage> {
    return this.call({ method: 'DELETE', path: `/api/auth/keys/${seg(keyId)}` });
  }

  /** A new key for the same `key_id` (admin); the old one dies now or after `grace_seconds`. */
  regenerateKey(keyId: string, options: RegenerateOptions = {}): Promise<RegeneratedKey> {
    return this.call({ method: 'POST', path: `/api/auth/keys/${seg(keyId)}/regenerate`, body: options });
  }

  /** The caller's own permissions. */
  permissions(): Promise<OwnPermissions> {
    return this.call({ method: 'GET', path: '/api/auth/permissions' });
  }

  /** Replace a key's collection permissions (admin). */
  setPermissions(keyId: string, permissions: CollectionPermissions): Promise<PermissionsSet> {
    return this.call({ method: 'POST', path: '/api/auth/permissions', body: { key_id: keyId, collection_permissions: permissions } });
  }

  /** Merge permissions into a key's, per collection (admin); the answer lists the `changes`. */
  updatePermissions(keyId: string, permissions: CollectionPermissions): Promise<PermissionsUpdated> {
    return this.call({ method: 'PUT', path: '/api/auth/permissions', body: { key_id: keyId, collection_permissions: permissions } });
  }

  // ── Audit and operations ───────────────────────────────────────────────────────────────────

  /** The audit trail (admin), newest first; page with `before: page.next_before`. */
  audit(filters: AuditFilters = {}): Promise<AuditPage> {
    const time = (value: string | Date | undefined) => (value instanceof Date ? value.toISOString() : value);
    const kind = Array.isArray(filters.kind) ? filters.kind.join(',') : filters.kind;
    return this.call({
      method: 'GET',
      path: '/api/audit',
      query: {
        kind, actor: filters.actor, ip: filters.ip, code: filters.code, target: filters.target,
        since: time(filters.since), until: time(filters.until), limit: filters.limit, before: filters.before,
      },
    });
  }

  /** Database health. An unhealthy server (503) answers a report too, so it is returned, not thrown. */
  health(): Promise<Health> {
    return this.call({ method: 'GET', path: '/health', acceptStatus: [503] });
  }

  status(): Promise<Status> {
    return this.call({ method: 'GET', path: '/status' });
  }

  /** Whether the server accepts this client's credential, and whose it is (always answers). */
  async checkAuth(): Promise<AuthCheck> {
    return send<AuthCheck>(this.http, { method: 'GET', path: '/api/check-auth' }, await this.tokens.current());
  }

  /** Prometheus text exposition. */
  metrics(): Promise<string> {
    return this.call({ method: 'GET', path: '/metrics', text: true });
  }
}
