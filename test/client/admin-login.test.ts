/** The admin-session client against `POST /api/login`, check-auth and logout (CONTRACT.md §4). */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DuckgateAdminClient, DuckgateClient, DuckgateError } from '../../src/client/index.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { fetchLog } from './fetch-log.js';

const USERNAME = 'admin';
const PASSWORD = 'a-test-admin-password-1234';

describe('admin session client', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ ADMIN_USERNAME: USERNAME, ADMIN_PASSWORD: PASSWORD });
  });
  after(async () => server.stop());

  test('login() logs in and calls carry the session token', async () => {
    const log = fetchLog();
    const admin = await DuckgateClient.login({ baseUrl: server.url, username: USERNAME, password: PASSWORD, fetch: log.fetch });
    assert.equal(admin.session?.username, USERNAME);
    assert.equal(admin.session?.success, true);
    assert.ok(admin.session?.expiresAt);
    assert.equal((await admin.status()).databases.includes('default'), true);
    await admin.insert('notes', { id: 'n1' });
    assert.equal(log.calls.filter((c) => c.path === '/api/login').length, 1, 'one login for every call');
  });

  test('wrong credentials reject at login with invalid_credentials', async () => {
    await assert.rejects(DuckgateClient.login({ baseUrl: server.url, username: USERNAME, password: 'wrong-password' }), (error: unknown) => {
      assert.ok(error instanceof DuckgateError);
      assert.equal(error.status, 401);
      assert.equal(error.code, 'invalid_credentials');
      assert.equal(error.message, 'Invalid username or password');
      return true;
    });
  });

  test('a refused session token means one re-login and one retry', async () => {
    const log = fetchLog();
    const admin = new DuckgateAdminClient({ baseUrl: server.url, username: USERNAME, password: PASSWORD, fetch: log.fetch });
    await admin.login();
    await admin.status();
    const token = log.calls.at(-1)?.authorization?.replace(/^Bearer /, '');
    assert.ok(token);
    // Logging the token out server-side kills it at once (CONTRACT.md §4); the client logs in again.
    const out = await fetch(`${server.url}/api/logout`, { method: 'POST', headers: { Authorization: `Bearer ${token}` } });
    assert.equal(out.status, 200);
    assert.equal((await admin.health()).status, 'healthy');
    assert.deepEqual(log.calls.map((c) => `${c.path} ${c.status}`), ['/api/login 200', '/status 200', '/health 401', '/api/login 200', '/health 200']);
  });

  test('checkAuth() names the user; logout() ends the session, and the next call signs in again', async () => {
    const log = fetchLog();
    const admin = await DuckgateClient.login({ baseUrl: server.url, username: USERNAME, password: PASSWORD, fetch: log.fetch });
    const check = await admin.checkAuth();
    assert.equal(check.authenticated, true);
    assert.equal(check.username, USERNAME);
    assert.equal(check.authMethod, 'jwt');
    const token = log.calls.at(-1)?.authorization?.replace(/^Bearer /, '');
    await admin.logout();
    assert.equal(admin.session, undefined);
    const dead = await fetch(`${server.url}/status`, { headers: { Authorization: `Bearer ${token}` } });
    assert.equal(dead.status, 401);
    assert.equal((await admin.status()).version.length > 0, true);
    assert.equal(log.calls.filter((c) => c.path === '/api/login').length, 2);
  });
});
