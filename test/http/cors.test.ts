/** CORS_ORIGINS (issue 12 item 4), through inject: preflight before authentication, exposed headers, off by default. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { corsOrigins } from '../../src/config/cors.js';
import { ConfigError } from '../../src/config/index.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const ORIGIN = 'https://app.example.com';
const preflight = (origin: string) => ({
  method: 'OPTIONS' as const, url: '/api/find/notes', key: null,
  headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'x-api-key,content-type' },
});

describe('CORS with CORS_ORIGINS set', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ CORS_ORIGINS: `${ORIGIN}, http://localhost:5173`, API_RATE_LIMIT: '100' });
  });
  after(async () => server.stop());

  test('a preflight without any credential is answered 204 before authentication', async () => {
    const res = await server.request(preflight(ORIGIN));
    assert.equal(res.statusCode, 204, res.body);
    assert.equal(res.headers['access-control-allow-origin'], ORIGIN);
    assert.match(String(res.headers['access-control-allow-headers']), /x-api-key/i);
    assert.match(String(res.headers['access-control-allow-headers']), /authorization/i);
    assert.match(String(res.headers['access-control-allow-methods']), /DELETE/);
    assert.equal(res.headers['access-control-allow-credentials'], undefined);
    assert.equal(res.headers['www-authenticate'], undefined);
  });

  test('the real request still needs a credential, and exposes RateLimit-* and Duckgate-Truncated', async () => {
    const anonymous = await server.request({ method: 'GET', url: '/api/collections', key: null, headers: { origin: ORIGIN } });
    assert.equal(anonymous.statusCode, 401);
    assert.equal(anonymous.headers['access-control-allow-origin'], ORIGIN);
    const res = await server.request({ method: 'GET', url: '/api/collections', headers: { origin: ORIGIN } });
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['access-control-allow-origin'], ORIGIN);
    const exposed = String(res.headers['access-control-expose-headers']).split(',').map((h) => h.trim().toLowerCase());
    for (const header of ['ratelimit-limit', 'ratelimit-remaining', 'ratelimit-reset', 'retry-after', 'duckgate-truncated']) assert.ok(exposed.includes(header), header);
    assert.equal(res.headers['ratelimit-limit'], '100');
  });

  test('an origin not in the list gets no Access-Control-Allow-Origin', async () => {
    const res = await server.request(preflight('https://evil.example.net'));
    assert.equal(res.headers['access-control-allow-origin'], undefined);
    const call = await server.request({ method: 'GET', url: '/api/collections', headers: { origin: 'https://evil.example.net' } });
    assert.equal(call.headers['access-control-allow-origin'], undefined);
  });

  test('an OPTIONS without preflight headers is answered 204 with nothing allowed', async () => {
    const res = await server.request({ method: 'OPTIONS', url: '/api/collections', key: null });
    assert.equal(res.statusCode, 204);
    assert.equal(res.headers['access-control-allow-origin'], undefined);
    assert.equal(res.body, '');
  });
});

describe('CORS off by default', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(async () => server.stop());

  test('no Access-Control-* header, and a preflight is not answered', async () => {
    const res = await server.request(preflight(ORIGIN));
    assert.notEqual(res.statusCode, 204);
    assert.equal(res.headers['access-control-allow-origin'], undefined);
    const call = await server.request({ method: 'GET', url: '/api/collections', headers: { origin: ORIGIN } });
    assert.equal(call.statusCode, 200);
    assert.equal(call.headers['access-control-allow-origin'], undefined);
  });
});

describe('CORS_ORIGINS parsing', () => {
  test('unset or empty: off; * alone; exact origins normalised', () => {
    assert.equal(corsOrigins(undefined), undefined);
    assert.equal(corsOrigins('  '), undefined);
    assert.deepEqual(corsOrigins('*'), ['*']);
    assert.deepEqual(corsOrigins('https://App.Example.com, http://localhost:5173/'), ['https://app.example.com', 'http://localhost:5173']);
  });

  test('a bad value stops start-up with a line naming CORS_ORIGINS', () => {
    for (const bad of ['*, https://a.example', 'app.example.com', 'https://a.example/path', 'ftp://a.example', 'https://user:pw@a.example']) {
      assert.throws(() => corsOrigins(bad), (error: unknown) => error instanceof ConfigError && /CORS_ORIGINS/.test(error.message), bad);
    }
  });

  test('* answers any origin (never with credentials)', async () => {
    const server = await startTestServer({ CORS_ORIGINS: '*' });
    try {
      const res = await server.request(preflight('https://anything.example'));
      assert.equal(res.statusCode, 204);
      assert.equal(res.headers['access-control-allow-origin'], '*');
      assert.equal(res.headers['access-control-allow-credentials'], undefined);
    } finally {
      await server.stop();
    }
  });
});
