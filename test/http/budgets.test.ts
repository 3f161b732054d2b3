/**
 * Issue 10 over HTTP: result budgets with their visible signal, the refusals of the SQL, filter
 * and schema-growth caps, and one deadline per request on every data route.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { jsonSlices } from '../../src/http/json-stream.js';
import { dataBackends } from '../helpers/data-backends.js';
import { createKey } from '../helpers/keys.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { dialect } from '../data/dialect.js';

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

for (const backend of dataBackends()) {
describe(`result budgets over HTTP (${backend.name})`, { skip: backend.skip }, () => {
  const sql = dialect(backend.name);
  // PostgreSQL gets a smaller "more rows than any budget" so the suite stays fast.
  const huge = backend.name === 'duckdb' ? 30_000_000 : 3_000_000;
  let server: TestServer;
  let reader: string;
  before(async () => {
    server = await startTestServer({
      MAX_RESULT_ROWS: '100', MAX_RESULT_BYTES: '64kb', RESULT_ROWS_CEILING: '1000', RESULT_BYTES_CEILING: '1mb',
      MAX_NEW_FIELDS_PER_WRITE: '10', MAX_IN_VALUES: '50',
      ...(await backend.env()),
    });
    reader = (await createKey(server, { collection_permissions: { '*': ['read'] } })).key;
    assert.equal((await server.request({ method: 'POST', url: '/api/insert/people', payload: { id: 'seed', name: 'x' } })).statusCode, 201);
    const fill = await server.request({ method: 'POST', url: '/api/query', payload: { sql: `INSERT INTO people SELECT 'p' || lpad(i::VARCHAR, 4, '0'), 'name ' || i FROM ${sql.series(300)}` } });
    assert.equal(fill.statusCode, 200, fill.body);
  });
  after(async () => {
    await server.stop();
    await backend.cleanup();
  });

  const call = (method: Method, url: string, payload?: object, key?: string) =>
    server.request({ method, url, ...(key === undefined ? {} : { key }), ...(payload === undefined ? {} : { payload }) });
  const query = (statement: string, key = reader, qs = '') => call('POST', `/api/query${qs}`, { sql: statement }, key);

  test('/api/query past the row budget: 200, truncated at the budget, header and body say rows', async () => {
    const res = await query(`SELECT i FROM ${sql.series(huge)}`);
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.headers['duckgate-truncated'], 'rows');
    const body = res.json();
    assert.equal(body.rowCount, 100);
    assert.equal(body.result.length, 100);
    assert.equal(body.truncated, true);
    assert.equal(body.truncatedBy, 'rows');
  });

  test('/api/query within budget: truncated false, no truncatedBy, no header', async () => {
    const res = await query('SELECT 1 AS one');
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.headers['duckgate-truncated'], undefined);
    assert.deepEqual(res.json().result, [{ one: 1 }]);
    assert.equal(res.json().truncated, false);
    assert.equal('truncatedBy' in res.json(), false);
  });

  test('/api/query past the byte budget: cut at a row boundary, header and body say bytes', async () => {
    const res = await query(`SELECT i, repeat('x', 1000) AS s FROM ${sql.series(1000)}`);
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.headers['duckgate-truncated'], 'bytes');
    assert.equal(res.json().truncatedBy, 'bytes');
    assert.ok(res.json().rowCount > 50 && res.json().rowCount < 66, `${res.json().rowCount} rows`);
    assert.ok(res.body.length <= 64 * 1024 + 200);
  });

  test('one row over the byte budget: 400 result_too_large', async () => {
    for (const key of [reader, undefined]) {
      const res = await call('POST', '/api/query', { sql: "SELECT repeat('x', 100000) AS s" }, key);
      assert.equal(res.statusCode, 400, res.body);
      assert.equal(res.json().code, 'result_too_large');
    }
  });

  test('?max_rows and ?max_bytes: anyone may lower them; only admins raise them, up to the ceiling', async () => {
    const rows = async (key: string | undefined, qs: string) => (await call('POST', `/api/query${qs}`, { sql: `SELECT i FROM ${sql.series(huge)}` }, key)).json().rowCount;
    assert.equal(await rows(reader, '?max_rows=10'), 10);
    assert.equal(await rows(reader, '?max_rows=5000'), 100, 'a non-admin asking for more gets the default');
    assert.equal(await rows(undefined, '?max_rows=500'), 500);
    assert.equal(await rows(undefined, '?max_rows=5000'), 1000, 'an admin is held to RESULT_ROWS_CEILING');
    const bytes = await call('POST', '/api/query?max_bytes=2048', { sql: `SELECT repeat('x', 100) AS s FROM ${sql.series(100)}` }, reader);
    assert.equal(bytes.headers['duckgate-truncated'], 'bytes');
    assert.ok(bytes.json().rowCount < 20);
    const raised = await call('POST', '/api/query?max_bytes=200000', { sql: "SELECT repeat('x', 100000) AS s" });
    assert.equal(raised.statusCode, 200, 'an admin may raise the byte budget');
    assert.equal((await call('POST', '/api/query?max_bytes=200000', { sql: "SELECT repeat('x', 100000) AS s" }, reader)).json().code, 'result_too_large');
    assert.equal((await call('POST', '/api/query?max_rows=0', { sql: 'SELECT 1' }, reader)).statusCode, 400);
  });

  test('find (POST and GET) and table rows: a limit above the budget is clamped, with the header', async () => {
    for (const [method, url, payload] of [
      ['POST', '/api/find/people', { limit: 100_000 }],
      ['GET', '/api/find/people?limit=100000', undefined],
      ['GET', '/api/tables/people/data?limit=100000', undefined],
    ] as [Method, string, object | undefined][]) {
      const res = await call(method, url, payload, reader);
      assert.equal(res.statusCode, 200, `${method} ${url}: ${res.body}`);
      assert.equal(res.headers['duckgate-truncated'], 'rows', url);
      assert.equal(res.json().length, 100, url);
      assert.equal(res.json()[0].id, 'p0000', `${url} is ordered by id`);
      const small = await call(method, url.replace('100000', '20'), payload && { limit: 20 }, reader);
      assert.equal(small.json().length, 20);
      assert.equal(small.headers['duckgate-truncated'], undefined, url);
    }
    const bytes = await call('POST', '/api/find/people?max_bytes=1024', { limit: 200 }, reader);
    assert.equal(bytes.headers['duckgate-truncated'], 'bytes');
  });

  test('pages of find are ordered by id, then stable under skip', async () => {
    const page = async (skip: number) => (await call('GET', `/api/find/people?limit=50&skip=${skip}`, undefined, reader)).json().map((r: { id: string }) => r.id);
    const ids = [...(await page(0)), ...(await page(50)), ...(await page(100))];
    assert.deepEqual(ids, [...ids].sort());
    assert.equal(new Set(ids).size, 150);
  });

  test('the caps refuse with their codes: statement_too_large, filter_too_large, too_many_fields', async () => {
    const long = await query(`SELECT 1 -- ${'x'.repeat(110 * 1024)}`);
    assert.equal(long.statusCode, 400, long.body);
    assert.equal(long.json().code, 'statement_too_large');
    const refs = await query(`SELECT count(*) FROM ${Array.from({ length: 40 }, (_, i) => sql.series(1, `t${i}`)).join(', ')}`);
    assert.equal(refs.json().code, 'statement_too_large');
    const filter = await call('POST', '/api/find/people', { filter: { type: 'Condition', content: { field: 'name', operator: 'In', value: Array.from({ length: 51 }, (_, i) => `n${i}`) } } }, reader);
    assert.equal(filter.statusCode, 400, filter.body);
    assert.equal(filter.json().code, 'filter_too_large');
    const wide = Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`f${i}`, i]));
    for (const [method, url, payload] of [
      ['POST', '/api/insert/people', wide],
      ['PUT', '/api/update/people/p0001', wide],
      ['POST', '/api/batch/insert/people', { inserts: [{ data: { id: 'n1', ...wide } }] }],
      ['PUT', '/api/batch/update/people', { updates: [{ id: 'p0001', data: wide }] }],
      ['POST', '/v1/sync', { people: [{ externalId: 'e1', ...wide }] }],
      ['POST', '/v1/sync/people', [{ externalId: 'e1', ...wide }]],
    ] as [Method, string, object][]) {
      const res = await call(method, url, payload);
      assert.equal(res.statusCode, 400, `${method} ${url}: ${res.body}`);
      assert.equal(res.json().code, 'too_many_fields', url);
    }
    assert.equal((await call('GET', '/api/tables/people/schema')).json().columns.length, 2, 'no column was added');
  });
});
}

describe('large answers go out in slices', () => {
  test('jsonSlices: bounded slices that join into the same JSON as one stringify', async () => {
    const rows = Array.from({ length: 3000 }, (_, i) => ({ id: `r${i}`, text: 'x'.repeat(500), n: i, nested: { a: [i, null, true] } }));
    const slices: string[] = [];
    for await (const slice of jsonSlices('{"result":', rows, ',"rowCount":3000}')) slices.push(String(slice));
    assert.ok(slices.length >= 5, `${slices.length} slices`);
    assert.ok(slices.every((slice) => slice.length < 300 * 1024));
    assert.equal(slices.join(''), JSON.stringify({ result: rows, rowCount: 3000 }));
    const empty: string[] = [];
    for await (const slice of jsonSlices('{"result":', [], '}')) empty.push(String(slice));
    assert.equal(empty.join(''), '{"result":[]}');
  });

  test('a large /api/query answer is streamed, and is the same document', async () => {
    const server = await startTestServer({ MAX_RESULT_BYTES: '8mb' });
    try {
      const res = await fetch(`${server.url}/api/query`, {
        method: 'POST',
        headers: { 'x-api-key': 'test-admin-key-0123456789abcdef', 'content-type': 'application/json' },
        body: JSON.stringify({ sql: "SELECT i, repeat('x', 1000) AS s FROM range(5000) t(i)" }),
      });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('transfer-encoding'), 'chunked');
      assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
      assert.equal(res.headers.get('duckgate-truncated'), null);
      const body = (await res.json()) as { result: { i: number; s: string }[]; columns: string[]; rowCount: number; elapsedMs: number; truncated: boolean };
      assert.equal(body.rowCount, 5000);
      assert.equal(body.result.length, 5000);
      assert.deepEqual(body.result[4999], { i: 4999, s: 'x'.repeat(1000) });
      assert.deepEqual(body.columns, ['i', 's']);
      assert.equal(body.truncated, false);
      assert.equal(typeof body.elapsedMs, 'number');
      const cut = await fetch(`${server.url}/api/query?max_bytes=2000000`, {
        method: 'POST',
        headers: { 'x-api-key': 'test-admin-key-0123456789abcdef', 'content-type': 'application/json' },
        body: JSON.stringify({ sql: "SELECT i, repeat('x', 1000) AS s FROM range(5000) t(i)" }),
      });
      assert.equal(cut.headers.get('duckgate-truncated'), 'bytes');
      const cutBody = (await cut.json()) as { truncated: boolean; truncatedBy: string; rowCount: number };
      assert.equal(cutBody.truncated, true);
      assert.equal(cutBody.truncatedBy, 'bytes');
    } finally {
      await server.stop();
    }
  });
});

for (const backend of dataBackends()) {
describe(`one deadline per request over HTTP (${backend.name})`, { skip: backend.skip }, () => {
  let server: TestServer;
  const SLOW_READ = dialect(backend.name).runawayRead;
  const SLOW_WRITE = dialect(backend.name).runawayWrite;
  before(async () => {
    // One read connection (on PostgreSQL one connection for everything), so holding it holds every read.
    server = await startTestServer({ QUERY_TIMEOUT_MS: '400', UV_THREADPOOL_SIZE: '1', ...(await backend.env()), ...(backend.name === 'postgres' ? { DATA_POOL_SIZE: '1' } : {}) });
    assert.equal((await server.request({ method: 'POST', url: '/api/insert/people', payload: { id: 'p1', name: 'Ada' } })).statusCode, 201);
    assert.equal((await server.request({ method: 'POST', url: '/api/query', payload: { sql: 'CREATE TABLE big (n BIGINT)' } })).statusCode, 200);
  });
  after(async () => {
    await server.stop();
    await backend.cleanup();
  });

  let hogs = 0;
  /**
   * Holds the writer or the read connection through the engine (no HTTP deadline) for `ms`. On
   * PostgreSQL no statement outlives QUERY_TIMEOUT_MS (it is every connection's statement_timeout),
   * so the one connection is held by a batch of many short statements in one transaction instead.
   */
  async function holding(sql: string, ms: number, run: () => Promise<void>): Promise<void> {
    const db = server.engine.database('default');
    const batch = Array.from({ length: 2000 }, (_, i) => ({ id: `h${hogs}-${i}` }));
    hogs++;
    const hog = (backend.name === 'duckdb' ? db.query(sql, undefined, { timeoutMs: ms }) : db.batchInsert('hog', batch)).catch((error: unknown) => error);
    await new Promise((resolve) => setTimeout(resolve, 50));
    try {
      await run();
    } finally {
      await hog;
    }
  }

  async function expect408(requests: [Method, string, object?][]): Promise<void> {
    await Promise.all(requests.map(async ([method, url, payload]) => {
      const started = performance.now();
      const res = await server.request({ method, url, ...(payload === undefined ? {} : { payload }) });
      const took = performance.now() - started;
      assert.equal(res.statusCode, 408, `${method} ${url}: ${res.statusCode} ${res.body}`);
      assert.equal(res.json().code, 'query_timeout');
      assert.ok(took < 1500, `${method} ${url} answered after ${Math.round(took)} ms`);
    }));
  }

  test('every write route answers 408 at its deadline while the writer is busy, and changes nothing', () =>
    holding(SLOW_WRITE, 3000, async () => {
      await expect408([
        ['POST', '/api/insert/people', { id: 'p2' }],
        ['PUT', '/api/update/people/p1', { name: 'Bea' }],
        ['DELETE', '/api/delete/people/p1'],
        ['POST', '/api/batch/insert/people', { inserts: [{ data: { id: 'p3' } }] }],
        ['PUT', '/api/batch/update/people', { updates: [{ id: 'p1', data: { name: 'Cy' } }] }],
        ['DELETE', '/api/batch/delete/people', { deletes: [{ id: 'p1' }] }],
        ['POST', '/v1/sync', { people: [{ externalId: 'e1' }] }],
        ['POST', '/v1/sync/people', [{ externalId: 'e2' }]],
        ['POST', '/api/query', { sql: 'DELETE FROM people' }],
      ]);
    }).then(async () => {
      const res = await server.request({ method: 'GET', url: '/api/find/people' });
      assert.deepEqual(res.json(), [{ id: 'p1', name: 'Ada' }]);
    }));

  test('every read route answers 408 at its deadline while the read connections are busy', () =>
    holding(SLOW_READ, 3000, async () => {
      await expect408([
        ['POST', '/api/find/people', {}],
        ['GET', '/api/find/people'],
        ['GET', '/api/find/people/p1'],
        ['GET', '/api/collections'],
        ['GET', '/api/tables'],
        ['GET', '/api/tables/counts/all'],
        ['GET', '/api/tables/people/schema'],
        ['GET', '/api/tables/people/data'],
        ['GET', '/api/tables/people/count'],
        ['POST', '/api/query', { sql: 'SELECT 1' }],
      ]);
    }));

  test('the deadline counts from arrival: a body that takes longer than QUERY_TIMEOUT_MS to arrive gets 408', async () => {
    const url = new URL(`${server.url}/api/find/people`);
    const body = JSON.stringify({ limit: 1 });
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request({
        host: url.hostname, port: url.port, path: url.pathname, method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'x-api-key': 'test-admin-key-0123456789abcdef' },
      }, (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      });
      req.on('error', reject);
      req.write(body.slice(0, 3));
      setTimeout(() => req.end(body.slice(3)), 700);
    });
    assert.equal(answer.status, 408, answer.body);
    assert.equal(JSON.parse(answer.body).code, 'query_timeout');
  });
});
}
