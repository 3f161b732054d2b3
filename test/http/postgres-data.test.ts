/**
 * DATA_URL end to end: settings validated at start, a DATA_URL whose role is not locked down is
 * refused with the reason, two servers on one DATA_URL share databases and records, and scoped SQL
 * runs as DATA_READER_URL's role (refused with 403, and one warning at start, without it).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { rmSync } from 'node:fs';
import { loadConfig } from '../../src/config/index.js';
import { startServer } from '../../src/server.js';
import { freshPostgresData } from '../data/engines.js';
import { as, createKey } from '../helpers/keys.js';
import { adminQuery, POSTGRES_TEST_URL, postgresUnavailable } from '../helpers/postgres.js';
import { ADMIN_KEY, CLIENT_KEY, startTestServer, tempDir } from '../helpers/server.js';

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

  test('DATA_READER_URL is a postgres:// URL, and only with DATA_URL', () => {
    assert.throws(() => loadConfig({ DATA_URL: 'postgres://u@h/db', DATA_READER_URL: 'mysql://r@h/db' }), /DATA_READER_URL must start with postgres:\/\//);
    assert.throws(() => loadConfig({ DATA_READER_URL: 'postgres://r@h/db' }), /DATA_READER_URL needs DATA_URL/);
    assert.equal(loadConfig({ DATA_URL: 'postgres://u@h/db', DATA_READER_URL: 'postgres://r@h/db' }).dataReaderUrl, 'postgres://r@h/db');
    assert.equal(loadConfig({ DATA_URL: 'postgres://u@h/db' }).dataReaderUrl, undefined);
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

  test("scoped SQL over HTTP runs as DATA_READER_URL's role: visible columns only, no writes", async () => {
    const data = await freshPostgresData();
    const server = await startTestServer({ DATA_URL: data.url, DATA_READER_URL: data.readerUrl, DATA_SCHEMA_PREFIX: data.schemaPrefix });
    try {
      assert.equal((await server.request({ method: 'POST', url: '/api/insert/people', payload: { id: 'p1', name: 'Ada', salary: 100 } })).statusCode, 201);
      const { key } = await createKey(server, { collection_permissions: { people: { read: true, write: false, delete: false, exclude_fields: ['salary'] } } });
      const call = as(server, key);
      const star = await call('POST', '/api/query', { sql: 'SELECT * FROM people' });
      assert.equal(star.statusCode, 200, star.body);
      assert.deepEqual(star.json().result, [{ id: 'p1', name: 'Ada' }]);
      assert.equal((await call('POST', '/api/query', { sql: 'SELECT salary FROM people' })).statusCode, 400, 'the hidden column does not exist');
      assert.equal((await call('POST', '/api/query', { sql: 'DELETE FROM people' })).statusCode, 403);
      const union = await call('POST', '/api/query', { sql: 'SELECT name FROM people UNION ALL (WITH c AS (SELECT name FROM people) SELECT upper(name) FROM c)' });
      assert.deepEqual(union.json().result, [{ name: 'Ada' }, { name: 'ADA' }], union.body);
      const readers = await adminQuery('SELECT 1 FROM pg_stat_activity WHERE usename = $1', [data.readerRole]);
      assert.ok(readers.length > 0, 'the scoped query used a connection of the reader role');
      // Admins and full-data keys keep running as DATA_URL's role.
      assert.deepEqual((await server.request({ method: 'POST', url: '/api/query', payload: { sql: 'SELECT current_user AS who' } })).json().result, [{ who: data.role }]);
      assert.equal((await server.request({ method: 'POST', url: '/api/query', key: CLIENT_KEY, payload: { sql: 'SELECT salary FROM people' } })).statusCode, 200);
    } finally {
      await server.stop();
      await data.drop();
    }
  });

  test('without DATA_READER_URL scoped SQL is refused with 403 naming it, and the start logs one warning', async () => {
    const data = await freshPostgresData();
    const dataDir = tempDir();
    const lines: { level: number; msg: string }[] = [];
    const config = loadConfig({
      PORT: '0', DATA_DIR: dataDir, ADMIN_API_KEY: ADMIN_KEY, VALID_API_KEYS: CLIENT_KEY, LOG_LEVEL: 'warn',
      DATA_URL: data.url, DATA_SCHEMA_PREFIX: data.schemaPrefix,
    });
    const server = await startServer(config, { logDestination: { write: (line) => void lines.push(JSON.parse(line) as { level: number; msg: string }) }, announce: () => {} });
    try {
      const warnings = lines.filter((line) => line.msg.includes('DATA_READER_URL'));
      assert.equal(warnings.length, 1, JSON.stringify(lines));
      assert.equal(warnings[0]!.level, 40);
      const inject = (key: string, sql: string) => server.app.fastify.inject({ method: 'POST', url: '/api/query', headers: { 'x-api-key': key }, payload: { sql } });
      assert.equal((await inject(ADMIN_KEY, "SELECT 1 AS one")).statusCode, 200);
      assert.equal((await server.app.fastify.inject({ method: 'POST', url: '/api/insert/people', headers: { 'x-api-key': ADMIN_KEY }, payload: { id: 'p1', name: 'Ada' } })).statusCode, 201);
      const registered = await server.app.fastify.inject({
        method: 'POST', url: '/api/auth/register', headers: { 'x-api-key': ADMIN_KEY }, payload: { label: 'scoped', collection_permissions: { people: ['read'] } },
      });
      assert.equal(registered.statusCode, 201, registered.body);
      const refused = await inject((registered.json() as { key: string }).key, 'SELECT * FROM people');
      assert.equal(refused.statusCode, 403, refused.body);
      assert.equal(refused.json().code, 'forbidden');
      assert.match(refused.json().error, /DATA_READER_URL/);
      assert.equal((await inject(CLIENT_KEY, 'SELECT * FROM people')).statusCode, 200, 'a full-data key runs as the main role');
    } finally {
      await server.close();
      rmSync(dataDir, { recursive: true, force: true });
      await data.drop();
    }
  });
});
