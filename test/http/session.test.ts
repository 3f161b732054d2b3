/**
 * Admin login, check-auth and logout (CONTRACT.md §4; issue 6): the shapes, the session token's
 * own audience and type, server-side logout that survives a restart, secret rotation, and what the
 * audit trail keeps (never the password).
 */
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { SignJWT, decodeJwt, decodeProtectedHeader } from 'jose';
import { startServer } from '../../src/server.js';
import { CONTROL_STORE_FILE } from '../../src/store/index.js';
import { startCli, stopCli } from '../helpers/process.js';
import { ADMIN_KEY, startTestServer, tempDir, type TestServer } from '../helpers/server.js';
import { as, createKey } from '../helpers/keys.js';

const PASSWORD = 'correct horse battery staple';
const SECRET = 'a-session-test-secret-at-least-32-bytes!';
const PASSWORD_AS_USERNAME = 'Tr0ub4dor&3-typed-in-the-wrong-box';

async function login(server: TestServer, body: unknown, headers: Record<string, string> = {}) {
  return server.request({ method: 'POST', url: '/api/login', key: null, payload: body as object, headers });
}

async function sessionToken(server: TestServer): Promise<string> {
  const res = await login(server, { username: 'admin', password: PASSWORD });
  assert.equal(res.statusCode, 200, res.body);
  return res.json().token as string;
}

describe('POST /api/login', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ ADMIN_PASSWORD: PASSWORD, JWT_SECRET: SECRET });
  });
  after(async () => server.stop());

  test('answers contract §4: success, message, username, token, expiresIn, expiresAt', async () => {
    const before = Date.now();
    const res = await login(server, { username: 'admin', password: PASSWORD });
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json();
    assert.deepEqual(Object.keys(body).sort(), ['expiresAt', 'expiresIn', 'message', 'success', 'token', 'username']);
    assert.equal(body.success, true);
    assert.equal(body.message, 'Login successful');
    assert.equal(body.username, 'admin');
    assert.equal(body.expiresIn, '7d');
    const expiresAt = Date.parse(body.expiresAt);
    assert.ok(Math.abs(expiresAt - (before + 7 * 86_400_000)) < 5000, body.expiresAt);
    const claims = decodeJwt(body.token);
    assert.equal(claims.sub, 'admin');
    assert.equal(claims.iss, 'duckgate');
    assert.equal(claims.aud, 'duckgate:session');
    assert.equal(decodeProtectedHeader(body.token).typ, 'dk-session+jwt');
    assert.equal((claims.exp as number) * 1000, expiresAt);
  });

  test('the session token is an admin credential on every protected route', async () => {
    const token = await sessionToken(server);
    const call = as(server, token);
    assert.equal((await call('GET', '/api/auth/keys')).statusCode, 200);
    assert.equal((await call('POST', '/api/insert/notes', { id: 'n1', text: 'hi' })).statusCode, 201);
    assert.equal((await call('POST', '/api/query', { sql: 'SELECT 1 AS one' })).statusCode, 200);
    const created = await call('POST', '/api/auth/register', { label: 'from the dashboard' });
    assert.equal(created.statusCode, 201);
    assert.equal(created.json().created_by, 'user:admin');
  });

  test('a wrong password and an unknown user get the same 401 body', async () => {
    const wrong = await login(server, { username: 'admin', password: 'not the password' });
    const unknown = await login(server, { username: 'mallory', password: 'not the password' });
    for (const res of [wrong, unknown]) {
      assert.equal(res.statusCode, 401);
      assert.deepEqual(res.json(), { success: false, error: 'Invalid username or password', code: 'invalid_credentials' });
      assert.equal(res.headers['www-authenticate'], 'Bearer');
    }
    // The correct password under another name is no better.
    assert.equal((await login(server, { username: 'Admin', password: PASSWORD })).statusCode, 401);
  });

  test('empty, missing or oversized fields are refused with 400 before any hashing', async () => {
    for (const body of [{ username: '', password: PASSWORD }, { username: 'admin', password: '' }, { username: 'admin' }, {}, { username: 'x'.repeat(129), password: PASSWORD }]) {
      const res = await login(server, body);
      assert.equal(res.statusCode, 400, JSON.stringify(body));
      assert.equal(res.json().code, 'validation_failed');
    }
    const huge = await login(server, { username: 'admin', password: 'p'.repeat(1024 * 1024) });
    assert.equal(huge.statusCode, 400);
    assert.equal(huge.json().code, 'validation_failed');
    assert.match(huge.json().error, /password/);
    const notObject = await server.request({ method: 'POST', url: '/api/login', key: null, payload: '"admin"', headers: { 'content-type': 'application/json' } });
    assert.equal(notObject.statusCode, 400);
  });

  test('a 64-character password works, and is not truncated', async () => {
    const long = 'L'.repeat(63) + '!';
    const other = await startTestServer({ ADMIN_PASSWORD: long });
    try {
      assert.equal((await login(other, { username: 'admin', password: long })).statusCode, 200);
      assert.equal((await login(other, { username: 'admin', password: 'L'.repeat(63) })).statusCode, 401);
      assert.equal((await login(other, { username: 'admin', password: long + '!' })).statusCode, 401);
    } finally {
      await other.stop();
    }
  });
});

