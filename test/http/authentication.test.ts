import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ADMIN_KEY, CLIENT_KEY, DUCKLING_KEY, startTestServer, type TestServer } from '../helpers/server.js';

describe('authentication (CONTRACT.md §2-§3)', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(async () => server.stop());

  const get = (headers: Record<string, string>, url = '/api/collections') =>
    server.request({ method: 'GET', url, key: null, headers });

  function assertError(res: { statusCode: number; json(): unknown; headers: Record<string, unknown> }, status: number, code: string, error: string) {
    assert.equal(res.statusCode, status);
    assert.deepEqual(res.json(), { error, code });
    if (status === 401) assert.equal(res.headers['www-authenticate'], 'Bearer');
  }

  test('no credential answers 401 missing_api_key with WWW-Authenticate', async () => {
    assertError(await get({}), 401, 'missing_api_key', 'Missing API key');
  });

  test('an Authorization header that is not Bearer counts as missing', async () => {
    assertError(await get({ authorization: `Basic ${Buffer.from('admin:pw').toString('base64')}` }), 401, 'missing_api_key', 'Missing API key');
    assertError(await get({ authorization: 'Bearer ' }), 401, 'missing_api_key', 'Missing API key');
  });

  test('a credential in the query string is never accepted, and the 401 says so', async () => {
    const hint = (name: string) => `Missing API key: ?${name}= in the URL is ignored (URLs end up in logs); send the key as Authorization: Bearer <key> or x-api-key: <key>`;
    assertError(await get({}, `/api/collections?api_key=${ADMIN_KEY}&token=${ADMIN_KEY}`), 401, 'missing_api_key', hint('api_key'));
    assertError(await get({}, `/api/collections?token=${ADMIN_KEY}`), 401, 'missing_api_key', hint('token'));
    // No credential parameter: the plain message.
    assertError(await get({}, '/api/collections?limit=3'), 401, 'missing_api_key', 'Missing API key');
  });

  test('the Bearer scheme is case-insensitive (RFC 7235)', async () => {
    for (const scheme of ['bearer', 'BEARER', 'bEaReR']) {
      assert.equal((await get({ authorization: `${scheme} ${ADMIN_KEY}` })).statusCode, 200, scheme);
    }
    assertError(await get({ authorization: `bearer ${ADMIN_KEY}x` }), 401, 'invalid_api_key', 'Invalid API key');
  });

  test('an unknown string that is no key format answers invalid_api_key_format', async () => {
    assertError(await get({ 'x-api-key': 'not-a-key' }), 401, 'invalid_api_key_format', 'Invalid API key format');
    assertError(await get({ authorization: 'Bearer dk_live_tooshort' }), 401, 'invalid_api_key_format', 'Invalid API key format');
  });

  test('a one-character typo in an environment key answers invalid_api_key, not a format error', async () => {
    const typos = [`${ADMIN_KEY}x`, ADMIN_KEY.slice(0, -1), `${ADMIN_KEY.slice(0, -1)}${ADMIN_KEY.endsWith('Q') ? 'R' : 'Q'}`, `X${ADMIN_KEY.slice(1)}`];
    for (const typo of typos) assertError(await get({ 'x-api-key': typo }), 401, 'invalid_api_key', 'Invalid API key');
  });

  test('a well-formed but unknown managed key answers invalid_api_key', async () => {
    assertError(await get({ authorization: `Bearer dk_live_${'A'.repeat(32)}` }), 401, 'invalid_api_key', 'Invalid API key');
    assertError(await get({ 'x-api-key': `dk_test_${'b_-'.repeat(10)}xy` }), 401, 'invalid_api_key', 'Invalid API key');
  });

  test('a JWT-shaped credential that does not verify answers invalid_token', async () => {
    const forged = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from('{"sub":"x"}').toString('base64url')}.`;
    assertError(await get({ authorization: `Bearer ${forged}` }), 401, 'invalid_token', 'Invalid or expired token');
  });

  test('every environment key works in either header', async () => {
    for (const key of [ADMIN_KEY, CLIENT_KEY, DUCKLING_KEY]) {
      assert.equal((await get({ 'x-api-key': key })).statusCode, 200, `x-api-key ${key}`);
      assert.equal((await get({ authorization: `Bearer ${key}` })).statusCode, 200, `Bearer ${key}`);
    }
  });

  test('a VALID_API_KEYS key has full data access but no admin routes', async () => {
    const insert = await server.request({ method: 'POST', url: '/api/insert/notes', key: CLIENT_KEY, payload: { text: 'hi' } });
    assert.equal(insert.statusCode, 201);
    const drop = await server.request({ method: 'DELETE', url: '/api/collections/notes', key: CLIENT_KEY });
    assertError(drop, 403, 'forbidden', 'Admin access required');
    const create = await server.request({ method: 'POST', url: '/api/databases', key: CLIENT_KEY, payload: { name: 'other' } });
    assertError(create, 403, 'forbidden', 'Admin access required');
    const ddl = await server.request({ method: 'POST', url: '/api/query', key: CLIENT_KEY, payload: { sql: 'DROP TABLE notes' } });
    assertError(ddl, 403, 'forbidden', 'Admin access required');
    assert.equal((await server.request({ method: 'GET', url: '/api/find/notes', key: CLIENT_KEY })).json().length, 1);
  });

  test('DUCKLING_API_KEY and ADMIN_API_KEY are admin keys', async () => {
    for (const key of [ADMIN_KEY, DUCKLING_KEY]) {
      const res = await server.request({ method: 'POST', url: '/api/databases', key, payload: { name: `db_${key.slice(5, 9)}` } });
      assert.equal(res.statusCode, 201, res.body);
    }
  });

  test('an unknown route answers 401 to an anonymous caller, so route existence does not leak', async () => {
    assert.equal((await get({}, '/api/nothing-here')).statusCode, 401);
    const known = await get({ 'x-api-key': ADMIN_KEY }, '/api/nothing-here');
    assert.equal(known.statusCode, 404);
    assert.equal(known.json().code, 'not_found');
  });

  test('auth failures are counted by code in /metrics', async () => {
    await get({});
    const text = (await server.request({ method: 'GET', url: '/metrics' })).body;
    assert.match(text, /auth_failures_total\{code="missing_api_key"\} [1-9]/);
  });
});

describe('without environment keys', () => {
  test('every credential is refused and nothing is open', async () => {
    const server = await startTestServer({ ADMIN_API_KEY: '', VALID_API_KEYS: '', DUCKLING_API_KEY: '' });
    try {
      const res = await server.request({ method: 'GET', url: '/api/collections', key: ADMIN_KEY });
      assert.equal(res.statusCode, 401);
      assert.equal(res.json().code, 'invalid_api_key');
    } finally {
      await server.stop();
    }
  });
});
