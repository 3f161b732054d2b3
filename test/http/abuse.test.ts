import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { ADMIN_KEY, CLIENT_KEY, startTestServer, type TestServer } from '../helpers/server.js';
import { createKey } from '../helpers/keys.js';
import { REDIS_TEST_URL, redisUnavailable } from '../helpers/redis.js';

const get = (server: TestServer, options: { key?: string | null; ip?: string; headers?: Record<string, string>; url?: string } = {}) =>
  server.request({
    method: 'GET',
    url: options.url ?? '/api/collections',
    key: options.key === undefined ? ADMIN_KEY : options.key,
    ...(options.ip ? { remoteAddress: options.ip } : {}),
    ...(options.headers ? { headers: options.headers } : {}),
  });

describe('IP allow lists (seed 001)', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ ALLOWED_IPS: '192.168.0.0/16, 2001:db8::/32' });
  });
  after(async () => server.stop());

  test('ALLOWED_IPS is checked before the credential: 403 ip_denied with or without a key', async () => {
    for (const key of [null, ADMIN_KEY, 'garbage-credential']) {
      const res = await get(server, { key, ip: '10.1.2.3' });
      assert.equal(res.statusCode, 403, `key ${key}`);
      assert.deepEqual(res.json(), { error: 'Access denied from this IP address', code: 'ip_denied' });
    }
    assert.equal((await get(server, { ip: '192.168.4.5' })).statusCode, 200);
    assert.equal((await get(server, { ip: '2001:db8::7' })).statusCode, 200);
    assert.equal((await get(server, { ip: '::ffff:192.168.4.5' })).statusCode, 200, 'IPv4-mapped IPv6 matches its IPv4 range');
    assert.equal((await server.request({ method: 'GET', url: '/openapi.json', key: null, remoteAddress: '10.1.2.3' })).statusCode, 403, 'public routes too');
  });

  test("a key's own allowed_ips narrows it further", async () => {
    const { key } = await createKey(server, { collection_permissions: { '*': ['read'] }, allowed_ips: ['192.168.7.0/24'] }, '192.168.1.1');
    assert.equal((await get(server, { key, ip: '192.168.7.9' })).statusCode, 200);
    const denied = await get(server, { key, ip: '192.168.8.9' });
    assert.equal(denied.statusCode, 403);
    assert.equal(denied.json().code, 'ip_denied');
  });
});

describe('trusted proxies', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ ALLOWED_IPS: '203.0.113.7', TRUSTED_PROXIES: '127.0.0.1, 10.0.0.0/8' });
  });
  after(async () => server.stop());

  test('a spoofed X-Forwarded-For or X-Real-IP from an untrusted peer changes nothing', async () => {
    assert.equal((await get(server, { ip: '198.51.100.1', headers: { 'x-forwarded-for': '203.0.113.7' } })).statusCode, 403);
    assert.equal((await get(server, { ip: '198.51.100.1', headers: { 'x-real-ip': '203.0.113.7' } })).statusCode, 403);
  });

  test('through a trusted proxy the forwarded client counts', async () => {
    assert.equal((await get(server, { ip: '127.0.0.1', headers: { 'x-forwarded-for': '203.0.113.7' } })).statusCode, 200);
    assert.equal((await get(server, { ip: '127.0.0.1', headers: { 'x-forwarded-for': '203.0.113.7, 10.1.1.1' } })).statusCode, 200, 'through two trusted hops');
    assert.equal((await get(server, { ip: '127.0.0.1', headers: { 'x-real-ip': '203.0.113.7' } })).statusCode, 200);
    assert.equal((await get(server, { ip: '::ffff:127.0.0.1', headers: { 'x-forwarded-for': '203.0.113.7' } })).statusCode, 200, 'IPv4-mapped peer');
  });

  test('X-Forwarded-For: <allowed>, <attacker> through a trusted proxy is still the attacker', async () => {
    assert.equal((await get(server, { ip: '127.0.0.1', headers: { 'x-forwarded-for': '203.0.113.7, 198.51.100.9' } })).statusCode, 403);
    assert.equal((await get(server, { ip: '::ffff:127.0.0.1', headers: { 'x-forwarded-for': '203.0.113.7, ::ffff:198.51.100.9' } })).statusCode, 403);
  });

  test('repeated X-Forwarded-For headers on a real socket: still the attacker', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const url = new URL(`${server.url}/api/collections`);
      const req = http.request({
        host: url.hostname, port: url.port, path: url.pathname, method: 'GET',
        // Two header lines: the client's forged one, then the one the proxy appended.
        headers: [['host', url.host], ['x-forwarded-for', '203.0.113.7'], ['x-forwarded-for', '198.51.100.9'], ['x-api-key', ADMIN_KEY]].flat(),
      }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(status, 403);
  });
});