describe('GET /api/check-auth', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ ADMIN_PASSWORD: PASSWORD, JWT_SECRET: SECRET });
  });
  after(async () => server.stop());
  const check = (headers: Record<string, string> = {}) => server.request({ method: 'GET', url: '/api/check-auth', key: null, headers });

  test('is public and 200 for any credential, or none, below the failure limit', async () => {
    const res = await check();
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), { authenticated: false });
    for (const bad of ['Bearer nonsense', 'Bearer dk_live_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', 'Bearer a.b.c', 'Basic abc']) {
      const answer = await check({ authorization: bad });
      assert.equal(answer.statusCode, 200, bad);
      assert.deepEqual(answer.json(), { authenticated: false }, bad);
    }
  });

  test('names the session user, the key, or the exchanged token', async () => {
    const session = await sessionToken(server);
    const asSession = (await check({ authorization: `Bearer ${session}` })).json();
    assert.equal(asSession.authenticated, true);
    assert.equal(asSession.username, 'admin');
    assert.equal(asSession.authMethod, 'jwt');
    assert.equal(Date.parse(asSession.expiresAt), (decodeJwt(session).exp as number) * 1000);

    const { key, key_id } = await createKey(server, { collection_permissions: { notes: ['read'] } });
    assert.deepEqual((await check({ 'x-api-key': key })).json(), { authenticated: true, keyId: key_id, authMethod: 'api-key' });
    assert.deepEqual((await check({ 'x-api-key': ADMIN_KEY })).json(), { authenticated: true, keyId: 'env:admin', authMethod: 'api-key' });

    const token = (await server.request({ method: 'POST', url: '/api/auth/token', key: null, payload: { api_key: key } })).json().token;
    const asToken = (await check({ authorization: `Bearer ${token}` })).json();
    assert.equal(asToken.keyId, key_id);
    assert.equal(asToken.authMethod, 'jwt');
    assert.equal(Date.parse(asToken.expiresAt), (decodeJwt(token).exp as number) * 1000);
  });

  test('failed checks count as failed authentications of the address', async () => {
    const other = await startTestServer({ AUTH_FAILURE_LIMIT: '2' });
    try {
      for (let i = 0; i < 3; i++) await other.request({ method: 'GET', url: '/api/check-auth', key: 'wrong-key-wrong-key-wrong', remoteAddress: '203.0.113.9' });
      const res = await other.request({ method: 'GET', url: '/api/tables', key: 'wrong-key-wrong-key-wrong', remoteAddress: '203.0.113.9' });
      assert.equal(res.statusCode, 429);
    } finally {
      await other.stop();
    }
  });

  test('past AUTH_FAILURE_LIMIT it is limited like any route: 429 for a bad credential, a good one still passes (issue 11, defect 8)', async () => {
    const other = await startTestServer({ AUTH_FAILURE_LIMIT: '2' });
    try {
      const ip = '203.0.113.10';
      const checkFrom = (key: string) => other.request({ method: 'GET', url: '/api/check-auth', key, remoteAddress: ip });
      for (let i = 0; i < 2; i++) assert.deepEqual((await checkFrom('wrong-key-wrong-key-wrong')).json(), { authenticated: false });
      const limited = await checkFrom('wrong-key-wrong-key-wrong');
      assert.equal(limited.statusCode, 429, limited.body);
      assert.equal(limited.json().code, 'rate_limited');
      assert.ok(Number(limited.headers['retry-after']) >= 1);
      const good = await checkFrom(ADMIN_KEY);
      assert.equal(good.statusCode, 200);
      assert.equal(good.json().authenticated, true, 'valid credentials from the same address still pass');
      const anonymous = await other.request({ method: 'GET', url: '/api/check-auth', key: null, remoteAddress: ip });
      assert.deepEqual(anonymous.json(), { authenticated: false }, 'no credential at all is no attempt');
      const logout = await other.request({ method: 'POST', url: '/api/logout', key: 'a.b.c', remoteAddress: ip });
      assert.equal(logout.statusCode, 429, 'logout resolves its token through the same path');
    } finally {
      await other.stop();
    }
  });
});

