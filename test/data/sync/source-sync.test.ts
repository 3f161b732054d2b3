/**
 * Source sync against a real MariaDB (skipped with the reason when it is down): types, keys, zero
 * dates, watermarks, deletes, idempotence, one run per database, validation checksums.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { SourceSecret } from '../../../src/auth/source-secret.js';
import type { DataEngine } from '../../../src/data/engine.js';
import { openDuckDBEngine } from '../../../src/data/duckdb/index.js';
import { SourceSyncService } from '../../../src/data/sync/service.js';
import type { SyncEvent } from '../../../src/data/sync/types.js';
import { openControlStore, type ControlStore } from '../../../src/store/index.js';
import { createShop, createSourceSchema, mariadbUnavailable, type TestSourceSchema } from '../../helpers/mariadb.js';
import { apiError, engineOptions, tempDataDir } from '../helpers.js';

const skip = await mariadbUnavailable();
const ROWS = 3000;

describe('source sync (MariaDB)', { skip }, () => {
  let schema: TestSourceSchema;
  let dataDir: string;
  let engine: DataEngine;
  let store: ControlStore;
  let sync: SourceSyncService;

  before(async () => {
    schema = await createSourceSchema('svc');
    await createShop(schema.db, ROWS);
    dataDir = tempDataDir();
    engine = await openDuckDBEngine(engineOptions(dataDir));
    store = await openControlStore({ dataDir });
    sync = new SourceSyncService({ engine, sources: store.sources, secret: SourceSecret.load(dataDir), batchRows: 700 });
    await engine.createDatabase('shop');
    await sync.setSource('shop', schema.url);
  });
  after(async () => {
    sync?.close();
    await engine?.close();
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
    assert.deepEqual((await sql(`SELECT column_name, column_type FROM (DESCRIBE orders)`))
      .map((r) => `${r.column_name}:${r.column_type}`), [
      'id:INTEGER', 'customer:VARCHAR', 'total:DECIMAL(12,2)', 'ratio:DOUBLE', 'weight:FLOAT', 'paid:TINYINT', 'placed_on:DATE',
      'shipped_at:TIMESTAMP', 'updated_at:TIMESTAMP', 'meta:JSON', 'thumb:BLOB', 'note:VARCHAR',
    ]);
    assert.deepEqual((await sql(`SELECT constraint_type, constraint_column_names FROM duckdb_constraints() WHERE table_name = 'order_lines' AND constraint_type = 'PRIMARY KEY'`))
      .map((r) => r.constraint_column_names), [['order_id', 'line']]);
    const [zero] = await sql(`SELECT placed_on, shipped_at FROM orders WHERE id = 3`);
    assert.equal(zero?.placed_on, null, 'a zero date arrives as NULL');
    const [zeroMonth] = await sql(`SELECT shipped_at FROM orders WHERE id = 5`);
    assert.equal(zeroMonth?.shipped_at, null, 'a zero month too');
    const [row] = await sql(`SELECT total, meta, hex(thumb) AS thumb, updated_at, customer FROM orders WHERE id = 50`);
    assert.deepEqual(row, { total: 18.5, meta: { n: 50, tags: ['a', 0], vip: false }, thumb: '3200FF', updated_at: '2026-01-01T00:00:00.05', customer: 'customer-50 Zoë' });
    const [unsigned] = await sql(`SELECT typeof(id) AS t, typeof(qty) AS q FROM events, order_lines LIMIT 1`);
    assert.deepEqual(unsigned, { t: 'UBIGINT', q: 'UINTEGER' });
    assert.ok(events.some((e) => e.type === 'progress' && e.progress.currentTable === 'orders' && e.progress.currentTableRecords === 700), 'progress per batch');
    assert.equal(events.at(-1)?.type, 'finished');
    const validation = await sync.validate('shop');
    assert.equal(validation.valid, true, JSON.stringify(validation));
    assert.equal(validation.tables.length, 4);
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
    assert.deepEqual((await engine.database('mixed').query('SELECT id, body FROM Notes', undefined, {})).result, [{ id: 'n1', body: 'mine' }]);
    assert.equal(run.tables.filter((t) => t.status === 'success').length, 3);
  });

  test('clear-all drops the synced tables and their state', async () => {
    const { tablesDropped } = await sync.clearAll('shop');
    assert.deepEqual(tablesDropped.sort(), ['events', 'notes', 'order_lines', 'orders']);
    assert.deepEqual(await engine.database('shop').listCollections(), []);
    assert.deepEqual((await sync.status('shop')).tables, []);
  });
});
