/**
 * A read-through cache of point reads (`findById`), as a decorator over any `DataEngine`: entries
 * keyed by database, collection (folded as the binder folds it) and id, least recently used
 * evicted first, bounded by an estimate of their bytes (RECORD_CACHE_BYTES). Each entry is the
 * whole record and its JSON text; field rules are applied after the cache, so every caller sees its
 * own view. The text answers a hit that no field rule changes without serialising the record again
 * (`findByIdJson`); a view that leaves fields out is serialised from the record.
 *
 * Freshness: every write that can touch a record drops what it may have changed synchronously,
 * once the write is over and before its call resolves, so a write is acknowledged only after its
 * invalidation. Record writes drop their ids (the whole collection when they may add a column,
 * since every cached record would then miss it, or when they fail); sync, collection drops and
 * batches that may add a column drop the collection; SQL statements drop the tables the engine
 * reports (`watchSqlWrites`), or the whole database; database creation and drops drop the database.
 *
 * The race a cache must not lose: a read that started before a write may finish after the write's
 * invalidation and put the old record back. A read that misses takes a ticket before asking the
 * engine; every invalidation marks the tickets in flight that it concerns (same database, and same
 * collection and id unless it is wider), and a marked ticket's answer is never cached. Tickets live
 * only while their read does, so nothing grows with the names callers try.
 *
 * With several replicas on one shared data engine (DATA_URL), another replica's writes do not pass
 * through this decorator: the cache may be on there only when every write's invalidation reaches
 * this replica (`invalidateTable` / `invalidateDatabase`), otherwise it must stay off.
 */
import type { SyncTarget } from './sync/target.js';
import type {
  BatchResult, CallOptions, ColumnInfo, DataEngine, Database, DumpInfo, DumpMethod, FieldView, FindQuery, Json, JsonObject, QueryOptions, QueryResult,
  LoadOptions, ReadOptions, Rows, SqlWrite, SyncCounts,
} from './engine.js';
import { foldIdentifier, isIdentifier } from './identifiers.js';

/** What an entry costs besides its record's strings and its JSON text: the entry, its map slot, the id, the object's shape. */
const ENTRY_OVERHEAD_BYTES = 200;
const FIELD_OVERHEAD_BYTES = 40;

export interface RecordCacheStats {
  maxBytes: number;
  bytes: number;
  entries: number;
  hits: number;
  misses: number;
  evictions: number;
  /** Reads whose answer was not cached because a write concerning it was invalidated meanwhile. */
  discardedFills: number;
  /** Invalidations by scope: records, collections (tables), databases. */
  invalidations: { record: number; table: number; database: number };
}

/** A cached record and its JSON text (`JSON.stringify(value)`); both frozen in effect: never mutate `value`. */
export interface CachedRecord {
  readonly value: JsonObject;
  readonly json: string;
}

interface Entry extends CachedRecord {
  id: string;
  bucket: Bucket;
  bytes: number;
  /** Towards the most recently used entry. */
  newer: Entry | undefined;
  older: Entry | undefined;
}

/** One collection's entries; dropped when its last entry goes. */
interface Bucket {
  database: string;
  table: string;
  entries: Map<string, Entry>;
  /** Folded column names of the cached records (all records of a table share them). */
  columns: Set<string>;
}

/** A read in flight that missed: its answer is cached only if no invalidation concerning it came meanwhile. */
export interface FillTicket {
  readonly database: string;
  readonly table: string;
  readonly id: string;
  /** Set by an invalidation that concerns this read. */
  stale: boolean;
}

/** Byte-bounded LRU of records; every method is synchronous. */
export class RecordCache {
  private readonly databases = new Map<string, Map<string, Bucket>>();
  private readonly inFlight = new Set<FillTicket>();
  private newest: Entry | undefined;
  private oldest: Entry | undefined;
  private bytes = 0;
  private entries = 0;
  private hits = 0;
  private misses = 0;
  private evictions = 0;
  private discardedFills = 0;
  private readonly invalidations = { record: 0, table: 0, database: 0 };

  constructor(readonly maxBytes: number) {
    if (!Number.isSafeInteger(maxBytes) || maxBytes <= 0) throw new RangeError('RecordCache needs a positive byte bound');
  }

