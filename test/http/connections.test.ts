/**
 * Connection-level budgets (issue 10, item 5), scaled down so that CI can run them: slow headers and
 * slow bodies are cut off, idle keep-alive connections are closed, connections past MAX_CONNECTIONS
 * are refused while an existing client keeps its answers, and one client's requests in flight are
 * capped (429 `too_many_in_flight`) without touching another client's.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config/index.js';
import { defaultMaxConnections, openFileLimit } from '../../src/config/fd-limit.js';
import { ADMIN_KEY, CLIENT_KEY, startTestServer, type TestServer } from '../helpers/server.js';

interface RawExchange {
  socket: net.Socket;
  /** Everything the server sent, once it closed the connection (or `giveUpMs` passed). */
  finished: Promise<{ text: string; status: number | undefined; closed: boolean; ms: number }>;
}

/** A hand-written HTTP exchange on its own connection, so a test controls every byte and pause. */
function raw(server: TestServer, head: string, options: { giveUpMs?: number } = {}): RawExchange {
  const url = new URL(server.url);
  const socket = net.connect(Number(url.port), url.hostname);
  const started = performance.now();
  let text = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => (text += chunk));
  socket.on('error', () => {});
  if (head) socket.once('connect', () => socket.write(head));
  const finished = new Promise<{ text: string; status: number | undefined; closed: boolean; ms: number }>((resolve) => {
    const done = (closed: boolean) => {
      clearTimeout(timer);
      const status = /^HTTP\/1\.1 (\d{3})/.exec(text)?.[1];
      resolve({ text, status: status === undefined ? undefined : Number(status), closed, ms: performance.now() - started });
    };
    const timer = setTimeout(() => done(false), options.giveUpMs ?? 8000);
    socket.once('close', () => done(true));
  });
  return { socket, finished };
}

function bodyOf(text: string): unknown {
  const start = text.indexOf('\r\n\r\n');
  return start < 0 ? undefined : JSON.parse(text.slice(start + 4));
}

const postHead = (key: string, length: number, path = '/api/find/notes') =>
  `POST ${path} HTTP/1.1\r\nHost: localhost\r\nx-api-key: ${key}\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n\r\n`;

/** Keeps a body coming one space at a time, forever (the slowloris): stop it with the returned function. */
function trickle(socket: net.Socket, byte = ' ', everyMs = 100): () => void {
  const timer = setInterval(() => {
    if (!socket.destroyed) socket.write(byte);
  }, everyMs);
  return () => clearInterval(timer);
}

async function get(server: TestServer, path: string, key: string, agent?: http.Agent): Promise<{ status: number; body: string; socket: net.Socket }> {
  const url = new URL(path, server.url);
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers: { 'x-api-key': key }, agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, socket: res.socket }));
    });
    req.on('error', reject);
    req.setTimeout(8000, () => req.destroy(new Error(`GET ${path} timed out`)));
  });
}

async function connections(server: TestServer): Promise<number> {
  return new Promise((resolve, reject) => server.app.fastify.server.getConnections((error, count) => (error ? reject(error) : resolve(count))));
}

async function until(condition: () => Promise<boolean> | boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await condition())) {
    if (performance.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await sleep(10);
  }
}

