/**
 * `GET /ws`: Duckling's WebSocket protocol (issue 12 item 1), driven over a real port by a client
 * that speaks it as Duckling's SDK does (`test/helpers/duckling.ts`).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { DucklingWire, NON_RECONNECT_CLOSE_CODES, type Answer } from '../helpers/duckling.js';
import { as, createKey } from '../helpers/keys.js';
import { ADMIN_KEY, CLIENT_KEY, DUCKLING_KEY, startTestServer, type TestServer } from '../helpers/server.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves with how long `closed` took from now, or rejects after `ms`. */
async function closesWithin(wire: DucklingWire, ms: number): Promise<{ code: number; reason: string; afterMs: number }> {
  const started = performance.now();
  const closed = await Promise.race([wire.closed, sleep(ms).then(() => undefined)]);
  assert.ok(closed, `socket still open after ${ms} ms`);
  return { code: closed.code, reason: closed.reason, afterMs: closed.at - started };
}

/** One client-to-server text frame (RFC 6455 §5.2), masked with a zero key so the payload reads as is. */
function maskedTextFrame(text: string): Buffer {
  const payload = Buffer.from(text);
  assert.ok(payload.length < 126);
  return Buffer.concat([Buffer.from([0x81, 0x80 | payload.length, 0, 0, 0, 0]), payload]);
}

function rejected(promise: Promise<Answer>): Promise<unknown> {
  return promise.then(() => assert.fail('expected no answer'), (error: unknown) => error);
}

