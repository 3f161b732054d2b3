/**
 * Source sync against a real MariaDB (skipped with the reason when it is down), into each data
 * engine (DuckDB files, PostgreSQL schemas): types, keys, zero dates, watermarks, deletes,
 * idempotence, one run per database, validation checksums, and the same JSON out of both engines.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SourceSecret } from '../../../src/auth/source-secret.js';
import type { DataEngine } from '../../../src/data/engine.js';
import { SourceSyncService } from '../../../src/data/sync/service.js';
import type { SyncEvent } from '../../../src/data/sync/types.js';
import { openControlStore, type ControlStore } from '../../../src/store/index.js';
import { createShop, createSourceSchema, mariadbUnavailable, type TestSourceSchema } from '../../helpers/mariadb.js';
import { rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { openPostgresEngine } from '../../../src/data/postgres/index.js';
import { adminQuery } from '../../helpers/postgres.js';
import { startTcpProxy } from '../../helpers/tcp-proxy.js';
import { ENGINES, type OpenedEngine } from '../engines.js';
import { apiError, tempDataDir } from '../helpers.js';

const skip = await mariadbUnavailable();
const ROWS = 3000;

/** The first orders through `find`, identical on both engines. */
const SAME_JSON: unknown[] = [
  {
    id: 1, customer: 'customer-1', meta: { n: 1, tags: ['a', 1], vip: false }, note: 'x', paid: 1, placed_on: '2025-01-02', ratio: 0.142857142,
    shipped_at: '2025-01-01T08:00:01', thumb: 'AQD/', total: 0.37, updated_at: '2026-01-01T00:00:00.001', weight: 0.125,
  },
  {
    id: 2, customer: 'customer-2', meta: { n: 2, tags: ['a', 2], vip: false }, note: 'xx', paid: 0, placed_on: '2025-01-03', ratio: 0.285714285,
    shipped_at: '2025-01-01T08:00:02', thumb: 'AgD/', total: 0.74, updated_at: '2026-01-01T00:00:00.002', weight: 0.25,
  },
  {
    id: 3, customer: 'customer-3', meta: { n: 3, tags: ['a', 3], vip: true }, note: 'xxx', paid: 1, ratio: 0.428571428,
    shipped_at: '2025-01-01T08:00:03', thumb: 'AwD/', total: 1.11, updated_at: '2026-01-01T00:00:00.003', weight: 0.375,
  },
];

/** Column types of `orders`, `events.id` and `order_lines.qty` as each engine's table routes report them. */
const TYPES = {
  duckdb: {
    orders: ['id:INTEGER', 'customer:VARCHAR', 'total:DECIMAL(12,2)', 'ratio:DOUBLE', 'weight:FLOAT', 'paid:TINYINT', 'placed_on:DATE',
      'shipped_at:TIMESTAMP', 'updated_at:TIMESTAMP', 'meta:JSON', 'thumb:BLOB', 'note:VARCHAR'],
    unsigned: ['UBIGINT', 'UINTEGER'],
  },
  postgres: {
    orders: ['id:INTEGER', 'customer:VARCHAR', 'total:DECIMAL(12,2)', 'ratio:DOUBLE', 'weight:FLOAT', 'paid:SMALLINT', 'placed_on:DATE',
      'shipped_at:TIMESTAMP', 'updated_at:TIMESTAMP', 'meta:JSON', 'thumb:BLOB', 'note:VARCHAR'],
    unsigned: ['DECIMAL(20,0)', 'BIGINT'],
  },
} as const;