describe('slow clients are cut off (REQUEST_RECEIVE_TIMEOUT_MS, HEADERS_TIMEOUT_MS, KEEP_ALIVE_TIMEOUT_MS)', { timeout: 60_000 }, () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({
      REQUEST_RECEIVE_TIMEOUT_MS: '800', HEADERS_TIMEOUT_MS: '400', KEEP_ALIVE_TIMEOUT_MS: '300', QUERY_TIMEOUT_MS: '1500',
      // One slot and no queue: a slot the cut-off request kept would show as a 429 below.
      MAX_IN_FLIGHT_PER_CLIENT: '1', MAX_QUEUED_PER_CLIENT: '0',
    });
  });
  after(async () => server.stop());

  test('a slow body is answered 408 request_timeout at the receive timeout, and its slot comes back', async () => {
    const exchange = raw(server, `${postHead(CLIENT_KEY, 1000)}{`);
    const stop = trickle(exchange.socket);
    const result = await exchange.finished;
    stop();
    assert.ok(result.closed, `the connection was not closed: ${JSON.stringify(result.text)}`);
    assert.equal(result.status, 408, result.text);
    assert.deepEqual(bodyOf(result.text), { error: 'The request was not received in time (HEADERS_TIMEOUT_MS, REQUEST_RECEIVE_TIMEOUT_MS)', code: 'request_timeout' });
    assert.ok(result.ms >= 700 && result.ms < 3000, `cut off after ${Math.round(result.ms)} ms`);
    await until(async () => (await get(server, '/api/collections', CLIENT_KEY)).status === 200, 'the client has its slot back', 3000);
  });

  test('a request refused before its body arrived is answered and its connection closed at once', async () => {
    for (const key of ['', `x-api-key: dk_live_${'Q'.repeat(32)}\r\n`]) {
      const exchange = raw(server, `POST /api/find/notes HTTP/1.1\r\nHost: localhost\r\n${key}Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{`);
      const stop = trickle(exchange.socket);
      const result = await exchange.finished;
      stop();
      assert.equal(result.status, 401);
      assert.match(result.text, /\r\nconnection: close\r\n/i);
      assert.ok(result.closed && result.ms < 700, `closed after ${Math.round(result.ms)} ms, before the receive timeout`);
    }
  });

  test('headers that never end, and a connection that never speaks, are closed at the headers timeout', async () => {
    const slowHeaders = raw(server, `GET /api/collections HTTP/1.1\r\nHost: localhost\r\nx-api-key: ${CLIENT_KEY}\r\nx-slow: `);
    const stop = trickle(slowHeaders.socket, 'a');
    const silent = raw(server, '');
    const [headers, quiet] = await Promise.all([slowHeaders.finished, silent.finished]);
    stop();
    for (const result of [headers, quiet]) {
      assert.ok(result.closed);
      assert.equal(result.status, 408);
      assert.ok(result.ms >= 300 && result.ms < 3000, `closed after ${Math.round(result.ms)} ms`);
    }
  });

  test('an idle keep-alive connection is closed after the keep-alive timeout', async () => {
    const exchange = raw(server, `GET /api/collections HTTP/1.1\r\nHost: localhost\r\nx-api-key: ${CLIENT_KEY}\r\n\r\n`);
    const result = await exchange.finished;
    assert.equal(result.status, 200);
    assert.ok(result.closed);
    // Node adds up to a second of grace to the keep-alive timeout.
    assert.ok(result.ms >= 250 && result.ms < 3500, `closed after ${Math.round(result.ms)} ms`);
  });

  test('a slow handler is not a slow client: it runs until its own deadline, not the receive timeout', async () => {
    const started = performance.now();
    const res = await fetch(`${server.url}/api/query`, {
      method: 'POST',
      headers: { 'x-api-key': ADMIN_KEY, 'content-type': 'application/json' },
      body: JSON.stringify({ sql: 'SELECT sum(range) AS s FROM range(100000000000)' }),
    });
    assert.equal(res.status, 408);
    assert.equal(((await res.json()) as { code: string }).code, 'query_timeout', 'QUERY_TIMEOUT_MS (1500) ended it');
    assert.ok(performance.now() - started >= 1400);
  });
});