  /** The cached record (frozen: never mutate it), or undefined; counts a hit or a miss. `table` is folded. */
  get(database: string, table: string, id: string): JsonObject | undefined {
    return this.lookup(database, table, id)?.value;
  }

  /**
   * The cached record with its JSON text, or undefined; counts a hit, and a miss unless `countMiss`
   * is false (a caller that reads through `findById` next, which counts it). `table` is folded.
   */
  lookup(database: string, table: string, id: string, countMiss = true): CachedRecord | undefined {
    const entry = this.databases.get(database)?.get(table)?.entries.get(id);
    if (entry === undefined) {
      if (countMiss) this.misses++;
      return undefined;
    }
    this.hits++;
    this.touch(entry);
    return entry;
  }

  /** Taken before a missed read asks the engine; hand it back with `fill` or `release`. */
  ticket(database: string, table: string, id: string): FillTicket {
    const ticket: FillTicket = { database, table, id, stale: false };
    this.inFlight.add(ticket);
    return ticket;
  }

  /** The read failed: nothing to cache. */
  release(ticket: FillTicket): void {
    this.inFlight.delete(ticket);
  }

  /**
   * Caches `record` as the answer of the ticket's read unless an invalidation concerning it came
   * since the ticket was taken. Only records whose `id` is exactly the id asked for are kept: a table
   * made through SQL with a numeric id answers `"05"` with record 5, and a write to `"5"` would not drop it.
   */
  fill(ticket: FillTicket, record: JsonObject): void {
    this.inFlight.delete(ticket);
    if (ticket.stale) {
      this.discardedFills++;
      return;
    }
    const { database, table, id } = ticket;
    if (record.id !== id) return;
    const keys = Object.keys(record);
    let bucket = this.databases.get(database)?.get(table);
    if (bucket !== undefined && (bucket.entries.has(id) || bucket.columns.size !== keys.length || !keys.every((k) => bucket!.columns.has(foldIdentifier(k))))) return;
    const json = JSON.stringify(record);
    // The record's strings counted as two bytes a character (V8's worst case), the text as it is held.
    const bytes = ENTRY_OVERHEAD_BYTES + keys.length * FIELD_OVERHEAD_BYTES + 2 * (id.length + json.length) + textBytes(json);
    if (bytes > this.maxBytes) return;
    if (bucket === undefined) {
      let tables = this.databases.get(database);
      if (tables === undefined) {
        tables = new Map();
        this.databases.set(database, tables);
      }
      bucket = { database, table, entries: new Map(), columns: new Set(keys.map(foldIdentifier)) };
      tables.set(table, bucket);
    }
    const entry: Entry = { id, bucket, value: deepFreeze(record), json, bytes, newer: undefined, older: this.newest };
    if (this.newest) this.newest.newer = entry;
    this.newest = entry;
    this.oldest ??= entry;
    bucket.entries.set(id, entry);
    this.bytes += bytes;
    this.entries++;
    while (this.bytes > this.maxBytes && this.oldest !== undefined) {
      this.remove(this.oldest);
      this.evictions++;
    }
  }

  /**
   * True when `keys` (field names a write carries) may name a column the cached records of `table`
   * lack. With nothing cached the columns are unknown, and a read in flight may be about to cache a
   * record without the new column: true then too.
   */
  wouldAddColumn(database: string, table: string, keys: Iterable<string>): boolean {
    const columns = this.databases.get(database)?.get(foldIdentifier(table))?.columns;
    if (columns === undefined) return true;
    for (const key of keys) if (!columns.has(foldIdentifier(key))) return true;
    return false;
  }

  invalidateRecords(database: string, table: string, ids: Iterable<string>): void {
    const folded = foldIdentifier(table);
    const wanted = new Set(ids);
    this.invalidations.record += wanted.size;
    this.markInFlight((t) => t.database === database && t.table === folded && wanted.has(t.id));
    const bucket = this.databases.get(database)?.get(folded);
    if (bucket === undefined) return;
    for (const id of wanted) {
      const entry = bucket.entries.get(id);
      if (entry !== undefined) this.remove(entry);
    }
  }