describe('rate limits (API_RATE_LIMIT, per client)', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ API_RATE_LIMIT: '3' });
  });
  after(async () => server.stop());

  test('RateLimit-* headers on every response, then 429 with Retry-After', async () => {
    const remaining: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await get(server, { key: CLIENT_KEY });
      assert.equal(res.statusCode, 200);
      assert.equal(res.headers['ratelimit-limit'], '3');
      remaining.push(String(res.headers['ratelimit-remaining']));
      assert.ok(Number(res.headers['ratelimit-reset']) > 0);
    }
    assert.deepEqual(remaining, ['2', '1', '0']);
    const limited = await get(server, { key: CLIENT_KEY });
    assert.equal(limited.statusCode, 429);
    assert.deepEqual(limited.json(), { error: 'Rate limit exceeded', code: 'rate_limited' });
    assert.ok(Number(limited.headers['retry-after']) >= 1);
    assert.equal(limited.headers['ratelimit-remaining'], '0');
    assert.equal((await get(server, { key: CLIENT_KEY, url: '/API/COLLECTIONS' })).statusCode, 429, 'a path in other letter case is the same client');
    assert.equal((await get(server, { key: ADMIN_KEY })).statusCode, 200, 'other clients are not affected');
  });

  test("a key's rate_limit overrides the global one, and its tokens share its count", async () => {
    const { key } = await createKey(server, { collection_permissions: { '*': ['read'] }, rate_limit: 5 });
    const { token } = (await server.request({ method: 'POST', url: '/api/auth/token', key: null, payload: { api_key: key } })).json();
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await get(server, { key: i % 2 === 0 ? key : token })).statusCode);
    // The exchange itself was request 1 of 5.
    assert.deepEqual(statuses, [200, 200, 200, 200, 429, 429]);
  });
});

describe('failed authentications per IP (AUTH_FAILURE_LIMIT)', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ AUTH_FAILURE_LIMIT: '3' });
  });
  after(async () => server.stop());

  test('past the limit that IP gets 429 instead of 401, while valid keys from it still work', async () => {
    const bad = `dk_live_${'Q'.repeat(32)}`;
    for (let i = 0; i < 3; i++) assert.equal((await get(server, { key: bad, ip: '198.51.100.20' })).statusCode, 401);
    const throttled = await get(server, { key: bad, ip: '198.51.100.20' });
    assert.equal(throttled.statusCode, 429);
    assert.ok(Number(throttled.headers['retry-after']) >= 1);
    assert.equal((await get(server, { key: ADMIN_KEY, ip: '198.51.100.20' })).statusCode, 200, 'an office behind one NAT keeps working');
    assert.equal((await get(server, { key: bad, ip: '198.51.100.21' })).statusCode, 401, 'other addresses are counted apart');
  });
});

describe('shared limits in Redis', { skip: await redisUnavailable() }, () => {
  test('two replicas share one count', async () => {
    const prefix = `t${Date.now()}`;
    const env = { API_RATE_LIMIT: '4', REDIS_URL: REDIS_TEST_URL, REDIS_KEY_PREFIX: prefix };
    const a = await startTestServer(env);
    const b = await startTestServer(env);
    try {
      const statuses = [];
      for (const server of [a, b, a, b, a, b]) statuses.push((await get(server, { key: CLIENT_KEY })).statusCode);
      assert.deepEqual(statuses, [200, 200, 200, 200, 429, 429]);
    } finally {
      await a.stop();
      await b.stop();
    }
  });
});

describe('audit trail and monitoring', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(async () => server.stop());

  test('failures, key changes and who made them are in GET /api/audit; never a full key', async () => {
    const { key, key_id, prefix } = await createKey(server, { collection_permissions: { '*': ['read'] } });
    await server.request({ method: 'DELETE', url: `/api/auth/keys/${key_id}` });
    await get(server, { key, headers: { 'user-agent': 'guesser/1.0' } });
    const res = await server.request({ method: 'GET', url: '/api/audit?limit=50' });
    assert.equal(res.statusCode, 200, res.body);
    const events = res.json().events as { kind: string; actor: string | null; target: string | null; key_prefix: string | null; code: string | null; user_agent: string | null; route: string | null; ip: string | null }[];
    const failure = events.find((e) => e.kind === 'auth.failure' && e.key_prefix === prefix);
    assert.ok(failure, 'the failed attempt with the revoked key');
    assert.equal(failure.code, 'invalid_api_key');
    assert.equal(failure.user_agent, 'guesser/1.0');
    assert.equal(failure.route, 'GET /api/collections');
    assert.ok(failure.ip);
    assert.ok(events.some((e) => e.kind === 'key.created' && e.target === key_id && e.actor === 'env:admin'));
    assert.ok(events.some((e) => e.kind === 'key.revoked' && e.target === key_id && e.actor === 'env:admin'));
    assert.ok(!res.body.includes(key), 'no full key in the audit trail');
    const filtered = (await server.request({ method: 'GET', url: `/api/audit?kind=key.revoked&target=${key_id}` })).json().events;
    assert.equal(filtered.length, 1);
    assert.equal((await get(server, { key: CLIENT_KEY, url: '/api/audit' })).statusCode, 403);
  });

  test('/metrics counts attempts, rate limits and IP denials', async () => {
    await get(server, { key: 'garbage' });
    const text = (await get(server, { url: '/metrics' })).body;
    assert.match(text, /auth_attempts_total\{result="failure",method="api-key",code="invalid_api_key_format"\} [1-9]/);
    assert.match(text, /auth_attempts_total\{result="success",method="api-key",code="ok"\} [1-9]/);
    assert.match(text, /# TYPE rate_limited_total counter/);
    assert.match(text, /# TYPE ip_denied_total counter/);
  });

  test('headers over MAX_HEADER_SIZE are refused with 431 and a JSON error', async () => {
    const res = await fetch(`${server.url}/api/collections`, { headers: { 'x-api-key': ADMIN_KEY, 'x-filler': 'x'.repeat(20_000) } });
    assert.equal(res.status, 431);
    assert.equal(((await res.json()) as { code: string }).code, 'headers_too_large');
  });
});