describe('MAX_CONNECTIONS', { timeout: 60_000 }, () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ MAX_CONNECTIONS: '4', HEADERS_TIMEOUT_MS: '20000', REQUEST_RECEIVE_TIMEOUT_MS: '20000' });
  });
  after(async () => server.stop());

  test('connections past the cap are closed at once while an existing client still gets answers', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const idle: net.Socket[] = [];
    try {
      const first = await get(server, '/api/collections', ADMIN_KEY, agent);
      assert.equal(first.status, 200);
      const url = new URL(server.url);
      for (let i = 0; i < 3; i++) idle.push(net.connect(Number(url.port), url.hostname).on('error', () => {}));
      await until(async () => (await connections(server)) === 4, 'the server holds 4 connections');

      const refused = await Promise.all([0, 1, 2].map(() => raw(server, '', { giveUpMs: 3000 }).finished));
      for (const result of refused) {
        assert.ok(result.closed, 'a connection past the cap is closed');
        assert.equal(result.text, '', 'without an answer');
        assert.ok(result.ms < 2000, `closed after ${Math.round(result.ms)} ms`);
      }

      for (let i = 0; i < 5; i++) {
        const res = await get(server, '/api/collections', ADMIN_KEY, agent);
        assert.equal(res.status, 200);
        assert.equal(res.socket, first.socket, 'on the same kept-alive connection');
      }
      const metrics = (await get(server, '/metrics', ADMIN_KEY, agent)).body;
      assert.match(metrics, /^http_connections_dropped_total 3$/m);
      assert.match(metrics, /^http_open_connections 4$/m);
    } finally {
      for (const socket of idle) socket.destroy();
      agent.destroy();
    }
  });
});

