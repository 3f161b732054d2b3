import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { dataBackends } from '../helpers/data-backends.js';
import { CLIENT_KEY, startTestServer, type TestServer } from '../helpers/server.js';
import { dialect } from '../data/dialect.js';

for (const backend of dataBackends()) {
  describe(`POST /api/query (${backend.name})`, { skip: backend.skip }, () => {
    const sql = dialect(backend.name);
    let server: TestServer;
    before(async () => {
      server = await startTestServer({ QUERY_TIMEOUT_MS: '300', ...(await backend.env()) });
    });
    after(async () => {
      await server.stop();
      await backend.cleanup();
    });
    const query = (statement: string, params?: unknown, key?: string) =>
      server.request({ method: 'POST', url: '/api/query', key, payload: { sql: statement, ...(params === undefined ? {} : { params }) } });

    test('answers { result, columns, rowCount, elapsedMs }', async () => {
      const res = await query('SELECT 42 AS answer, $1 AS echo', ['hi']);
      assert.equal(res.statusCode, 200, res.body);
      const body = res.json();
      assert.deepEqual(body.result, [{ answer: 42, echo: 'hi' }]);
      assert.deepEqual(body.columns, ['answer', 'echo']);
      assert.equal(body.rowCount, 1);
      assert.equal(typeof body.elapsedMs, 'number');
    });

    test('empty SQL and a wrong parameter count are 400 sql_error with a clear message', async () => {
      assert.equal((await query('')).json().code, 'validation_failed');
      for (const statement of [' ', '-- only a comment']) {
        const empty = await query(statement);
        assert.equal(empty.statusCode, 400, empty.body);
        assert.deepEqual(empty.json(), { error: 'Exactly one SQL statement is allowed', code: 'sql_error' });
      }
      const count = await query('SELECT $1::int AS x', [1, 2]);
      assert.equal(count.statusCode, 400, count.body);
      assert.equal(count.json().code, 'sql_error');
    });

    test('no SQL reads or writes server files or attaches databases, admin included', async () => {
      const statements = backend.name === 'duckdb'
        ? ["SELECT * FROM read_csv('/etc/passwd')", "SELECT * FROM '/etc/passwd'", "COPY (SELECT 1) TO '/tmp/duckgate-leak.csv'", "ATTACH '/tmp/duckgate-attach.duckdb' AS other", 'SET enable_external_access = true', 'INSTALL httpfs']
        : ["SELECT pg_read_file('/etc/passwd')", "SELECT lo_import('/etc/passwd')", "COPY (SELECT 1) TO '/tmp/duckgate-leak.csv'", "COPY (SELECT 1) TO PROGRAM 'true'", 'CREATE EXTENSION dblink', "SET role = 'postgres'"];
      for (const statement of statements) {
        const res = await query(statement);
        assert.equal(res.statusCode, 400, `${statement} → ${res.statusCode} ${res.body}`);
        assert.equal(res.json().code, 'sql_error');
      }
    });

    test('a client key may read and write rows but not change the schema', async () => {
      assert.equal((await query('CREATE TABLE q1 (a INTEGER)')).statusCode, 200);
      assert.equal((await query('INSERT INTO q1 VALUES (1)', undefined, CLIENT_KEY)).statusCode, 200);
      assert.equal((await query('SELECT * FROM q1', undefined, CLIENT_KEY)).json().rowCount, 1);
      const setting = backend.name === 'duckdb' ? "SET memory_limit = '2GB'" : "SET work_mem = '2GB'";
      for (const statement of ['DROP TABLE q1', 'ALTER TABLE q1 ADD COLUMN b INTEGER', 'CREATE TABLE q2 (a INTEGER)', setting, 'CHECKPOINT']) {
        const res = await query(statement, undefined, CLIENT_KEY);
        assert.equal(res.statusCode, 403, `${statement}: ${res.body}`);
      }
    });

    test('a runaway query is cancelled at the timeout with 408, and the server keeps answering', async () => {
      const started = Date.now();
      const res = await query(sql.runawayRead);
      assert.equal(res.statusCode, 408, res.body);
      assert.equal(res.json().code, 'query_timeout');
      assert.ok(Date.now() - started < 10_000);
      assert.equal((await query('SELECT 1 AS ok')).json().result[0].ok, 1);
    });
  });
}
