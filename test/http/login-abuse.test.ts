/**
 * Brute force against `POST /api/login` through the real app: growing delays answered with 429,
 * no answer that tells a right password from a wrong one while throttled, an account cap that a
 * botnet cannot exceed, and a real admin who still gets in.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../helpers/server.js';

const PASSWORD = 'the real admin password';

describe('login brute force', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ ADMIN_PASSWORD: PASSWORD });
  });
  after(async () => server.stop());
  const login = (username: string, password: string, ip: string) =>
    server.request({ method: 'POST', url: '/api/login', key: null, payload: { username, password }, remoteAddress: ip });

  test('after three failures the next attempt must wait: 429 with Retry-After, even with the right password', async () => {
    const attacker = '203.0.113.50';
    for (let i = 0; i < 3; i++) assert.equal((await login('admin', `guess-number-${i}`, attacker)).statusCode, 401);
    const throttled = await login('admin', PASSWORD, attacker);
    assert.equal(throttled.statusCode, 429);
    assert.equal(throttled.json().code, 'rate_limited');
    assert.equal(throttled.headers['retry-after'], '1');
    // The real admin, elsewhere, is not slowed down.
    assert.equal((await login('admin', PASSWORD, '192.0.2.80')).statusCode, 200);
  });

  test('an unknown username is throttled exactly like the real one', async () => {
    const attacker = '203.0.113.51';
    const codes = [];
    for (let i = 0; i < 4; i++) codes.push((await login('nobody-here', `guess-number-${i}`, attacker)).statusCode);
    assert.deepEqual(codes, [401, 401, 401, 429]);
  });

  test('the account cap holds against many addresses, but not against an address the admin used before', async () => {
    const known = '192.0.2.81';
    assert.equal((await login('admin', PASSWORD, known)).statusCode, 200);
    const codes: number[] = [];
    // Earlier tests spent a few of the account's 20 failures per 15 minutes already.
    for (let i = 1; i <= 25; i++) codes.push((await login('admin', 'a botnet guess', `198.51.100.${i}`)).statusCode);
    assert.ok(codes.filter((c) => c === 401).length <= 20, codes.join(','));
    assert.equal(codes.at(-1), 429, codes.join(','));
    assert.equal((await login('admin', PASSWORD, '198.51.100.200')).statusCode, 429, 'a new address waits');
    assert.equal((await login('admin', PASSWORD, known)).statusCode, 200, 'the known address gets in');
  });

  test('throttled attempts are audited and counted', async () => {
    await server.app.audit.flush();
    const res = await server.request({ method: 'GET', url: '/api/audit?kind=auth.login_failed&code=rate_limited' });
    assert.ok(res.json().events.length >= 3, res.body);
    const metrics = (await server.request({ method: 'GET', url: '/metrics' })).body;
    assert.match(metrics, /rate_limited_total\{scope="login"\} [1-9]/);
    assert.match(metrics, /auth_attempts_total\{result="failure",method="password",code="invalid_credentials"\} [1-9]/);
  });
});
