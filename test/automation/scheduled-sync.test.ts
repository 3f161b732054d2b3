/**
 * Scheduled jobs end to end on a real server: an incremental sync schedule against a real MariaDB
 * source brings a change into DuckDB on its own, and a backup of the synced database restores with
 * every table verified. Skipped with the reason when MariaDB is down.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createShop, createSourceSchema, mariadbUnavailable, type TestSourceSchema } from '../helpers/mariadb.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const skip = await mariadbUnavailable();

describe('scheduled sync and backup (MariaDB source)', { skip }, () => {
  let schema: TestSourceSchema;
  let server: TestServer;

  before(async () => {
    schema = await createSourceSchema('auto');
    await createShop(schema.db, 400);
    server = await startTestServer({ AUTOMATION_TICK_MS: '100', AUTOMATION_LEASE_MS: '2000' });
  });
  after(async () => {
    await server?.stop();
    await schema?.drop();
  });

  const count = async (db: string, table: string) => {
    const response = await server.request({ method: 'POST', url: `/api/query?db=${db}`, payload: { sql: `SELECT count(*)::INTEGER AS n FROM ${table}` } });
    assert.equal(response.statusCode, 200, response.body);
    return response.json().result[0].n as number;
  };
  const schedule = async (db: string) => (await server.request({ method: 'GET', url: '/automation/schedules' })).json().schedules
    .find((s: { database: string; kind: string }) => s.database === db && s.kind === 'sync');

  test('an incremental sync schedule runs on its own and brings source changes in', async () => {
    const created = await server.request({ method: 'POST', url: '/api/databases/shop', payload: { source: schema.url } });
    assert.equal(created.statusCode, 201, created.body);
    const set = await server.request({ method: 'PUT', url: '/automation/schedules/shop/sync', payload: { intervalSeconds: 60, firstRunAt: new Date().toISOString() } });
    assert.equal(set.statusCode, 200, set.body);
    for (let i = 0; i < 300 && (await schedule('shop')).runs === 0; i++) await new Promise((resolve) => setTimeout(resolve, 100));
    const first = await schedule('shop');
    assert.equal(first.runs, 1);
    assert.equal(first.lastStatus, 'ok', first.lastError);
    assert.equal(await count('shop', 'orders'), 400);

    // A change at the source; the schedule made due again: the next run brings it in.
    await schema.db.query(`INSERT INTO orders (id, customer, total, updated_at) VALUES (100000, 'new', 1.5, UTC_TIMESTAMP(6))`);
    await server.request({ method: 'PUT', url: '/automation/schedules/shop/sync', payload: { intervalSeconds: 60, firstRunAt: new Date().toISOString() } });
    for (let i = 0; i < 300 && (await schedule('shop')).runs < 2; i++) await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal((await schedule('shop')).lastStatus, 'ok');
    assert.equal(await count('shop', 'orders'), 401);
    const logs = (await server.request({ method: 'GET', url: '/api/sync-logs?db=shop' })).json().logs;
    assert.deepEqual(logs.map((l: { type: string }) => l.type), ['incremental', 'incremental']);
  });

  test('a backup of the synced database restores with every table verified', async () => {
    const backup = await server.request({ method: 'POST', url: '/automation/backup?db=shop' });
    assert.equal(backup.statusCode, 201, backup.body);
    const tables = backup.json().backup.tables.map((t: { table: string }) => t.table);
    assert.deepEqual(tables, ['events', 'notes', 'order_lines', 'orders']);
    const restored = await server.request({ method: 'POST', url: '/automation/restore', payload: { backupId: backup.json().backup.id, target: 'shop_copy' } });
    assert.equal(restored.statusCode, 200, restored.body);
    assert.equal(await count('shop_copy', 'orders'), 401);
  });
});