  /** Every record of `table` (any spelling the binder folds alike) in `database`. */
  invalidateTable(database: string, table: string): void {
    const folded = foldIdentifier(table);
    this.invalidations.table++;
    this.markInFlight((t) => t.database === database && t.table === folded);
    const bucket = this.databases.get(database)?.get(folded);
    if (bucket !== undefined) for (const entry of [...bucket.entries.values()]) this.remove(entry);
  }

  invalidateDatabase(database: string): void {
    this.invalidations.database++;
    this.markInFlight((t) => t.database === database);
    for (const bucket of [...(this.databases.get(database)?.values() ?? [])]) {
      for (const entry of [...bucket.entries.values()]) this.remove(entry);
    }
  }

  stats(): RecordCacheStats {
    return {
      maxBytes: this.maxBytes,
      bytes: this.bytes,
      entries: this.entries,
      hits: this.hits,
      misses: this.misses,
      evictions: this.evictions,
      discardedFills: this.discardedFills,
      invalidations: { ...this.invalidations },
    };
  }

  private markInFlight(concerns: (ticket: FillTicket) => boolean): void {
    for (const ticket of this.inFlight) if (concerns(ticket)) ticket.stale = true;
  }

  private touch(entry: Entry): void {
    if (entry === this.newest) return;
    this.unlink(entry);
    entry.older = this.newest;
    if (this.newest) this.newest.newer = entry;
    this.newest = entry;
    this.oldest ??= entry;
    this.bytes += entry.bytes;
    this.entries++;
  }

  /** Out of the cache; a bucket left empty goes too. */
  private remove(entry: Entry): void {
    const { bucket } = entry;
    bucket.entries.delete(entry.id);
    this.unlink(entry);
    if (bucket.entries.size === 0) {
      const tables = this.databases.get(bucket.database);
      tables?.delete(bucket.table);
      if (tables?.size === 0) this.databases.delete(bucket.database);
    }
  }

  /** Out of the recency list and the counts; the bucket's map is the caller's. */
  private unlink(entry: Entry): void {
    if (entry.newer) entry.newer.older = entry.older;
    else this.newest = entry.older;
    if (entry.older) entry.older.newer = entry.newer;
    else this.oldest = entry.newer;
    entry.newer = undefined;
    entry.older = undefined;
    this.bytes -= entry.bytes;
    this.entries--;
  }
}