describe('POST /api/logout', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ ADMIN_PASSWORD: PASSWORD, JWT_SECRET: SECRET });
  });
  after(async () => server.stop());
  const logout = (token?: string, header = 'authorization') =>
    server.request({ method: 'POST', url: '/api/logout', key: null, headers: token === undefined ? {} : { [header]: header === 'authorization' ? `Bearer ${token}` : token } });

  test('ends the presented session at once; other sessions live on', async () => {
    const token = await sessionToken(server);
    const other = await sessionToken(server);
    assert.equal((await as(server, token)('GET', '/api/auth/keys')).statusCode, 200);
    const res = await logout(token);
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), { success: true, message: 'Logged out' });
    const after = await as(server, token)('GET', '/api/auth/keys');
    assert.equal(after.statusCode, 401);
    assert.deepEqual(after.json(), { error: 'Invalid or expired token', code: 'invalid_token' });
    assert.deepEqual((await server.request({ method: 'GET', url: '/api/check-auth', key: token })).json(), { authenticated: false });
    assert.equal((await as(server, other)('GET', '/api/auth/keys')).statusCode, 200);
    // Logging out twice, or with a dead token, is not an error.
    assert.equal((await logout(token)).statusCode, 200);
    assert.equal((await logout('a.b.c')).statusCode, 200);
    assert.deepEqual((await logout()).json(), { success: true, message: 'No session to log out' });
  });

  test('also ends a token exchanged for an API key, but not the key itself', async () => {
    await server.request({ method: 'POST', url: '/api/insert/notes', payload: { id: 'n1' } });
    const { key } = await createKey(server, { collection_permissions: { notes: ['read'] } });
    const token = (await server.request({ method: 'POST', url: '/api/auth/token', key: null, payload: { api_key: key } })).json().token;
    assert.equal((await logout(token, 'x-api-key')).statusCode, 200);
    assert.equal((await as(server, token)('GET', '/api/find/notes')).statusCode, 401);
    assert.equal((await as(server, key)('GET', '/api/find/notes')).statusCode, 200);
    const refused = await logout(key);
    assert.equal(refused.statusCode, 400);
    assert.equal(refused.json().code, 'not_a_token');
  });

  test("a valid token from outside its key's allowed_ips is refused as any use of the key would be", async () => {
    await server.request({ method: 'POST', url: '/api/insert/notes', payload: { id: 'n2' } });
    const { key } = await createKey(server, { collection_permissions: { notes: ['read'] }, allowed_ips: ['10.0.0.0/8'] });
    const token = (await server.request({ method: 'POST', url: '/api/auth/token', key: null, remoteAddress: '10.1.2.3', payload: { api_key: key } })).json().token;
    const refused = await server.request({ method: 'POST', url: '/api/logout', key: null, remoteAddress: '192.0.2.44', headers: { authorization: `Bearer ${token}` } });
    assert.equal(refused.statusCode, 403, refused.body);
    assert.equal(refused.json().code, 'ip_denied');
    const fromInside = (method: 'GET' | 'POST', url: string) => server.request({ method, url, key: null, remoteAddress: '10.1.2.3', headers: { authorization: `Bearer ${token}` } });
    assert.equal((await fromInside('GET', '/api/find/notes')).statusCode, 200, 'not logged out');
    assert.equal((await fromInside('POST', '/api/logout')).statusCode, 200);
    assert.equal((await fromInside('GET', '/api/find/notes')).statusCode, 401);
  });

  test('a logged-out token stays dead after a restart', async () => {
    const own = await startTestServer({ ADMIN_PASSWORD: PASSWORD, JWT_SECRET: SECRET });
    const token = await sessionToken(own);
    const kept = await sessionToken(own);
    assert.equal((await own.request({ method: 'POST', url: '/api/logout', key: token })).statusCode, 200);
    await own.close();
    const again = await startServer(own.config, { log: false });
    try {
      const call = (credential: string) => again.app.fastify.inject({ method: 'GET', url: '/api/auth/keys', headers: { authorization: `Bearer ${credential}` } });
      assert.equal((await call(token)).statusCode, 401);
      assert.equal((await call(kept)).statusCode, 200, 'sessions not logged out survive a restart');
    } finally {
      await again.close();
      await own.stop();
    }
  });
});

