/**
 * Source sync over HTTP against a real MariaDB (skipped with the reason when it is down), on each
 * data plane (DuckDB files, PostgreSQL through DATA_URL): sources with a sealed password, the
 * /sync/* routes, Server-Sent Events, 409 for a second sync, and reads of synced tables through
 * the same grants, field rules and SQL guard as collections.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import mysql from 'mysql2/promise';
import { as, createKey } from '../helpers/keys.js';
import { MARIADB_TEST_URL, createShop, createSourceSchema, mariadbUnavailable, type TestSourceSchema } from '../helpers/mariadb.js';
import { dataBackends } from '../helpers/data-backends.js';
import { ADMIN_KEY, CLIENT_KEY, startTestServer, type TestServer } from '../helpers/server.js';

const skip = await mariadbUnavailable();
const PASSWORD = `pw-${randomBytes(9).toString('base64url')}`;

for (const backend of dataBackends()) describe(`source sync routes (MariaDB) on ${backend.name}`, { skip: skip || backend.skip }, () => {
  let server: TestServer;
  let schema: TestSourceSchema;
  let user: string;
  let sourceUrl: string;
  let env: Record<string, string>;

  before(async () => {
    schema = await createSourceSchema('http');
    await createShop(schema.db, 2000);
    user = `dg_${randomBytes(4).toString('hex')}`;
    const admin = await mysql.createConnection({ uri: MARIADB_TEST_URL });
    await admin.query(`CREATE USER '${user}'@'%' IDENTIFIED BY '${PASSWORD}'`);
    await admin.query(`GRANT SELECT ON \`${schema.name}\`.* TO '${user}'@'%'`);
    await admin.end();
    const url = new URL(schema.url);
    sourceUrl = `mysql://${user}:${encodeURIComponent(PASSWORD)}@${url.host}/${schema.name}`;
    env = await backend.env();
    server = await startTestServer(env);
  });
  after(async () => {
    await server?.stop();
    const admin = await mysql.createConnection({ uri: MARIADB_TEST_URL });
    await admin.query(`DROP USER IF EXISTS '${user}'@'%'`).catch(() => {});
    await admin.end();
    await schema?.drop();
    await backend.cleanup();
  });

  test('POST /sync/full without a source is 409 no_source, not a collection upsert', async () => {
    const res = await server.request({ method: 'POST', url: '/sync/full' });
    assert.equal(res.statusCode, 409);
    assert.equal(res.json().code, 'no_source');
  });

  test('a bad source URL is 400 invalid_source and creates nothing; the message never echoes the password', async () => {
    for (const source of ['postgres://u:hunter2@h/db', 'mysql://u:hunter2@h', 'not a url hunter2', 'mysql://:hunter2@h/db']) {
      const res = await server.request({ method: 'POST', url: '/api/databases', payload: { name: 'bad', source } });
      assert.equal(res.statusCode, 400, source);
      assert.equal(res.json().code, 'invalid_source');
      assert.ok(!res.body.includes('hunter2'), res.body);
    }
    assert.deepEqual((await server.request({ method: 'GET', url: '/api/databases' })).json().databases, ['default']);
  });

  test('a source is stored with its password sealed: never answered, stored or audited in clear', async () => {
    const created = await server.request({ method: 'POST', url: '/api/databases/shop', payload: { source: sourceUrl } });
    assert.equal(created.statusCode, 201, created.body);
    assert.equal(created.json().source.source, `mysql://${user}@127.0.0.1:3306/${schema.name}`);
    assert.equal(created.json().source.hasPassword, true);
    assert.equal((await server.request({ method: 'POST', url: '/api/databases/shop', payload: { source: sourceUrl } })).statusCode, 409);
    const shown = await server.request({ method: 'GET', url: '/api/databases/shop' });
    assert.ok(!shown.body.includes(PASSWORD));
    const stored = new Database(path.join(server.dataDir, 'control.sqlite'), { readonly: true });
    const row = stored.prepare('SELECT * FROM data_sources').get() as Record<string, string>;
    stored.close();
    assert.ok(!JSON.stringify(row).includes(PASSWORD));
    assert.match(row.sealed_password!, /^v1\.[\w-]+\.[\w-]+\.[\w-]+$/);
    assert.equal(statSync(path.join(server.dataDir, 'source-secret')).mode & 0o777, 0o600);
    assert.ok(!readFileSync(path.join(server.dataDir, 'control.sqlite')).includes(PASSWORD));
    const tested = await server.request({ method: 'POST', url: '/api/databases/shop/test' });
    assert.deepEqual({ ...(tested.json() as object), version: 'v' }, { success: true, source: created.json().source.source, version: 'v', tables: 4 });
    const audit = await server.request({ method: 'GET', url: '/api/audit?limit=100' });
    assert.ok(!audit.body.includes(PASSWORD));
    assert.ok(audit.json().events.some((e: { kind: string; target: string }) => e.kind === 'database.source_set' && e.target === 'database:shop'));
  });

  test('a wrong password: the test answers success false with the reason, never the password', async () => {
    await server.request({ method: 'POST', url: '/api/databases', payload: { name: 'wrong' } });
    const wrong = sourceUrl.replace(encodeURIComponent(PASSWORD), 'not-the-password');
    assert.equal((await server.request({ method: 'PUT', url: '/api/databases/wrong', payload: { source: wrong } })).statusCode, 200);
    const tested = await server.request({ method: 'POST', url: '/api/databases/wrong/test' });
    assert.equal(tested.statusCode, 200);
    assert.equal(tested.json().success, false);
    assert.match(tested.json().error, /Access denied/);
    assert.ok(!tested.body.includes('not-the-password'));
    // A run that could not connect is still a run: logged, and answered with its error.
    const sync = await server.request({ method: 'POST', url: '/sync/full?db=wrong' });
    assert.equal(sync.statusCode, 200);
    assert.equal(sync.json().success, false);
    assert.equal(sync.json().run.status, 'error');
    assert.match(sync.json().run.error, /^Source unreachable: Access denied/);
    assert.ok(!sync.body.includes('not-the-password'));
    assert.equal((await server.request({ method: 'GET', url: '/api/sync-logs?db=wrong' })).json().logs[0].status, 'error');
    const validate = await server.request({ method: 'GET', url: '/sync/validate?db=wrong' });
    assert.equal(validate.statusCode, 502);
    assert.equal(validate.json().code, 'source_unavailable');
    assert.ok(!validate.body.includes('not-the-password'));
  });

  test('sync routes are admin only', async () => {
    const call = as(server, CLIENT_KEY);
    for (const [method, url] of [['POST', '/sync/full?db=shop'], ['GET', '/sync/status?db=shop'], ['GET', '/sync/events?db=shop'], ['GET', '/api/sync-logs'],
      ['DELETE', '/sync/clear-all?db=shop'], ['PUT', '/api/databases/shop'], ['POST', '/api/databases/shop/test']] as const) {
      assert.equal((await call(method, url, method === 'PUT' ? { source: sourceUrl } : undefined)).statusCode, 403, `${method} ${url}`);
    }
  });

  test('full sync, status, progress, validate and logs', async () => {
    const res = await server.request({ method: 'POST', url: '/sync/full?db=shop' });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().run.status, 'success');
    assert.equal(res.json().run.totalRecords, 2000 + 500 + 200 + 3);
    const status = (await server.request({ method: 'GET', url: '/sync/status?db=shop' })).json();
    assert.equal(status.source, `mysql://${user}@127.0.0.1:3306/${schema.name}`);
    assert.deepEqual(status.tables.map((t: { table: string; method: string; rows: number }) => [t.table, t.method, t.rows]),
      [['events', 'key', 200], ['notes', 'full', 3], ['order_lines', 'full', 500], ['orders', 'watermark', 2000]]);
    assert.equal(status.lastRun.id, res.json().run.id);
    const progress = (await server.request({ method: 'GET', url: '/sync/progress?db=shop' })).json();
    assert.equal(progress.inProgress, false);
    assert.equal(progress.recordsProcessed, 2703);
    const validation = (await server.request({ method: 'GET', url: '/sync/validate?db=shop' })).json();
    assert.equal(validation.valid, true, JSON.stringify(validation));
    const logs = (await server.request({ method: 'GET', url: '/api/sync-logs?db=shop' })).json();
    assert.equal(logs.logs[0].id, res.json().run.id);
    assert.equal((await server.request({ method: 'GET', url: '/sync/status?db=ghost' })).statusCode, 404);
    assert.equal((await server.request({ method: 'POST', url: '/sync/table/nope?db=shop' })).statusCode, 404);
  });

  test('GET /sync/events streams a background run; a second sync meanwhile is 409 sync_running', async () => {
    await schema.db.query(`UPDATE orders SET note = 'streamed', updated_at = '2026-07-01 00:00:00' WHERE id <= 30`);
    const controller = new AbortController();
    const stream = await fetch(`${server.url}/sync/events?db=shop`, { headers: { 'x-api-key': ADMIN_KEY }, signal: controller.signal });
    assert.equal(stream.status, 200);
    assert.match(stream.headers.get('content-type') ?? '', /text\/event-stream/);
    const reader = stream.body!.getReader();
    let text = '';
    const first = await reader.read();
    text += new TextDecoder().decode(first.value);
    assert.match(text, /^event: progress\ndata: /);

    const started = await server.request({ method: 'POST', url: '/sync/incremental?db=shop&wait=false' });
    assert.equal(started.statusCode, 202, started.body);
    const second = await server.request({ method: 'POST', url: '/sync/full?db=shop' });
    assert.equal(second.statusCode, 409);
    assert.equal(second.json().code, 'sync_running');
    while (!text.includes('event: finished')) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    controller.abort();
    const events = text.split('\n\n').filter((block) => block.startsWith('event: ')).map((block) => block.split('\n')[0]!.slice(7));
    assert.deepEqual([...new Set(events)], ['progress', 'started', 'table', 'finished']);
    const finished = JSON.parse(text.split('event: finished\ndata: ')[1]!.split('\n')[0]!);
    assert.equal(finished.run.id, started.json().runId);
    assert.equal(finished.run.tables.find((t: { table: string }) => t.table === 'orders').recordsProcessed, 31);
    // The stream's in-flight slot came back: the admin can go on calling.
    assert.equal((await fetch(`${server.url}/sync/progress?db=shop`, { headers: { 'x-api-key': ADMIN_KEY } })).status, 200);
  });

  test('synced tables read through grants, field rules and the SQL guard', async () => {
    const { key } = await createKey(server, { collection_permissions: { 'shop.orders': { read: true, exclude_fields: ['total'] } } });
    const call = as(server, key);
    const rows = await call('GET', '/api/tables/orders/data?db=shop&limit=5');
    assert.equal(rows.statusCode, 200, rows.body);
    assert.equal(rows.json().length, 5);
    assert.ok(rows.json().every((r: object) => !('total' in r) && 'customer' in r));
    assert.equal((await call('GET', '/api/tables/order_lines/data?db=shop')).statusCode, 403, 'no grant on order_lines');
    assert.equal((await call('GET', '/api/tables/orders/data')).statusCode, 404, 'the grant is for shop: default is not even visible');
    const sum = await call('POST', '/api/query?db=shop', { sql: 'SELECT count(*) AS n FROM orders' });
    assert.equal(sum.statusCode, 200, sum.body);
    assert.equal(sum.json().result[0].n, 2000);
    assert.equal((await call('POST', '/api/query?db=shop', { sql: 'SELECT total FROM orders' })).statusCode, 400, 'a hidden field is not there for this key (as for collections)');
    assert.equal((await call('POST', '/api/query?db=shop', { sql: 'SELECT * FROM order_lines' })).statusCode, 403, 'ungranted table');
    const state = backend.name === 'duckdb' ? '_duckgate_sync.state' : `"${env.DATA_SCHEMA_PREFIX}shop#sync".state`;
    const sneaky = await call('POST', '/api/query?db=shop', { sql: `SELECT * FROM ${state}` });
    assert.ok(sneaky.statusCode === 403 || sneaky.statusCode === 400, `sync state is out of reach: ${sneaky.statusCode} ${sneaky.body}`);
    const star = (await call('POST', '/api/query?db=shop', { sql: 'SELECT * FROM orders LIMIT 1' })).json();
    assert.ok(!('total' in star.result[0]));
    assert.equal((await call('POST', '/sync/full?db=shop')).statusCode, 403);
  });

  test('a point read of a synced table is fresh after the next sync: the record cache drops what sync writes', async () => {
    const read = (id: number) => server.request({ method: 'GET', url: `/api/find/orders/${id}?db=shop` });
    const before = await read(1);
    assert.equal(before.statusCode, 200, before.body);
    assert.equal((await read(1)).json().customer, before.json().customer, 'the second read is served from the cache');
    assert.equal((await read(2)).statusCode, 200);
    const customer = `fresh-${randomBytes(4).toString('hex')}`;
    await schema.db.query('UPDATE orders SET customer = ?, updated_at = NOW(6) + INTERVAL 1 SECOND WHERE id = 1', [customer]);
    await schema.db.query('DELETE FROM orders WHERE id = 2');
    const sync = await server.request({ method: 'POST', url: '/sync/incremental?db=shop' });
    assert.equal(sync.statusCode, 200, sync.body);
    assert.equal((await read(1)).json().customer, customer);
    assert.equal((await read(2)).statusCode, 404);
  });

  test('clear-all drops the synced tables; dropping the database forgets its source', async () => {
    const cleared = await server.request({ method: 'DELETE', url: '/sync/clear-all?db=shop' });
    assert.equal(cleared.statusCode, 200, cleared.body);
    assert.deepEqual(cleared.json().tablesDropped.sort(), ['events', 'notes', 'order_lines', 'orders']);
    assert.deepEqual((await server.request({ method: 'GET', url: '/api/tables?db=shop' })).json(), []);
    assert.equal((await server.request({ method: 'DELETE', url: '/api/databases/shop' })).statusCode, 200);
    assert.equal((await server.control.sources.getSource('shop')), undefined);
  });
});
