import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CLIENT_KEY, startTestServer, type TestServer } from '../helpers/server.js';

describe('/api/databases', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(async () => server.stop());

  test('lists default, creates, addresses with ?db= and drops', async () => {
    assert.deepEqual((await server.request({ method: 'GET', url: '/api/databases' })).json(), { success: true, databases: ['default'] });
    const created = await server.request({ method: 'POST', url: '/api/databases', payload: { name: 'analytics' } });
    assert.equal(created.statusCode, 201, created.body);
    assert.ok(existsSync(path.join(server.dataDir, 'analytics.duckdb')));
    await server.request({ method: 'POST', url: '/api/insert/events?db=analytics', payload: { kind: 'click' } });
    assert.equal((await server.request({ method: 'GET', url: '/api/find/events?db=analytics' })).json().length, 1);
    assert.equal((await server.request({ method: 'GET', url: '/api/find/events' })).statusCode, 404, 'not in default');
    assert.equal((await server.request({ method: 'POST', url: '/api/databases', payload: { name: 'analytics' } })).statusCode, 409);
    assert.equal((await server.request({ method: 'DELETE', url: '/api/databases/analytics' })).statusCode, 200);
    assert.ok(!existsSync(path.join(server.dataDir, 'analytics.duckdb')));
    assert.equal((await server.request({ method: 'GET', url: '/api/find/events?db=analytics' })).statusCode, 404);
  });

  test('an unknown ?db= is 404 on every data route', async () => {
    for (const [method, url] of [['GET', '/api/tables?db=ghost'], ['POST', '/api/query?db=ghost'], ['GET', '/api/find/x?db=ghost']] as const) {
      const res = await server.request({ method, url, ...(method === 'POST' ? { payload: { sql: 'SELECT 1' } } : {}) });
      assert.equal(res.statusCode, 404, `${method} ${url}`);
    }
  });

  test('bad names and the default database are refused', async () => {
    assert.equal((await server.request({ method: 'POST', url: '/api/databases', payload: { name: '../etc' } })).statusCode, 400);
    assert.equal((await server.request({ method: 'DELETE', url: '/api/databases/default' })).statusCode, 409);
    assert.equal((await server.request({ method: 'DELETE', url: '/api/databases/ghost' })).statusCode, 404);
  });

  test('create and drop are admin-only', async () => {
    assert.equal((await server.request({ method: 'POST', url: '/api/databases', key: CLIENT_KEY, payload: { name: 'x' } })).statusCode, 403);
    assert.equal((await server.request({ method: 'DELETE', url: '/api/databases/default', key: CLIENT_KEY })).statusCode, 403);
  });
});