describe('session tokens', () => {
  const secret = new TextEncoder().encode(SECRET);
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ ADMIN_PASSWORD: PASSWORD, JWT_SECRET: SECRET });
  });
  after(async () => server.stop());

  const forge = (claims: Record<string, unknown>, header: Record<string, unknown>, key = secret) => {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ gen: 1, ...claims })
      .setProtectedHeader({ alg: 'HS256', ...header })
      .setIssuer('duckgate').setSubject('admin').setJti(crypto.randomUUID()).setIssuedAt(now).setExpirationTime(now + 600)
      .sign(key);
  };

  test('a session is only accepted with its own audience and type, never as an API token and back', async () => {
    const good = await forge({ aud: 'duckgate:session' }, { typ: 'dk-session+jwt' });
    assert.equal((await as(server, good)('GET', '/api/auth/keys')).statusCode, 200, 'the forge matches the real thing');
    const { key_id } = await createKey(server, { is_admin: true });
    const cases = [
      await forge({ aud: 'duckgate:api' }, { typ: 'dk-session+jwt' }),
      await forge({ aud: 'duckgate:session' }, { typ: 'dk-api+jwt' }),
      await forge({ aud: 'duckgate:session' }, {}),
      await forge({ aud: 'duckgate:session' }, { typ: 'JWT' }),
      await forge({ aud: 'duckgate:session', gen: '1' }, { typ: 'dk-session+jwt' }),
      await forge({ aud: 'duckgate:session' }, { typ: 'dk-session+jwt' }, new TextEncoder().encode('another-secret-that-is-32-bytes-long!!')),
      // An API token's subject and claims under the session type.
      await new SignJWT({ gen: '1' }).setProtectedHeader({ alg: 'HS256', typ: 'dk-session+jwt' }).setIssuer('duckgate').setAudience('duckgate:session')
        .setSubject(key_id).setJti('j').setIssuedAt().setExpirationTime('10m').sign(secret),
    ];
    for (const token of cases) {
      const res = await as(server, token)('GET', '/api/auth/keys');
      assert.equal(res.statusCode, 401, JSON.stringify(decodeJwt(token)));
      assert.equal(res.json().code, 'invalid_token');
    }
  });

  test('a tampered session token is refused', async () => {
    const token = await sessionToken(server);
    const [header, payload, signature] = token.split('.');
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString());
    const tampered = `${header}.${Buffer.from(JSON.stringify({ ...claims, sub: 'root' })).toString('base64url')}.${signature}`;
    const flipped = `${header}.${payload}.${signature!.slice(0, -2)}${signature!.endsWith('AA') ? 'BB' : 'AA'}`;
    for (const bad of [tampered, flipped]) assert.equal((await as(server, bad)('GET', '/status')).statusCode, 401);
  });

  test('expires after JWT_EXPIRES_IN', async () => {
    const short = await startTestServer({ ADMIN_PASSWORD: PASSWORD, JWT_EXPIRES_IN: '1s' });
    try {
      const res = await login(short, { username: 'admin', password: PASSWORD });
      assert.equal(res.json().expiresIn, '1s');
      const token = res.json().token;
      assert.equal((await as(short, token)('GET', '/status')).statusCode, 200);
      await new Promise((resolve) => setTimeout(resolve, (decodeJwt(token).exp as number) * 1000 - Date.now() + 50));
      const expired = await as(short, token)('GET', '/status');
      assert.equal(expired.statusCode, 401);
      assert.equal(expired.json().error, 'Invalid or expired token');
    } finally {
      await short.stop();
    }
  });

  test('JWT_SECRET_PREVIOUS still verifies sessions signed before a rotation', async () => {
    const own = await startTestServer({ ADMIN_PASSWORD: PASSWORD, JWT_SECRET: SECRET });
    const token = await sessionToken(own);
    await own.close();
    const next = { ...own.config, jwtSecret: 'the-next-secret-which-is-32-bytes-long!' };
    const statusWith = async (config: typeof next) => {
      const running = await startServer(config, { log: false });
      try {
        return (await running.app.fastify.inject({ method: 'GET', url: '/status', headers: { authorization: `Bearer ${token}` } })).statusCode;
      } finally {
        await running.close();
      }
    };
    try {
      assert.equal(await statusWith({ ...next, jwtSecretPrevious: SECRET }), 200);
      assert.equal(await statusWith(next), 401);
    } finally {
      await own.stop();
    }
  });

  test('an admin session is its own rate-limit client', async () => {
    const limited = await startTestServer({ ADMIN_PASSWORD: PASSWORD, API_RATE_LIMIT: '3' });
    try {
      const token = await sessionToken(limited);
      const codes = [];
      for (let i = 0; i < 4; i++) codes.push((await as(limited, token)('GET', '/status')).statusCode);
      assert.deepEqual(codes, [200, 200, 200, 429]);
      // Another session of the same user shares the count; an API key does not.
      assert.equal((await as(limited, await sessionToken(limited))('GET', '/status')).statusCode, 429);
      assert.equal((await limited.request({ method: 'GET', url: '/status' })).statusCode, 200);
    } finally {
      await limited.stop();
    }
  });
});

