/**
 * The client's transports (issue 12 item 6) against a real server: Node's keep-alive pool (the
 * package's `node` entry), and `query()` over `/ws` (`transport: 'ws'`, `DuckgateSocket`).
 */
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { DuckgateClient as BrowserClient, DuckgateSocket as BrowserSocket, type WebSocketConstructor } from '../../src/client/index.js';
import { DuckgateClient, DuckgateError, DuckgateSocket, createPool } from '../../src/client/node.js';
import { createKey } from '../helpers/keys.js';
import { ADMIN_KEY, CLIENT_KEY, startTestServer, type TestServer } from '../helpers/server.js';

describe('client transports', () => {
  let server: TestServer;
  /** TCP connections the server accepted. */
  let connections = 0;
  before(async () => {
    server = await startTestServer();
    server.app.fastify.server.on('connection', (_socket: Socket) => connections++);
    const res = await server.request({ method: 'POST', url: '/api/query', payload: { sql: 'CREATE TABLE items AS SELECT i AS id, \'item \' || i AS name FROM range(100) t(i)' } });
    assert.equal(res.statusCode, 200, res.body);
  });
  after(async () => server.stop());

  test('Node: calls reuse kept-alive connections instead of opening one each', async () => {
    const client = new DuckgateClient({ baseUrl: server.url, apiKey: CLIENT_KEY });
    const before = connections;
    for (let i = 0; i < 30; i++) assert.equal((await client.query('SELECT name FROM items WHERE id = $1', [i])).result[0]?.name, `item ${i}`);
    // The token exchange and the thirty calls, one after another: a connection or two, not 31.
    assert.ok(connections - before <= 2, `${connections - before} connections`);
    // Eighty calls, eight in flight at a time: undici may open a second connection while one is
    // still finishing its answer, but it keeps and reuses them (without keep-alive: eighty).
    const beforeBursts = connections;
    for (let burst = 0; burst < 10; burst++) await Promise.all(Array.from({ length: 8 }, () => client.tables()));
    assert.ok(connections - beforeBursts <= 16, `${connections - beforeBursts} connections for 80 calls`);
  });

  test('Node: errors surface as they do through fetch (status, code, Retry-After)', async () => {
    const client = new DuckgateClient({ baseUrl: server.url, apiKey: CLIENT_KEY });
    await assert.rejects(client.findById('nowhere', 'x'), { name: 'DuckgateError', status: 404, code: 'not_found' });
    await assert.rejects(client.query('SELEC 1'), { name: 'DuckgateError', status: 400, code: 'sql_error' });
    const bad = new DuckgateClient({ baseUrl: server.url, apiKey: 'dk_live_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' });
    await assert.rejects(bad.tables(), { name: 'DuckgateError', status: 401, code: 'invalid_api_key' });
    const limited = await startTestServer({ API_RATE_LIMIT: '3' });
    try {
      const client1 = new DuckgateClient({ baseUrl: limited.url, apiKey: CLIENT_KEY });
      await client1.tables();
      await assert.rejects(async () => {
        for (let i = 0; i < 5; i++) await client1.tables();
      }, (error: unknown) => {
        assert.ok(error instanceof DuckgateError);
        assert.deepEqual([error.status, error.code], [429, 'rate_limited']);
        assert.ok((error.retryAfter ?? 0) >= 1);
        return true;
      });
    } finally {
      await limited.stop();
    }
    const down = new DuckgateClient({ baseUrl: 'http://127.0.0.1:9', apiKey: CLIENT_KEY });
    await assert.rejects(down.tables(), { name: 'DuckgateError', status: 0, code: 'network_error' });
  });

  test('Node: a pool of its own, and a base path kept', async () => {
    const pool = createPool({ connections: 2 });
    try {
      const client = new DuckgateClient({ baseUrl: `${server.url}/`, apiKey: ADMIN_KEY, request: pool.request });
      const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => client.query('SELECT $1::INTEGER AS n', [i])));
      assert.deepEqual(answers.map((a) => a.result[0]?.n), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      const proxied = new DuckgateClient({ baseUrl: `${server.url}/duckgate`, apiKey: ADMIN_KEY, request: pool.request });
      // The token exchange goes to /duckgate/api/auth/token, which does not exist here.
      await assert.rejects(proxied.tables(), { status: 401, code: 'missing_api_key' }, 'the prefix is sent, not dropped');
    } finally {
      await pool.close();
    }
  });

  test("transport 'ws': query() over the socket answers as HTTP does; other calls stay on HTTP", async () => {
    const client = new DuckgateClient({ baseUrl: server.url, apiKey: CLIENT_KEY, transport: 'ws' });
    const http = new DuckgateClient({ baseUrl: server.url, apiKey: CLIENT_KEY });
    try {
      const sql = 'SELECT id, name FROM items WHERE id < $1 ORDER BY id';
      const [overSocket, overHttp] = await Promise.all([client.query(sql, [3]), http.query(sql, [3])]);
      assert.deepEqual(overSocket.result, overHttp.result);
      assert.deepEqual(overSocket.columns, overHttp.columns);
      assert.equal(overSocket.rowCount, 3);
      assert.equal(overSocket.truncated, false);
      const many = await Promise.all(Array.from({ length: 64 }, (_, i) => client.query<{ n: number }>('SELECT $1::INTEGER AS n', [i])));
      assert.deepEqual(many.map((a) => a.result[0]?.n), Array.from({ length: 64 }, (_, i) => i));
      await assert.rejects(client.query('SELEC 1'), { name: 'DuckgateError', status: 400, code: 'sql_error' });
      await assert.rejects(client.query('CREATE TABLE nope (x INT)'), { name: 'DuckgateError', status: 403, code: 'forbidden' });
      assert.ok((await client.tables()).includes('items'), 'HTTP for the rest');
      const metrics = (await server.request({ method: 'GET', url: '/metrics' })).body;
      assert.match(metrics, /route="\/api\/tables"/);
    } finally {
      client.close();
    }
  });

  test('DuckgateSocket: a refused key fails every call with the server\'s code; a revoked one fails the next', async () => {
    const wrong = new DuckgateSocket({ baseUrl: server.url, apiKey: 'dk_live_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' });
    await assert.rejects(wrong.query('SELECT 1'), { name: 'DuckgateError', status: 401, code: 'invalid_api_key' });
    await assert.rejects(wrong.query('SELECT 1'), { code: 'invalid_api_key' }, 'not retried: the refusal is final');
    const unknownDb = new DuckgateSocket({ baseUrl: server.url, apiKey: ADMIN_KEY, db: 'nope' });
    await assert.rejects(unknownDb.ping(), { status: 404, code: 'not_found' });

    const key = await createKey(server, { collection_permissions: { items: ['read'] } });
    const socket = new DuckgateSocket({ baseUrl: server.url, apiKey: key.key });
    assert.equal((await socket.query('SELECT count(*) AS n FROM items')).result[0]?.n, 100);
    await server.request({ method: 'DELETE', url: `/api/auth/keys/${key.key_id}` });
    await assert.rejects(socket.query('SELECT count(*) AS n FROM items'), (error: unknown) => {
      assert.ok(error instanceof DuckgateError);
      assert.ok(['invalid_api_key', 'socket_refused'].includes(error.code), error.code);
      return true;
    });
    socket.close();
  });

  test('DuckgateSocket: closed by the client, it opens again on the next call', async () => {
    const socket = new DuckgateSocket({ baseUrl: server.url, apiKey: ADMIN_KEY });
    await socket.ping();
    const inFlight = socket.query('SELECT count(*) FROM range(100000000) a, range(10) b');
    socket.close();
    await assert.rejects(inFlight, { code: 'socket_closed' });
    assert.equal((await socket.query('SELECT 1 AS one')).result[0]?.one, 1);
    socket.close();
  });

  test('the universal entry (browsers) takes any WHATWG WebSocket', async () => {
    const client = new BrowserClient({ baseUrl: server.url, apiKey: CLIENT_KEY, transport: 'ws', WebSocket: WebSocket as unknown as WebSocketConstructor });
    try {
      assert.equal((await client.query('SELECT 7 AS seven')).result[0]?.seven, 7);
    } finally {
      client.close();
    }
    const socket = new BrowserSocket({ baseUrl: server.url, apiKey: CLIENT_KEY, WebSocket: WebSocket as unknown as WebSocketConstructor });
    await socket.ping();
    socket.close();
  });
});