describe('/ws: the protocol', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
    const res = await server.request({ method: 'POST', url: '/api/query', payload: { sql: 'CREATE TABLE people AS SELECT i AS id, \'name \' || i AS name FROM range(10) t(i)' } });
    assert.equal(res.statusCode, 200, res.body);
  });
  after(async () => server.stop());

  test('auth with an environment key, the welcome, ping and a query with params', async () => {
    const { wire, auth } = await DucklingWire.connect(server.url, ADMIN_KEY);
    assert.equal(auth.success, true);
    assert.equal(auth.result?.[0]?.authenticated, true);
    assert.equal(auth.result?.[0]?.database, 'default');
    assert.equal(wire.received[0]?.id, 'welcome', 'greeted as Duckling greets');

    const pong = await wire.ping();
    assert.equal(pong.success, true);
    assert.equal(pong.result?.[0]?.pong, true);
    assert.ok(!Number.isNaN(Date.parse(String(pong.result?.[0]?.timestamp))));

    const rows = await wire.query('SELECT id, name FROM people WHERE id >= $1 AND id < $2 ORDER BY id', [3, 5]);
    assert.equal(rows.success, true, rows.error);
    assert.deepEqual(rows.result, [{ id: 3, name: 'name 3' }, { id: 4, name: 'name 4' }]);
    assert.equal(typeof rows.duration, 'number', 'duration in milliseconds, as Duckling');
    assert.equal(rows.truncated, false);
    assert.deepEqual(rows.columns, ['id', 'name']);
    // The same rows as HTTP's /api/query gives them.
    const http = await server.request({ method: 'POST', url: '/api/query', payload: { sql: 'SELECT id, name FROM people WHERE id >= $1 AND id < $2 ORDER BY id', params: [3, 5] } });
    assert.deepEqual(rows.result, http.json().result);
    wire.close();
  });

  test('every kind of credential: environment keys, a managed key, an exchanged token', async () => {
    const managed = await createKey(server, { collection_permissions: { people: ['read'] } });
    const exchanged = await server.request({ method: 'POST', url: '/api/auth/token', key: null, payload: { api_key: managed.key } });
    const token = exchanged.json().token as string;
    for (const key of [ADMIN_KEY, CLIENT_KEY, DUCKLING_KEY, managed.key, token]) {
      const { wire, auth } = await DucklingWire.connect(server.url, key);
      assert.equal(auth.success, true, `${key.slice(0, 12)}: ${auth.error}`);
      const count = await wire.query('SELECT count(*) AS n FROM people');
      assert.deepEqual(count.result, [{ n: 10 }]);
      wire.close();
    }
  });

  test('64 queries in flight on one socket each get their own answer', async () => {
    const { wire } = await DucklingWire.connect(server.url, CLIENT_KEY);
    const answers = await Promise.all(Array.from({ length: 64 }, (_, i) => wire.query('SELECT $1::INTEGER AS n, name FROM people WHERE id = $2', [i, i % 10])));
    answers.forEach((answer, i) => {
      assert.equal(answer.success, true, answer.error);
      assert.deepEqual(answer.result, [{ n: i, name: `name ${i % 10}` }]);
    });
    wire.close();
  });

  test('an unknown database closes 1011 naming it, and creates nothing', async () => {
    const { wire, auth } = await DucklingWire.connect(server.url, ADMIN_KEY, { databaseName: 'nosuchdb' });
    assert.equal(auth.success, false);
    assert.equal(auth.code, 'not_found');
    const closed = await closesWithin(wire, 1000);
    assert.equal(closed.code, 1011);
    assert.match(closed.reason, /nosuchdb/);
    assert.ok(NON_RECONNECT_CLOSE_CODES.has(closed.code));
    assert.equal(server.engine.listDatabases().includes('nosuchdb'), false);
  });

  test('a database the key cannot see looks unknown (decided after auth)', async () => {
    assert.equal((await server.request({ method: 'POST', url: '/api/databases', payload: { name: 'tenant_b' } })).statusCode, 201);
    const key = await createKey(server, { collection_permissions: { people: ['read'] } });
    const { wire, auth } = await DucklingWire.connect(server.url, key.key, { databaseName: 'tenant_b' });
    assert.equal(auth.success, false);
    assert.equal(auth.error, "Database 'tenant_b' not found");
    assert.equal((await closesWithin(wire, 1000)).code, 1011);
    // The admin sees it.
    const admin = await DucklingWire.connect(server.url, ADMIN_KEY, { databaseName: 'tenant_b' });
    assert.equal(admin.auth.success, true);
    admin.wire.close();
  });

  test('a wrong key: success false, then close 1008; audited and counted as HTTP failures are', async () => {
    const { wire, auth } = await DucklingWire.connect(server.url, 'dk_live_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA');
    assert.equal(auth.success, false);
    assert.equal(auth.code, 'invalid_api_key');
    assert.equal(auth.status, 401);
    assert.equal((await closesWithin(wire, 1000)).code, 1008);

    const metrics = (await server.request({ method: 'GET', url: '/metrics' })).body;
    assert.match(metrics, /auth_attempts_total\{result="failure",method="api-key",code="invalid_api_key"\} [1-9]/);
    await sleep(50);
    const audit = (await server.request({ method: 'GET', url: '/api/audit?kind=auth.failure&code=invalid_api_key' })).json();
    assert.ok(audit.events.some((event: { route: string; key_prefix: string }) => event.route === 'GET /ws' && event.key_prefix === 'dk_live_AAAAAAAA'), JSON.stringify(audit.events));
  });

  test('a first message that is not auth closes 1008', async () => {
    const wire = new DucklingWire(server.url);
    await wire.opened;
    const answer = await wire.ping();
    assert.equal(answer.success, false);
    assert.equal(answer.code, 'missing_api_key');
    assert.equal((await closesWithin(wire, 1000)).code, 1008);
  });

  test('malformed messages are answered and the socket stays', async () => {
    const { wire } = await DucklingWire.connect(server.url, ADMIN_KEY);
    const unknown = await wire.send({ type: 'subscribe' });
    assert.deepEqual([unknown.success, unknown.code], [false, 'bad_request']);
    const noSql = await wire.send({ type: 'query' });
    assert.deepEqual([noSql.success, noSql.error], [false, 'SQL query is required']);
    const again = await wire.send({ type: 'auth', apiKey: ADMIN_KEY });
    assert.deepEqual([again.success, again.code], [false, 'bad_request']);
    const notJson = new Promise<Answer>((resolve) => wire.socket.once('message', (data: WebSocket.RawData) => resolve(JSON.parse(String(data)) as Answer)));
    wire.socket.send('{not json');
    assert.deepEqual([(await notJson).id, (await notJson).code], ['parse-error', 'invalid_json']);
    const sqlError = await wire.query('SELEC 1');
    assert.deepEqual([sqlError.success, sqlError.code, sqlError.status], [false, 'sql_error', 400]);
    assert.equal((await wire.ping()).success, true);
    wire.close();
  });

  test('a large answer goes out whole, in fragments, with other answers around it', async () => {
    const { wire } = await DucklingWire.connect(server.url, ADMIN_KEY);
    const [big, pong] = await Promise.all([wire.query("SELECT i, repeat('x', 1000) AS s FROM range(5000) t(i)"), wire.ping()]);
    assert.equal(big.success, true, big.error);
    assert.equal(big.result?.length, 5000);
    assert.deepEqual(big.result?.[4999], { i: 4999, s: 'x'.repeat(1000) });
    assert.equal(pong.success, true);
    wire.close();
  });

  test('a credential that expires closes its socket 1008 then', async () => {
    const shortLived = await startTestServer({ TOKEN_EXPIRES_IN: '1s' });
    try {
      const token = (await shortLived.request({ method: 'POST', url: '/api/auth/token', key: null, payload: { api_key: CLIENT_KEY } })).json().token as string;
      const { wire, auth } = await DucklingWire.connect(shortLived.url, token);
      assert.equal(auth.success, true);
      assert.equal((await closesWithin(wire, 2500)).code, 1008);
    } finally {
      await shortLived.stop();
    }
  });

  test('ALLOWED_IPS applies before the upgrade', async () => {
    const denied = await startTestServer({ ALLOWED_IPS: '10.9.9.9' });
    try {
      const wire = new DucklingWire(denied.url);
      await assert.rejects(wire.opened, /Unexpected server response: 403/);
    } finally {
      await denied.stop();
    }
  });
});