describe('the audit trail of logins', () => {
  test('keeps every attempt with username, IP and user agent, and never the password', async () => {
    const server = await startTestServer({ ADMIN_PASSWORD: PASSWORD, TRUSTED_PROXIES: '127.0.0.1' });
    try {
      const headers = { 'user-agent': 'audit-test/1.0', 'x-forwarded-for': '198.51.100.7' };
      const wrongPassword = 'my-wrong-guess-7f3a9c';
      await login(server, { username: 'admin', password: wrongPassword }, headers);
      // A password typed as the username: only the configured admin name is ever kept.
      await login(server, { username: PASSWORD_AS_USERNAME, password: wrongPassword }, headers);
      const token = (await login(server, { username: 'admin', password: PASSWORD }, headers)).json().token;
      await server.request({ method: 'POST', url: '/api/logout', key: token, headers });
      await server.app.audit.flush();

      const res = await server.request({ method: 'GET', url: '/api/audit?kind=auth.login,auth.login_failed,auth.logout' });
      assert.equal(res.statusCode, 200, res.body);
      const events = res.json().events.reverse() as Array<Record<string, unknown>>;
      assert.deepEqual(events.map((e) => [e.kind, e.target, e.code]), [
        ['auth.login_failed', 'user:admin', 'invalid_credentials'],
        ['auth.login_failed', 'user:<unknown>', 'invalid_credentials'],
        ['auth.login', 'user:admin', null],
        ['auth.logout', 'user:admin', null],
      ]);
      for (const event of events) {
        assert.equal(event.ip, '198.51.100.7');
        assert.equal(event.user_agent, 'audit-test/1.0');
        assert.ok(event.at);
      }
      assert.equal(events[2]!.actor, 'user:admin');
      assert.equal(events[3]!.actor, 'user:admin');

      // Neither password, in any form, anywhere in the control-plane store.
      await server.close();
      const file = readFileSync(path.join(server.dataDir, CONTROL_STORE_FILE));
      const wal = (() => {
        try {
          return readFileSync(path.join(server.dataDir, `${CONTROL_STORE_FILE}-wal`));
        } catch {
          return Buffer.alloc(0);
        }
      })();
      for (const secret of [PASSWORD, wrongPassword, PASSWORD_AS_USERNAME]) {
        assert.equal(file.includes(secret), false, `the store holds ${secret}`);
        assert.equal(wal.includes(secret), false, `the WAL holds ${secret}`);
      }
    } finally {
      await server.stop();
    }
  });
});

