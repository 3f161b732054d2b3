/**
 * DATA_URL end to end: settings validated at start, a DATA_URL whose role is not locked down is
 * refused with the reason, and two servers on one DATA_URL share databases and records.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loadConfig } from '../../src/config/index.js';
import { freshPostgresData } from '../data/engines.js';
import { POSTGRES_TEST_URL, postgresUnavailable } from '../helpers/postgres.js';
import { startTestServer } from '../helpers/server.js';

const skip = await postgresUnavailable();

describe('DATA_URL settings', () => {
  test('bad values are start-up errors naming the setting', () => {
    assert.throws(() => loadConfig({ DATA_URL: 'mysql://localhost/x' }), /DATA_URL must start with postgres:\/\//);
    assert.throws(() => loadConfig({ DATA_SCHEMA_PREFIX: 'Bad-Prefix' }), /DATA_SCHEMA_PREFIX must be/);
    assert.throws(() => loadConfig({ DATA_POOL_SIZE: '0' }), /DATA_POOL_SIZE must be a whole number/);
    const config = loadConfig({ DATA_URL: 'postgres://u@h/db' });
    assert.equal(config.dataUrl, 'postgres://u@h/db');
    assert.equal(config.dataSchemaPrefix, 'duckgate_');
    assert.equal(config.dataPoolSize, 10);
    assert.equal(loadConfig({}).dataUrl, undefined);
  });
});

describe('DATA_URL on PostgreSQL', { skip }, () => {
  test('a superuser DATA_URL is refused at start: admin SQL would run as it', async () => {
    await assert.rejects(startTestServer({ DATA_URL: POSTGRES_TEST_URL, DATA_SCHEMA_PREFIX: 'dgt_never_' }), /DATA_URL its role must be locked down.*superuser/);
  });

  test('two servers on one DATA_URL share databases and records', async () => {
    const data = await freshPostgresData();
    const env = { DATA_URL: data.url, DATA_SCHEMA_PREFIX: data.schemaPrefix };
    const one = await startTestServer(env);
    const two = await startTestServer(env);
    try {
      const inserted = await one.request({ method: 'POST', url: '/api/insert/notes', payload: { id: 'n1', text: 'hello' } });
      assert.equal(inserted.statusCode, 201, inserted.body);
      assert.deepEqual((await two.request({ method: 'GET', url: '/api/find/notes/n1' })).json(), { id: 'n1', text: 'hello' });
      assert.equal((await one.request({ method: 'POST', url: '/api/databases', payload: { name: 'shared-db' } })).statusCode, 201);
      let listed: string[] = [];
      for (let i = 0; i < 40 && !listed.includes('shared-db'); i++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        listed = (await two.request({ method: 'GET', url: '/api/databases' })).json().databases;
      }
      assert.deepEqual(listed, ['default', 'shared-db']);
      assert.equal((await two.request({ method: 'POST', url: '/api/insert/events?db=shared-db', payload: { kind: 'click' } })).statusCode, 201);
      assert.equal((await one.request({ method: 'GET', url: '/api/find/events?db=shared-db' })).json().length, 1);
      assert.equal((await one.request({ method: 'GET', url: '/api/find/events' })).statusCode, 404, 'not in default');
      assert.equal((await two.request({ method: 'DELETE', url: '/api/databases/shared-db' })).statusCode, 200);
      assert.equal((await two.request({ method: 'GET', url: '/api/find/events?db=shared-db' })).statusCode, 404);
    } finally {
      await one.stop();
      await two.stop();
      await data.drop();
    }
  });
});