describe('/ws: rights re-checked on every message', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
    for (const sql of ['CREATE TABLE items AS SELECT i AS id, i * 10 AS price, \'secret \' || i AS note FROM range(5) t(i)', 'CREATE TABLE secrets AS SELECT 1 AS id']) {
      assert.equal((await server.request({ method: 'POST', url: '/api/query', payload: { sql } })).statusCode, 200);
    }
  });
  after(async () => server.stop());

  test('revocation: the next message is refused and the socket closes 1008', async () => {
    const key = await createKey(server, { collection_permissions: { items: ['read'] } });
    const { wire } = await DucklingWire.connect(server.url, key.key);
    assert.equal((await wire.query('SELECT count(*) AS n FROM items')).success, true);
    assert.equal((await server.request({ method: 'DELETE', url: `/api/auth/keys/${key.key_id}` })).statusCode, 200);
    const refused = await wire.query('SELECT count(*) AS n FROM items').catch((error: { code: number }) => error);
    // Either the message was refused, or the change feed closed the socket first.
    if ('success' in refused) assert.deepEqual([refused.success, refused.code], [false, 'invalid_api_key']);
    assert.equal((await closesWithin(wire, 1000)).code, 1008);
  });

  test('revocation closes an idle socket 1008 within a second', async () => {
    const key = await createKey(server, { collection_permissions: { items: ['read'] } });
    const { wire } = await DucklingWire.connect(server.url, key.key);
    const started = performance.now();
    assert.equal((await server.request({ method: 'DELETE', url: `/api/auth/keys/${key.key_id}` })).statusCode, 200);
    const closed = await closesWithin(wire, 1000);
    assert.equal(closed.code, 1008);
    assert.ok(closed.afterMs + (performance.now() - started) < 1500);
  });

  test('regeneration closes the old key\'s socket 1008; the new key connects', async () => {
    const key = await createKey(server, { collection_permissions: { items: ['read'] } });
    const { wire } = await DucklingWire.connect(server.url, key.key);
    const regenerated = await server.request({ method: 'POST', url: `/api/auth/keys/${key.key_id}/regenerate`, payload: {} });
    assert.equal(regenerated.statusCode, 200, regenerated.body);
    assert.equal((await closesWithin(wire, 1000)).code, 1008);
    const fresh = await DucklingWire.connect(server.url, regenerated.json().key);
    assert.equal(fresh.auth.success, true);
    fresh.wire.close();
  });

  test('logging out a token closes its socket 1008', async () => {
    const key = await createKey(server, { collection_permissions: { items: ['read'] } });
    const token = (await server.request({ method: 'POST', url: '/api/auth/token', key: null, payload: { api_key: key.key } })).json().token as string;
    const { wire, auth } = await DucklingWire.connect(server.url, token);
    assert.equal(auth.success, true);
    assert.equal(auth.result?.[0]?.authMethod, 'jwt');
    const out = await fetch(`${server.url}/api/logout`, { method: 'POST', headers: { Authorization: `Bearer ${token}` } });
    assert.equal(out.status, 200);
    assert.equal((await closesWithin(wire, 1000)).code, 1008);
    // The key itself still works.
    const direct = await DucklingWire.connect(server.url, key.key);
    assert.equal(direct.auth.success, true);
    direct.wire.close();
  });

  test('a permission change applies to the next message; losing the database closes 1008', async () => {
    const key = await createKey(server, { collection_permissions: { items: ['read'], secrets: ['read'] } });
    const { wire } = await DucklingWire.connect(server.url, key.key);
    assert.equal((await wire.query('SELECT id FROM secrets')).success, true);
    const changed = await server.request({ method: 'POST', url: '/api/auth/permissions', payload: { key_id: key.key_id, collection_permissions: { items: ['read'] } } });
    assert.equal(changed.statusCode, 200, changed.body);
    const refused = await wire.query('SELECT id FROM secrets');
    assert.deepEqual([refused.success, refused.code, refused.status], [false, 'forbidden', 403]);
    assert.equal((await wire.query('SELECT count(*) AS n FROM items')).success, true, 'what is still granted still works');
    // Nothing left in `default`: the database is gone from this key's view, and so is the socket.
    await server.request({ method: 'POST', url: '/api/auth/permissions', payload: { key_id: key.key_id, collection_permissions: { 'other.items': ['read'] } } });
    assert.equal((await closesWithin(wire, 1000)).code, 1008);
  });

  test('a scoped key: the SQL guard shows its fields only, and refuses a table outside its grant', async () => {
    const key = await createKey(server, { collection_permissions: { items: { read: true, write: false, delete: false, exclude_fields: ['note'] } } });
    const { wire } = await DucklingWire.connect(server.url, key.key);
    const rows = await wire.query('SELECT * FROM items WHERE id < $1 ORDER BY id', [2]);
    assert.equal(rows.success, true, rows.error);
    assert.deepEqual(rows.result, [{ id: 0, price: 0 }, { id: 1, price: 10 }]);
    const secret = await wire.query('SELECT * FROM secrets');
    assert.deepEqual([secret.success, secret.code], [false, 'forbidden']);
    const write = await wire.query('DELETE FROM items');
    assert.deepEqual([write.success, write.code], [false, 'forbidden']);
    // Admin-only statements stay admin-only for a full-data key too.
    const client = await DucklingWire.connect(server.url, CLIENT_KEY);
    const ddl = await client.wire.query('CREATE TABLE nope (x INT)');
    assert.deepEqual([ddl.success, ddl.code, ddl.error], [false, 'forbidden', 'Admin access required']);
    client.wire.close();
    wire.close();
  });
});