describe('login and restarts', () => {
  test('the warn log never holds a username other than the admin\'s', async () => {
    const dataDir = tempDir();
    const cli = await startCli({ DATA_DIR: dataDir, ADMIN_PASSWORD: PASSWORD, LOG_LEVEL: 'info' });
    try {
      const post = (username: string, password: string) => fetch(`${cli.url}/api/login`, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }),
      });
      assert.equal((await post(PASSWORD_AS_USERNAME, 'whatever')).status, 401);
      assert.equal((await post('admin', 'a wrong guess')).status, 401);
      assert.equal((await post('admin', PASSWORD)).status, 200);
      await new Promise((resolve) => setTimeout(resolve, 200));
      const lines = cli.output().split('\n').filter((line) => line.includes('"event":"auth.login'));
      assert.equal(lines.length, 3, cli.output());
      assert.ok(!cli.output().includes(PASSWORD_AS_USERNAME), 'the mistyped password is not in the log');
      assert.ok(lines.some((line) => line.includes('"username":"<unknown>"')), lines.join('\n'));
      assert.equal(lines.filter((line) => line.includes('"username":"admin"')).length, 2, lines.join('\n'));
    } finally {
      await stopCli(cli);
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  test('an address the admin signed in from stays exempt from the account cap after a restart', async () => {
    const own = await startTestServer({ ADMIN_PASSWORD: PASSWORD });
    const usual = '192.0.2.44';
    const attempt = (server: { app: { fastify: { inject: TestServer['app']['fastify']['inject'] } } }, password: string, ip: string) =>
      server.app.fastify.inject({ method: 'POST', url: '/api/login', payload: { username: 'admin', password }, remoteAddress: ip });
    try {
      assert.equal((await attempt(own, PASSWORD, usual)).statusCode, 200);
      await own.close();
      const restarted = await startServer(own.config, { log: false });
      try {
        // A spray from 21 fresh addresses uses up the account's 20 failures per 15 minutes.
        const codes: number[] = [];
        for (let i = 1; i <= 21; i++) codes.push((await attempt(restarted, 'a sprayed guess', `198.51.100.${i}`)).statusCode);
        assert.equal(codes.at(-1), 429, codes.join(','));
        assert.equal((await attempt(restarted, PASSWORD, '198.51.100.77')).statusCode, 429, 'a new address waits');
        assert.equal((await attempt(restarted, PASSWORD, usual)).statusCode, 200, 'the usual address gets in, as the README promises for 30 days');
      } finally {
        await restarted.close();
      }
    } finally {
      await own.stop();
    }
  });
});