/** Heap bytes of a string: a header, then one byte a character, or two once any is past Latin-1. */
function textBytes(text: string): number {
  return 16 + (/[^\u0000-\u00ff]/.test(text) ? 2 : 1) * text.length;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

type Fields = Pick<FindQuery, 'select_fields' | 'exclude_fields'> | undefined;

/**
 * The fields `fields` lets through, as the engine's projection picks them: `id` always, names
 * folded, unknown names ignored. `record` itself when every field passes (its cached text is then
 * the answer's).
 */
function project(record: JsonObject, fields: Fields): JsonObject {
  const select = fields?.select_fields;
  const exclude = fields?.exclude_fields;
  if ((select === undefined || select === null) && (exclude === undefined || exclude === null || exclude.length === 0)) return record;
  const wanted = select === undefined || select === null ? undefined : new Set(select.map((f) => foldIdentifier(String(f))));
  const unwanted = new Set((exclude ?? []).map((f) => foldIdentifier(String(f))));
  const out: JsonObject = {};
  let left = 0;
  for (const name in record) {
    const key = foldIdentifier(name);
    if (key !== 'id' && ((wanted !== undefined && !wanted.has(key)) || unwanted.has(key))) {
      left++;
      continue;
    }
    out[name] = record[name]!;
  }
  return left === 0 ? record : out;
}

/** Shapes the engine would refuse are left to the engine, so its error is the answer. */
function cacheableFields(fields: Fields): boolean {
  if (fields === undefined || fields === null) return true;
  const { select_fields: select, exclude_fields: exclude } = fields;
  return (select === undefined || select === null || Array.isArray(select)) && (exclude === undefined || exclude === null || Array.isArray(exclude));
}

function isPlainObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Field names of the records a write carries (objects only: anything else fails in the engine). */
function* fieldNames(records: readonly unknown[]): Iterable<string> {
  for (const record of records) if (isPlainObject(record)) yield* Object.keys(record);
}

/** Any `DataEngine` with the record cache in front of its point reads. */
export class CachedEngine implements DataEngine {
  private readonly wrappers = new WeakMap<Database, CachedDatabase>();
  private readonly unwatch: (() => void) | undefined;
  private readonly unwatchReplaced: () => void;
  /** The engine reports its SQL writes (else every `query` call counts as a write to the whole database). */
  readonly sqlWritesReported: boolean;

  constructor(readonly inner: DataEngine, readonly cache: RecordCache) {
    this.unwatch = inner.watchSqlWrites?.((write) => {
      if (write.tables === undefined) cache.invalidateDatabase(write.database);
      else for (const table of write.tables) cache.invalidateTable(write.database, table);
    });
    this.sqlWritesReported = this.unwatch !== undefined;
    // A restore puts another database in place: nothing cached of it is true any more.
    this.unwatchReplaced = inner.onDatabaseReplaced((name) => cache.invalidateDatabase(name));
  }

  get dumpMethod(): DumpMethod {
    return this.inner.dumpMethod;
  }

  dumpBytes(name: string): Promise<number> {
    return this.inner.dumpBytes(name);
  }

  dumpDatabase(name: string, destination: string): Promise<DumpInfo> {
    return this.inner.dumpDatabase(name, destination);
  }

  loadStagingPath(label: string): string | undefined {
    return this.inner.loadStagingPath(label);
  }

  async loadDatabase(name: string, source: string, options: LoadOptions): Promise<void> {
    try {
      await this.inner.loadDatabase(name, source, options);
    } finally {
      this.cache.invalidateDatabase(name);
    }
  }

  onDatabaseReplaced(listener: (name: string) => void): () => void {
    return this.inner.onDatabaseReplaced(listener);
  }

  /** Drops every cached record of `table` in `database`: for writes that do not pass through this engine (restores, other replicas). */
  invalidateTable(database: string, table: string): void {
    this.cache.invalidateTable(database, table);
  }

  /** Drops every cached record of `database`. */
  invalidateDatabase(database: string): void {
    this.cache.invalidateDatabase(database);
  }

  watchSqlWrites(listener: (write: SqlWrite) => void): () => void {
    return this.inner.watchSqlWrites?.(listener) ?? (() => {});
  }

  listDatabases(): string[] {
    return this.inner.listDatabases();
  }

  database(name: string): Database {
    const inner = this.inner.database(name);
    let wrapper = this.wrappers.get(inner);
    if (wrapper === undefined) {
      wrapper = new CachedDatabase(inner, this.cache, this.sqlWritesReported);
      this.wrappers.set(inner, wrapper);
    }
    return wrapper;
  }

  async createDatabase(name: string): Promise<void> {
    try {
      await this.inner.createDatabase(name);
    } finally {
      if (typeof name === 'string') this.cache.invalidateDatabase(name);
    }
  }

  async dropDatabase(name: string): Promise<void> {
    try {
      await this.inner.dropDatabase(name);
    } finally {
      if (typeof name === 'string') this.cache.invalidateDatabase(name);
    }
  }

  async close(): Promise<void> {
    this.unwatch?.();
    this.unwatchReplaced();
    await this.inner.close();
  }
}

class CachedDatabase implements Database {
  constructor(
    private readonly inner: Database,
    private readonly cache: RecordCache,
    private readonly sqlWritesReported: boolean,
  ) {}

  get name(): string {
    return this.inner.name;
  }

  /** Source sync writes tables through this target: each write drops what it touched before it resolves. */
  syncTarget(): SyncTarget {
    return cachedSyncTarget(this.inner.syncTarget(), this.inner.name, this.cache);
  }

  /**
   * `JSON.stringify` of what `findById` would answer, when the cache holds the record: its kept
   * text when `fields` leaves it whole, else the view serialised. Undefined on a miss (counted by
   * the `findById` that follows) or for anything `findById` would not answer from the cache.
   */
  findByIdJson(collection: string, id: string, fields?: Fields): string | undefined {
    if (!isIdentifier(collection) || typeof id !== 'string' || !cacheableFields(fields)) return undefined;
    const hit = this.cache.lookup(this.inner.name, foldIdentifier(collection), id, false);
    if (hit === undefined) return undefined;
    const view = project(hit.value, fields);
    return view === hit.value ? hit.json : JSON.stringify(view);
  }

  async findById(collection: string, id: string, fields?: Fields, options?: CallOptions): Promise<JsonObject> {
    if (!isIdentifier(collection) || typeof id !== 'string' || !cacheableFields(fields)) return this.inner.findById(collection, id, fields, options);
    const database = this.inner.name;
    const table = foldIdentifier(collection);
    const hit = this.cache.get(database, table, id);
    if (hit !== undefined) return project(hit, fields);
    const ticket = this.cache.ticket(database, table, id);
    let record: JsonObject;
    try {
      record = await this.inner.findById(collection, id, undefined, options);
    } catch (error) {
      this.cache.release(ticket);
      throw error;
    }
    this.cache.fill(ticket, record);
    return project(record, fields);
  }

  // ---- writes: each drops what it may have changed once it is over, before it resolves ----

  /** After a record write: its ids, or the collection when it failed (`ids` unset) or may have added a column. */
  private written(collection: unknown, ids: Iterable<string> | undefined, records: readonly unknown[]): void {
    if (typeof collection !== 'string') return;
    const database = this.inner.name;
    const table = foldIdentifier(collection);
    if (ids === undefined || this.cache.wouldAddColumn(database, table, fieldNames(records))) this.cache.invalidateTable(database, table);
    else this.cache.invalidateRecords(database, table, ids);
  }

  async insert(collection: string, record: JsonObject, options?: CallOptions): Promise<JsonObject> {
    let ids: string[] | undefined;
    try {
      const inserted = await this.inner.insert(collection, record, options);
      ids = [String(inserted.id)];
      return inserted;
    } finally {
      this.written(collection, ids, [record]);
    }
  }

  async update(collection: string, id: string, patch: JsonObject, options?: CallOptions): Promise<JsonObject> {
    let ids: string[] | undefined;
    try {
      const updated = await this.inner.update(collection, id, patch, options);
      ids = [id];
      return updated;
    } finally {
      this.written(collection, ids, [patch]);
    }
  }

  async delete(collection: string, id: string, options?: CallOptions): Promise<void> {
    let ids: string[] | undefined;
    try {
      await this.inner.delete(collection, id, options);
      ids = [id];
    } finally {
      this.written(collection, ids, []);
    }
  }

  async batchInsert(collection: string, records: JsonObject[], options?: CallOptions): Promise<BatchResult> {
    let ids: string[] | undefined;
    try {
      const result = await this.inner.batchInsert(collection, records, options);
      ids = batchIds(result);
      return result;
    } finally {
      this.written(collection, ids, Array.isArray(records) ? records : []);
    }
  }

  async batchUpdate(collection: string, updates: { id: string; data: JsonObject }[], options?: CallOptions): Promise<BatchResult> {
    let ids: string[] | undefined;
    try {
      const result = await this.inner.batchUpdate(collection, updates, options);
      // Every id asked for: an item that failed on its deadline may still have landed.
      ids = [...batchIds(result), ...updates.map((u) => u?.id).filter((x): x is string => typeof x === 'string')];
      return result;
    } finally {
      this.written(collection, ids, Array.isArray(updates) ? updates.map((u) => u?.data) : []);
    }
  }

  async batchDelete(collection: string, ids: string[], options?: CallOptions): Promise<BatchResult> {
    let done: string[] | undefined;
    try {
      const result = await this.inner.batchDelete(collection, ids, options);
      done = [...batchIds(result), ...ids.filter((x): x is string => typeof x === 'string')];
      return result;
    } finally {
      this.written(collection, done, []);
    }
  }

  async sync(batches: Record<string, JsonObject[]>, options?: CallOptions): Promise<Record<string, SyncCounts>> {
    try {
      return await this.inner.sync(batches, options);
    } finally {
      // Records are matched by externalId, so their ids are not known here: the collections go.
      if (isPlainObject(batches)) for (const collection of Object.keys(batches)) this.cache.invalidateTable(this.inner.name, collection);
    }
  }

  async dropCollection(collection: string, options?: CallOptions): Promise<void> {
    try {
      await this.inner.dropCollection(collection, options);
    } finally {
      if (typeof collection === 'string') this.cache.invalidateTable(this.inner.name, collection);
    }
  }

  async query(sql: string, params: Json[] | Record<string, Json> | undefined, options: QueryOptions): Promise<QueryResult> {
    if (this.sqlWritesReported) return this.inner.query(sql, params, options);
    try {
      return await this.inner.query(sql, params, options);
    } finally {
      this.cache.invalidateDatabase(this.inner.name);
    }
  }

  // ---- reads that do not go through the cache ----

  resolveTable(name: string, options?: CallOptions): string | undefined | Promise<string | undefined> {
    return this.inner.resolveTable(name, options);
  }
  listCollections(options?: CallOptions): Promise<string[]> {
    return this.inner.listCollections(options);
  }
  hasCollection(collection: string, options?: CallOptions): Promise<boolean> {
    return this.inner.hasCollection(collection, options);
  }
  countAll(options?: CallOptions): Promise<Record<string, number>> {
    return this.inner.countAll(options);
  }
  count(table: string, options?: CallOptions): Promise<number> {
    return this.inner.count(table, options);
  }
  schema(table: string, options?: CallOptions): Promise<ColumnInfo[]> {
    return this.inner.schema(table, options);
  }
  rows(table: string, limit: number, offset: number, view?: FieldView, options?: ReadOptions): Promise<Rows> {
    return this.inner.rows(table, limit, offset, view, options);
  }
  find(collection: string, query: FindQuery, options?: ReadOptions): Promise<Rows> {
    return this.inner.find(collection, query, options);
  }
  ping(): Promise<boolean> {
    return this.inner.ping();
  }
}

function batchIds(result: BatchResult): string[] {
  return [...result.successful, ...result.failed.map((f) => f.id).filter((x): x is string => typeof x === 'string')];
}

/**
 * A point read's JSON text straight from the record cache, when `db` has one and it holds the
 * record (see `findByIdJson`); undefined otherwise: read through `db.findById` then.
 */
export function cachedRecordJson(db: Database, collection: string, id: string, fields?: Fields): string | undefined {
  return db instanceof CachedDatabase ? db.findByIdJson(collection, id, fields) : undefined;
}

/** `engine` with a record cache of `maxBytes` in front of it; `engine` itself when `maxBytes` is 0 (off). */
export function withRecordCache(engine: DataEngine, maxBytes: number): DataEngine {
  return maxBytes > 0 ? new CachedEngine(engine, new RecordCache(maxBytes)) : engine;
}

/** A sync target whose writes invalidate the tables they touch (whole database for `clear`), before they resolve. */
function cachedSyncTarget(inner: SyncTarget, database: string, cache: RecordCache): SyncTarget {
  const touching = async <T>(table: string | undefined, write: () => Promise<T>): Promise<T> => {
    try {
      return await write();
    } finally {
      if (table === undefined) cache.invalidateDatabase(database);
      else cache.invalidateTable(database, foldIdentifier(table));
    }
  };
  return {
    claim: () => inner.claim(),
    states: () => inner.states(),
    startCopy: (state) => inner.startCopy(state),
    appendCopy: (state, rows) => inner.appendCopy(state, rows),
    finishCopy: (state) => touching(state.table, () => inner.finishCopy(state)),
    upsert: (state, rows) => touching(state.table, () => inner.upsert(state, rows)),
    saveState: (state) => inner.saveState(state),
    deleteKeys: (state, keys) => touching(state.table, () => inner.deleteKeys(state, keys)),
    keys: (state, after, limit) => inner.keys(state, after, limit),
    count: (table) => inner.count(table),
    exists: (table) => inner.exists(table),
    scan: (table, columns, onRow) => inner.scan(table, columns, onRow),
    clear: (tables) => touching(undefined, () => inner.clear(tables)),
  };
}