for (const impl of ENGINES) describe(`source sync (MariaDB) into ${impl.name}`, { skip: skip || impl.skip }, () => {
  let schema: TestSourceSchema;
  let dataDir: string;
  let opened: OpenedEngine;
  let engine: DataEngine;
  let store: ControlStore;
  let sync: SourceSyncService;

  before(async () => {
    schema = await createSourceSchema('svc');
    await createShop(schema.db, ROWS);
    dataDir = tempDataDir();
    opened = await impl.open();
    engine = opened.engine;
    store = await openControlStore({ dataDir });
    sync = new SourceSyncService({ engine, sources: store.sources, secret: SourceSecret.load(dataDir), batchRows: 700 });
    await engine.createDatabase('shop');
    await sync.setSource('shop', schema.url);
  });
  after(async () => {
    sync?.close();
    await opened?.cleanup();
    await store?.close();
    await schema?.drop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  const sql = async (text: string) => (await engine.database('shop').query(text, undefined, {})).result;

  test('a database without a source answers 409 no_source; an unknown database 404', async () => {
    await assert.rejects(sync.full('default'), apiError(409, 'no_source'));
    await assert.rejects(sync.full('nowhere'), apiError(404, 'not_found'));
  });

  test('full sync copies every table with its types, keys, NULLs and zero dates, and validates', async () => {
    const events: SyncEvent[] = [];
    const unsubscribe = sync.subscribe((e) => events.push(e));
    const run = await sync.full('shop');
    unsubscribe();
    assert.equal(run.status, 'success', JSON.stringify(run));
    assert.deepEqual(run.tables.map((t) => [t.table, t.recordsProcessed]), [['events', ROWS / 10], ['notes', 3], ['order_lines', ROWS / 4], ['orders', ROWS]]);
    const db = engine.database('shop');
    assert.deepEqual((await db.schema('orders')).map((c) => `${c.column_name}:${c.column_type}`), TYPES[impl.name].orders);
    assert.deepEqual((await db.schema('order_lines')).filter((c) => c.key === 'PRI').map((c) => c.column_name), ['order_id', 'line']);
    const [zero] = await sql(`SELECT placed_on, shipped_at FROM orders WHERE id = 3`);
    assert.equal(zero?.placed_on, null, 'a zero date arrives as NULL');
    const [zeroMonth] = await sql(`SELECT shipped_at FROM orders WHERE id = 5`);
    assert.equal(zeroMonth?.shipped_at, null, 'a zero month too');
    const [row] = await sql(`SELECT total, meta, thumb, updated_at, customer FROM orders WHERE id = 50`);
    assert.deepEqual(row, {
      total: 18.5, meta: { n: 50, tags: ['a', 0], vip: false }, thumb: Buffer.from('3200FF', 'hex').toString('base64'),
      updated_at: '2026-01-01T00:00:00.05', customer: 'customer-50 Zoë',
    });
    const unsigned = [(await db.schema('events')).find((c) => c.column_name === 'id'), (await db.schema('order_lines')).find((c) => c.column_name === 'qty')];
    assert.deepEqual(unsigned.map((c) => c?.column_type), TYPES[impl.name].unsigned);
    assert.ok(events.some((e) => e.type === 'progress' && e.progress.currentTable === 'orders' && e.progress.currentTableRecords === 700), 'progress per batch');
    assert.equal(events.at(-1)?.type, 'finished');
    const validation = await sync.validate('shop');
    assert.equal(validation.valid, true, JSON.stringify(validation));
    assert.equal(validation.tables.length, 4);
  });

  test('find answers the same JSON on both engines (types chosen per engine to that end)', async () => {
    const rows = [...await engine.database('shop').find('orders', { sort: [{ field: 'id' }], limit: 3 })];
    assert.deepEqual(rows, SAME_JSON);
    const lines = [...await engine.database('shop').find('order_lines', { sort: [{ field: 'order_id' }, { field: 'line' }], limit: 1 })];
    assert.deepEqual(lines, [{ order_id: 1, line: 1, sku: 'SKU00000', qty: 1, price: 0.125 }]);
    const events = [...await engine.database('shop').find('events', { sort: [{ field: 'id' }], limit: 1 })];
    assert.deepEqual(events, [{ id: 1, kind: 'click', at: '2026-01-01T00:00:00', payload: '3q2+7w==' }]);
  });

  test('staging and state stay out of main: listings show only the synced tables', async () => {
    assert.deepEqual(await engine.database('shop').listCollections(), ['events', 'notes', 'order_lines', 'orders']);
  });

  test('a second full sync is idempotent', async () => {
    const run = await sync.full('shop');
    assert.equal(run.status, 'success');
    assert.equal((await sync.validate('shop')).valid, true);
    assert.equal((await sql('SELECT count(*)::INT AS n FROM orders'))[0]?.n, ROWS);
  });

  test('incremental: updates by watermark, inserts by key, deletes by key sets, composite-key tables by full copy', async () => {
    await schema.db.query(`
      UPDATE orders SET total = 1.25, note = 'changed', updated_at = '2026-06-01 00:00:00' WHERE id <= 10;
      INSERT INTO orders (id, customer, updated_at, meta) VALUES (${ROWS + 1}, 'new', '2026-06-01 00:00:01', '{"fresh": true}');
      DELETE FROM orders WHERE id IN (20, 21);
      INSERT INTO events (kind) VALUES ('buy'), ('view');
      DELETE FROM events WHERE id = 7;
      UPDATE order_lines SET qty = 99 WHERE order_id = 1;
    `);
    const run = await sync.incremental('shop');
    assert.equal(run.status, 'success', JSON.stringify(run));
    const byTable = Object.fromEntries(run.tables.map((t) => [t.table, t]));
    assert.equal(byTable.orders?.method, 'watermark');
    // 10 updated, 1 new, and the row at the old watermark (read again, harmlessly).
    assert.equal(byTable.orders?.recordsProcessed, 12);
    assert.equal(byTable.orders?.recordsDeleted, 2);
    assert.deepEqual(byTable.orders?.watermark, { column: 'updated_at', value: '2026-06-01 00:00:01.000000' });
    assert.equal(byTable.events?.method, 'key');
    assert.equal(byTable.events?.recordsProcessed, 2);
    assert.equal(byTable.events?.recordsDeleted, 1);
    assert.equal(byTable.order_lines?.method, 'full');
    assert.equal((await sql(`SELECT note FROM orders WHERE id = 4`))[0]?.note, 'changed');
    assert.equal((await sql(`SELECT count(*)::INT AS n FROM orders WHERE id IN (20, 21)`))[0]?.n, 0);
    assert.equal((await sync.validate('shop')).valid, true);

    const quiet = await sync.incremental('shop');
    assert.equal(quiet.tables.find((t) => t.table === 'orders')?.recordsProcessed, 1, 'only the watermark second is read again');
    assert.equal((await sync.validate('shop')).valid, true);
  });

  test('validation notices a difference', async () => {
    await schema.db.query(`UPDATE order_lines SET sku = 'CHANGED' WHERE order_id = 2 AND line = 1`);
    const validation = await sync.validate('shop');
    const lines = validation.tables.find((t) => t.table === 'order_lines');
    assert.equal(validation.valid, false);
    assert.equal(lines?.match, false);
    assert.equal(lines?.sourceRows, lines?.duckdbRows);
    await sync.table('shop', 'order_lines');
    assert.equal((await sync.validate('shop')).valid, true);
  });

  test('another replica on the same data: its sync, validation and clear-all get 409 sync_running while one runs', { skip: impl.name !== 'postgres' && 'DuckDB files have one process' }, async () => {
    const replica = await openPostgresEngine({ ...opened.postgres!, poolSize: 2, statementTimeoutMs: 60_000 });
    const other = new SourceSyncService({ engine: replica, sources: store.sources, secret: SourceSecret.load(dataDir), batchRows: 700 });
    try {
      const first = await sync.start('shop', 'full');
      await assert.rejects(other.full('shop'), apiError(409, 'sync_running'));
      await assert.rejects(other.validate('shop'), apiError(409, 'sync_running'));
      await assert.rejects(other.clearAll('shop'), apiError(409, 'sync_running'));
      assert.equal(other.isRunning('shop'), false, 'a refused claim leaves nothing behind');
      assert.equal((await first.finished).status, 'success');
      const second = await other.incremental('shop');
      assert.equal(second.status, 'success', JSON.stringify(second));
      assert.equal((await sync.validate('shop')).valid, true);
    } finally {
      other.close();
      await replica.close();
    }
  });

  test('a replaced table keeps its grants and the schema\'s default privileges (a reader role can still read it)', { skip: impl.name !== 'postgres' && 'PostgreSQL only' }, async () => {
    const { url, schemaPrefix } = opened.postgres!;
    const owner = new URL(url).username;
    const live = `${schemaPrefix}shop`;
    const reader = `dgt_reader_${randomBytes(4).toString('hex')}`;
    await adminQuery(`CREATE ROLE ${reader} NOLOGIN`);
    try {
      await adminQuery(`GRANT USAGE ON SCHEMA "${live}" TO ${reader}`);
      await adminQuery(`ALTER DEFAULT PRIVILEGES FOR ROLE ${owner} IN SCHEMA "${live}" GRANT SELECT ON TABLES TO ${reader}`);
      const can = async (table: string, privilege: string) =>
        (await adminQuery<{ ok: boolean }>(`SELECT has_table_privilege($1, $2, $3) AS ok`, [reader, table, privilege]))[0]!.ok;
      assert.equal((await sync.table('shop', 'orders')).status, 'success');
      assert.equal(await can(`"${live}".orders`, 'SELECT'), true, 'default privileges of the schema apply to a table swapped in');
      await adminQuery(`GRANT UPDATE ON "${live}".orders TO ${reader}`);
      assert.equal((await sync.table('shop', 'orders')).status, 'success');
      assert.equal(await can(`"${live}".orders`, 'SELECT'), true);
      assert.equal(await can(`"${live}".orders`, 'UPDATE'), true, 'a grant on the old table carries over');
      assert.equal(await can(`"${live}#sync".state`, 'SELECT'), false, 'the sync state is never granted');

      // PostgreSQL will not drop a table a view depends on: that table fails, and stays as it was.
      await adminQuery(`CREATE VIEW "${live}".mine AS SELECT id FROM "${live}".orders`);
      const blocked = await sync.table('shop', 'orders');
      assert.equal(blocked.status, 'error');
      assert.match(blocked.tables[0]?.error ?? '', /depend/);
      await adminQuery(`DROP VIEW "${live}".mine`);
      assert.equal((await sync.table('shop', 'orders')).status, 'success');
    } finally {
      await adminQuery(`ALTER DEFAULT PRIVILEGES FOR ROLE ${owner} IN SCHEMA "${live}" REVOKE SELECT ON TABLES FROM ${reader}`);
      await adminQuery(`DROP OWNED BY ${reader} CASCADE`);
      await adminQuery(`DROP ROLE ${reader}`);
    }
  });

  test('a text value with a NUL character: PostgreSQL text cannot hold it, so that table fails with the reason', { skip: impl.name !== 'postgres' && 'PostgreSQL only' }, async () => {
    const nul = await createSourceSchema('nul');
    try {
      await nul.db.query(`CREATE TABLE t (id INT PRIMARY KEY, s VARCHAR(10)); INSERT INTO t VALUES (1, CONCAT('a', CHAR(0), 'b'))`);
      await engine.createDatabase('nul');
      await sync.setSource('nul', nul.url);
      const run = await sync.full('nul');
      assert.equal(run.status, 'error');
      assert.match(run.tables[0]?.error ?? '', /0x00/);
    } finally {
      await nul.drop();
    }
  });

  test('one sync per database: a second one at the same time gets 409 sync_running', async () => {
    const first = sync.full('shop');
    await assert.rejects(sync.incremental('shop'), apiError(409, 'sync_running'));
    await assert.rejects(sync.clearAll('shop'), apiError(409, 'sync_running'));
    assert.equal(sync.progress('shop').inProgress, true);
    assert.equal((await first).status, 'success');
    assert.equal(sync.progress('shop').inProgress, false);
  });

  test('an unknown source table is 404; sync logs record every run', async () => {
    await assert.rejects(sync.table('shop', 'nope'), apiError(404, 'not_found'));
    const logs = await store.sources.listSyncLogs({ database: 'shop', limit: 50 });
    assert.ok(logs.length >= 5);
    assert.equal(logs[0]?.type, 'full');
  });

  test('a table of the same name that sync did not make is never replaced', async () => {
    await engine.createDatabase('mixed');
    await sync.setSource('mixed', schema.url);
    await engine.database('mixed').insert('Notes', { id: 'n1', body: 'mine' });
    const run = await sync.full('mixed');
    assert.equal(run.status, 'partial');
    const notes = run.tables.find((t) => t.table === 'notes');
    assert.equal(notes?.status, 'error');
    assert.match(notes?.error ?? '', /already exists .* not made by source sync/);
    assert.deepEqual((await engine.database('mixed').query('SELECT id, body FROM "Notes"', undefined, {})).result, [{ id: 'n1', body: 'mine' }]);
    assert.equal(run.tables.filter((t) => t.status === 'success').length, 3);
  });

  test('a source table named `state`, the source dying mid-copy, a bad row: the live table stays as it was, the next run resumes', async () => {
    const edge = await createSourceSchema('edge');
    const proxy = await startTcpProxy(Number(new URL(edge.url).port || 3306), new URL(edge.url).hostname);
    try {
      await edge.db.query(`
        CREATE TABLE state (id INT PRIMARY KEY, v VARCHAR(20) NOT NULL);
        INSERT INTO state VALUES (1, 'one'), (2, 'two'), (3, 'three');
        CREATE TABLE bulk (id INT PRIMARY KEY, pad VARCHAR(200) NOT NULL, d DATE NULL);
        INSERT INTO bulk SELECT seq, REPEAT('p', 200), DATE('2025-01-01') + INTERVAL (seq % 365) DAY FROM seq_1_to_60000;`);
      await engine.createDatabase('edge');
      const through = new URL(edge.url);
      through.port = String(proxy.port);
      await sync.setSource('edge', through.toString());
      const first = await sync.full('edge');
      assert.equal(first.status, 'success', JSON.stringify(first));
      const sql = async (text: string) => (await engine.database('edge').query(text, undefined, {})).result;
      assert.deepEqual(await sql('SELECT id, v FROM state ORDER BY id'), [{ id: 1, v: 'one' }, { id: 2, v: 'two' }, { id: 3, v: 'three' }]);
      assert.equal((await sync.validate('edge')).valid, true);

      const unchanged = async () => {
        assert.deepEqual(await sql(`SELECT count(*)::INT AS n, count(*) FILTER (WHERE pad = 'after')::INT AS changed FROM bulk`), [{ n: 60000, changed: 0 }]);
      };
      await edge.db.query(`UPDATE bulk SET pad = 'after' WHERE id <= 100`);
      const cut = sync.subscribe((event) => {
        if (event.type === 'progress' && event.progress.currentTable === 'bulk' && event.progress.currentTableRecords > 0) proxy.cut();
      });
      const died = await sync.table('edge', 'bulk');
      cut();
      proxy.restore();
      assert.equal(died.status, 'error', JSON.stringify(died));
      await unchanged();

      await edge.db.query(`SET SESSION sql_mode = 'ALLOW_INVALID_DATES'; UPDATE bulk SET d = '2025-02-30' WHERE id = 30000`);
      const bad = await sync.table('edge', 'bulk');
      assert.equal(bad.status, 'error', JSON.stringify(bad));
      await unchanged();

      await edge.db.query(`UPDATE bulk SET d = '2025-02-28' WHERE id = 30000`);
      const fixed = await sync.table('edge', 'bulk');
      assert.equal(fixed.status, 'success', JSON.stringify(fixed));
      assert.ok(fixed.tables[0]!.recordsProcessed < 60000, `resumed from the last committed batch: ${fixed.tables[0]!.recordsProcessed} rows`);
      assert.deepEqual(await sql(`SELECT count(*)::INT AS n, count(*) FILTER (WHERE pad = 'after')::INT AS changed FROM bulk`), [{ n: 60000, changed: 100 }]);
      assert.equal((await sync.validate('edge')).valid, true);

      await engine.dropDatabase('edge');
      await engine.createDatabase('edge');
      assert.deepEqual((await sync.status('edge')).tables, [], 'a database made again under the name inherits no sync state');
    } finally {
      await proxy.close();
      await edge.drop();
    }
  });

  test('clear-all drops the synced tables and their state', async () => {
    const { tablesDropped } = await sync.clearAll('shop');
    assert.deepEqual(tablesDropped.sort(), ['events', 'notes', 'order_lines', 'orders']);
    assert.deepEqual(await engine.database('shop').listCollections(), []);
    assert.deepEqual((await sync.status('shop')).tables, []);
  });
});