describe('per-client in-flight cap (MAX_IN_FLIGHT_PER_CLIENT, MAX_QUEUED_PER_CLIENT)', { timeout: 60_000 }, () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({
      MAX_IN_FLIGHT_PER_CLIENT: '2', MAX_QUEUED_PER_CLIENT: '1', QUERY_TIMEOUT_MS: '1500',
      REQUEST_RECEIVE_TIMEOUT_MS: '30000', HEADERS_TIMEOUT_MS: '10000',
    });
  });
  after(async () => server.stop());

  test('a client with its requests in flight and its queue full gets 429 too_many_in_flight; another client is answered', async () => {
    // Two slow bodies hold the client's two slots (the slot is taken before the body is read).
    const slow = [raw(server, `${postHead(CLIENT_KEY, 2)}{`), raw(server, `${postHead(CLIENT_KEY, 2)}{`)];
    try {
      // (The /metrics request itself holds the admin's slot: 2 + 1.)
      await until(async () => /^in_flight_requests 3$/m.test((await get(server, '/metrics', ADMIN_KEY)).body), 'two requests hold slots');
      const queued = get(server, '/api/collections', CLIENT_KEY);
      await until(async () => /^in_flight_queued_requests 1$/m.test((await get(server, '/metrics', ADMIN_KEY)).body), 'one request waits');

      const refused = await fetch(`${server.url}/api/collections`, { headers: { 'x-api-key': CLIENT_KEY } });
      assert.equal(refused.status, 429);
      assert.equal(refused.headers.get('retry-after'), '1');
      assert.deepEqual(await refused.json(), { error: 'Too many requests in flight for this client', code: 'too_many_in_flight' });

      assert.equal((await get(server, '/api/collections', ADMIN_KEY)).status, 200, 'another client is answered meanwhile');

      // A refused request whose body is still coming: the connection is closed with the refusal,
      // not kept open while the rest of the body trickles in.
      const refusedSlow = raw(server, `${postHead(CLIENT_KEY, 1000)}{`);
      const stop = trickle(refusedSlow.socket);
      const cut = await refusedSlow.finished;
      stop();
      assert.equal(cut.status, 429);
      assert.ok(cut.closed && cut.ms < 2000, `closed after ${Math.round(cut.ms)} ms`);

      // The first slow body completes: its slot goes to the queued request.
      slow[0]!.socket.write('}');
      assert.equal((await queued).status, 200);
    } finally {
      for (const exchange of slow) exchange.socket.destroy();
    }
    const metrics = (await get(server, '/metrics', ADMIN_KEY)).body;
    assert.match(metrics, /^in_flight_refused_total\{reason="queue_full"\} 2$/m);
  });

  test('a queued request waits at most until its deadline: 408 query_timeout', async () => {
    const slow = [raw(server, `${postHead(CLIENT_KEY, 2)}{`), raw(server, `${postHead(CLIENT_KEY, 2)}{`)];
    try {
      await until(async () => /^in_flight_requests 3$/m.test((await get(server, '/metrics', ADMIN_KEY)).body), 'two requests hold slots');
      const started = performance.now();
      const res = await fetch(`${server.url}/api/collections`, { headers: { 'x-api-key': CLIENT_KEY } });
      const waited = performance.now() - started;
      assert.equal(res.status, 408);
      assert.equal(((await res.json()) as { code: string }).code, 'query_timeout');
      assert.ok(waited >= 1400 && waited < 4000, `waited ${Math.round(waited)} ms`);
    } finally {
      for (const exchange of slow) exchange.socket.destroy();
    }
    await until(async () => /^in_flight_requests 1$/m.test((await get(server, '/metrics', ADMIN_KEY)).body), 'the abandoned slow bodies gave their slots back');
  });

  test('dropping the connection does not free a slot while the request still runs', async () => {
    // Two long queries (interrupted at QUERY_TIMEOUT_MS), each abandoned by its client at once.
    for (let i = 0; i < 2; i++) {
      const controller = new AbortController();
      const running = fetch(`${server.url}/api/query`, {
        method: 'POST',
        headers: { 'x-api-key': CLIENT_KEY, 'content-type': 'application/json' },
        body: JSON.stringify({ sql: 'SELECT sum(range) AS s FROM range(100000000000)' }),
        signal: controller.signal,
      }).catch(() => undefined);
      await until(async () => new RegExp(`^in_flight_requests ${i + 2}$`, 'm').test((await get(server, '/metrics', ADMIN_KEY)).body), 'the query holds a slot');
      controller.abort();
      await running;
    }
    await sleep(100);
    // The queries still run, so the client's two slots are still taken: its next request waits.
    const metrics = (await get(server, '/metrics', ADMIN_KEY)).body;
    assert.match(metrics, /^in_flight_requests 3$/m, 'two abandoned queries and this /metrics request');
    const started = performance.now();
    const next = await get(server, '/api/collections', CLIENT_KEY);
    assert.equal(next.status, 200);
    assert.ok(performance.now() - started > 500, 'it waited for a query to end');
    await until(async () => /^in_flight_requests 1$/m.test((await get(server, '/metrics', ADMIN_KEY)).body), 'every slot is back once the queries end');
  });

  test('a waiting request whose client disconnects frees its queue place (refused as aborted, not at its deadline)', async () => {
    const metricsBody = async () => (await get(server, '/metrics', ADMIN_KEY)).body;
    const slow = [raw(server, `${postHead(CLIENT_KEY, 2)}{`), raw(server, `${postHead(CLIENT_KEY, 2)}{`)];
    try {
      await until(async () => /^in_flight_requests 3$/m.test(await metricsBody()), 'two requests hold slots');
      // The client's one queue place, taken by a request that then hangs up while it waits.
      const leaving = raw(server, `GET /api/collections HTTP/1.1\r\nHost: localhost\r\nx-api-key: ${CLIENT_KEY}\r\n\r\n`);
      await until(async () => /^in_flight_queued_requests 1$/m.test(await metricsBody()), 'one request waits');
      leaving.socket.destroy();
      await until(async () => /^in_flight_queued_requests 0$/m.test(await metricsBody()), 'the hung-up request left the queue');
      assert.match(await metricsBody(), /^in_flight_refused_total\{reason="aborted"\} 1$/m);

      // Its place is free for the next request (not 429 queue_full), which gets the first slot given back.
      const queued = get(server, '/api/collections', CLIENT_KEY);
      await until(async () => /^in_flight_queued_requests 1$/m.test(await metricsBody()), 'the next request waits in the freed place');
      slow[0]!.socket.write('}');
      assert.equal((await queued).status, 200);
    } finally {
      for (const exchange of slow) exchange.socket.destroy();
    }
    await until(async () => /^in_flight_requests 1$/m.test(await metricsBody()), 'every slot is back');
  });
});

