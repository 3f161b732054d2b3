import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CLIENT_KEY, startTestServer, type TestServer } from '../helpers/server.js';

describe('POST /api/query', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ QUERY_TIMEOUT_MS: '300' });
  });
  after(async () => server.stop());
  const query = (sql: string, params?: unknown, key?: string) =>
    server.request({ method: 'POST', url: '/api/query', key, payload: { sql, ...(params === undefined ? {} : { params }) } });

  test('answers { result, columns, rowCount, elapsedMs }', async () => {
    const res = await query('SELECT 42 AS answer, $1 AS echo', ['hi']);
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json();
    assert.deepEqual(body.result, [{ answer: 42, echo: 'hi' }]);
    assert.deepEqual(body.columns, ['answer', 'echo']);
    assert.equal(body.rowCount, 1);
    assert.equal(typeof body.elapsedMs, 'number');
  });

  test('no SQL reads or writes server files or attaches databases, admin included', async () => {
    for (const sql of [
      "SELECT * FROM read_csv('/etc/passwd')",
      "SELECT * FROM '/etc/passwd'",
      "COPY (SELECT 1) TO '/tmp/duckgate-leak.csv'",
      "ATTACH '/tmp/duckgate-attach.duckdb' AS other",
      'SET enable_external_access = true',
      "INSTALL httpfs",
    ]) {
      const res = await query(sql);
      assert.equal(res.statusCode, 400, `${sql} → ${res.statusCode} ${res.body}`);
      assert.equal(res.json().code, 'sql_error');
    }
  });

  test('a client key may read and write rows but not change the schema', async () => {
    assert.equal((await query('CREATE TABLE q1 (a INTEGER)')).statusCode, 200);
    assert.equal((await query('INSERT INTO q1 VALUES (1)', undefined, CLIENT_KEY)).statusCode, 200);
    assert.equal((await query('SELECT * FROM q1', undefined, CLIENT_KEY)).json().rowCount, 1);
    for (const sql of ['DROP TABLE q1', 'ALTER TABLE q1 ADD COLUMN b INTEGER', 'CREATE TABLE q2 (a INTEGER)', "SET memory_limit = '2GB'", 'CHECKPOINT']) {
      const res = await query(sql, undefined, CLIENT_KEY);
      assert.equal(res.statusCode, 403, `${sql}: ${res.body}`);
    }
  });

  test('a runaway query is cancelled at the timeout with 408, and the server keeps answering', async () => {
    const started = Date.now();
    const res = await query('SELECT count(*) FROM range(100000000) a, range(100000000) b');
    assert.equal(res.statusCode, 408, res.body);
    assert.equal(res.json().code, 'query_timeout');
    assert.ok(Date.now() - started < 10_000);
    assert.equal((await query('SELECT 1 AS ok')).json().result[0].ok, 1);
  });
});