describe('/ws: budgets, limits and shutdown', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({
      QUERY_TIMEOUT_MS: '300', MAX_RESULT_ROWS: '50', WS_AUTH_TIMEOUT_MS: '200', WS_MAX_MESSAGE_BYTES: '2kb',
      WS_MAX_IN_FLIGHT: '1', WS_MAX_QUEUED: '2',
    });
  });
  after(async () => server.stop());

  test('a result over the budget is truncated, and the answer says so', async () => {
    const { wire } = await DucklingWire.connect(server.url, ADMIN_KEY);
    const answer = await wire.query('SELECT * FROM range(1000) t(i)');
    assert.equal(answer.success, true);
    assert.equal(answer.result?.length, 50);
    assert.deepEqual([answer.truncated, answer.truncatedBy], [true, 'rows']);
    wire.close();
    // `?max_rows=` on the upgrade URL lowers it, as on HTTP.
    const lowered = await DucklingWire.connect(server.url, CLIENT_KEY, { query: { max_rows: '3' } });
    const three = await lowered.wire.query('SELECT * FROM range(1000) t(i)');
    assert.deepEqual([three.result?.length, three.truncatedBy], [3, 'rows']);
    lowered.wire.close();
  });

  test('a query past its deadline answers query_timeout (408)', async () => {
    const { wire } = await DucklingWire.connect(server.url, ADMIN_KEY);
    const started = performance.now();
    const answer = await wire.query('SELECT count(*) FROM range(100000000) a, range(100000000) b');
    assert.deepEqual([answer.success, answer.code, answer.status], [false, 'query_timeout', 408]);
    assert.ok(performance.now() - started < 3000);
    assert.equal((await wire.ping()).success, true, 'the socket stays');
    wire.close();
  });

  test('no auth message within WS_AUTH_TIMEOUT_MS closes 1008', async () => {
    const wire = new DucklingWire(server.url);
    await wire.opened;
    const closed = await closesWithin(wire, 2000);
    assert.equal(closed.code, 1008);
    assert.match(closed.reason, /timeout/i);
  });

  test('a message over WS_MAX_MESSAGE_BYTES closes 1009', async () => {
    const { wire } = await DucklingWire.connect(server.url, ADMIN_KEY);
    const error = await rejected(wire.query(`SELECT '${'x'.repeat(4096)}'`));
    assert.equal((error as { code: number }).code, 1009);
  });

  test('past the in-flight cap and its queue, a message is refused too_many_in_flight', async () => {
    const { wire } = await DucklingWire.connect(server.url, ADMIN_KEY);
    wire.socket.setMaxListeners(20);
    // Ten frames in one write, so the server reads them all before it can stop reading:
    // one runs, two wait, seven are refused.
    const ids = Array.from({ length: 10 }, () => wire.nextId());
    const answers = ids.map((id) => new Promise<Answer>((resolve) => {
      const listener = (data: WebSocket.RawData) => {
        const answer = JSON.parse(String(data)) as Answer;
        if (answer.id === id) {
          wire.socket.off('message', listener);
          resolve(answer);
        }
      };
      wire.socket.on('message', listener);
    }));
    const frames = ids.map((id) => maskedTextFrame(JSON.stringify({ id, type: 'query', sql: 'SELECT 1 AS one' })));
    (wire.socket as unknown as { _socket: { write(data: Buffer): void } })._socket.write(Buffer.concat(frames));
    const settled = await Promise.all(answers);
    assert.deepEqual(settled.map((a) => a.success), [true, true, true, false, false, false, false, false, false, false]);
    assert.deepEqual(new Set(settled.filter((a) => !a.success).map((a) => a.code)), new Set(['too_many_in_flight']));
    // Then the socket reads again.
    assert.equal((await wire.query('SELECT 2 AS two')).success, true);
    wire.close();
  });

  test('the client\'s rate limit applies per message', async () => {
    const limited = await startTestServer({ API_RATE_LIMIT: '3' });
    try {
      const { wire } = await DucklingWire.connect(limited.url, CLIENT_KEY);
      const answers: Answer[] = [];
      for (let i = 0; i < 4; i++) answers.push(await wire.query('SELECT 1 AS one'));
      assert.deepEqual(answers.map((a) => a.success), [true, true, true, false]);
      assert.equal(answers[3]?.code, 'rate_limited');
      assert.equal(answers[3]?.status, 429);
      assert.ok((answers[3]?.retryAfter ?? 0) >= 1);
      assert.equal((await wire.ping()).success, true, 'the socket stays open');
      wire.close();
    } finally {
      await limited.stop();
    }
  });

  test('server shutdown closes open sockets 1001', async () => {
    const other = await startTestServer();
    const { wire } = await DucklingWire.connect(other.url, ADMIN_KEY);
    const started = performance.now();
    await other.stop();
    const closed = await closesWithin(wire, 1000);
    assert.equal(closed.code, 1001);
    assert.ok(performance.now() - started < 3000);
  });
});