describe('shutdown', { timeout: 60_000 }, () => {
  test('closing lets a running request finish but does not wait for a request that began and went quiet', async () => {
    const server = await startTestServer({ QUERY_TIMEOUT_MS: '1500' });
    const agent = new http.Agent({ keepAlive: true });
    try {
      assert.equal((await get(server, '/api/collections', CLIENT_KEY, agent)).status, 200, 'an idle kept-alive connection');
      const quiet = raw(server, `GET /api/collections HTTP/1.1\r\nHost: localhost\r\nx-api-key: ${CLIENT_KEY}\r\nx-half: `);
      const running = fetch(`${server.url}/api/query`, {
        method: 'POST',
        headers: { 'x-api-key': ADMIN_KEY, 'content-type': 'application/json' },
        body: JSON.stringify({ sql: 'SELECT sum(range) AS s FROM range(100000000000)' }),
      });
      await until(async () => (await connections(server)) === 3, 'three connections are open');
      await sleep(200);

      const started = performance.now();
      const closed = server.stop().then(() => performance.now() - started);
      const quietResult = await quiet.finished;
      assert.ok(quietResult.closed, 'the half-received request is cut');
      assert.ok(performance.now() - started < 1000, `cut ${Math.round(performance.now() - started)} ms after the close began`);
      const answer = await running;
      assert.equal(answer.status, 408, 'the running query still got its answer (at its deadline)');
      const ms = await Promise.race([closed, sleep(8000).then(() => Infinity)]);
      assert.ok(ms < 5000, `the server closed in ${Math.round(ms)} ms`);
    } finally {
      agent.destroy();
    }
  });
});

describe('connection settings', () => {
  test('defaults, and a connection cap that leaves room for database files', () => {
    const config = loadConfig({});
    assert.equal(config.requestReceiveTimeoutMs, 30_000);
    assert.equal(config.headersTimeoutMs, 10_000);
    assert.equal(config.keepAliveTimeoutMs, 72_000);
    assert.equal(config.maxRequestsPerSocket, 0);
    assert.equal(config.maxInFlightPerClient, 4);
    assert.equal(config.maxQueuedPerClient, 64);
    const limit = openFileLimit();
    assert.equal(config.maxConnections, defaultMaxConnections(limit));
    if (limit !== undefined) assert.ok(config.maxConnections <= limit - 256, `${config.maxConnections} connections within ${limit} files`);
    assert.equal(defaultMaxConnections(20_000), 10_000);
    assert.equal(defaultMaxConnections(1024), 512);
    assert.equal(defaultMaxConnections(undefined), 10_000);
  });

  test('bad values name their variable', () => {
    const cases: [Record<string, string>, string][] = [
      [{ REQUEST_RECEIVE_TIMEOUT_MS: '0' }, 'REQUEST_RECEIVE_TIMEOUT_MS'],
      [{ HEADERS_TIMEOUT_MS: '5000', REQUEST_RECEIVE_TIMEOUT_MS: '1000' }, 'HEADERS_TIMEOUT_MS'],
      [{ KEEP_ALIVE_TIMEOUT_MS: 'soon' }, 'KEEP_ALIVE_TIMEOUT_MS'],
      [{ MAX_CONNECTIONS: '0' }, 'MAX_CONNECTIONS'],
      [{ MAX_IN_FLIGHT_PER_CLIENT: '-1' }, 'MAX_IN_FLIGHT_PER_CLIENT'],
      [{ MAX_QUEUED_PER_CLIENT: 'many' }, 'MAX_QUEUED_PER_CLIENT'],
    ];
    const limit = openFileLimit();
    // As many connections as the process may open files leaves none for the databases.
    if (limit !== undefined && limit <= 1_000_000) cases.push([{ MAX_CONNECTIONS: String(limit) }, 'MAX_CONNECTIONS']);
    for (const [env, variable] of cases) {
      assert.throws(() => loadConfig(env), (error: unknown) => error instanceof ConfigError && error.variable === variable, JSON.stringify(env));
    }
  });
});
