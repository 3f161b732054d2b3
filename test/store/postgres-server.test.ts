/**
 * The server on the PostgreSQL store (STORE_URL): keys, the audit trail, the dashboard account and
 * logouts live there, so a restart (or another replica) with a fresh DATA_DIR keeps them all, and
 * the CLI manages keys on it as on SQLite.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { createTestSchema, postgresUnavailable, type TestSchema } from '../helpers/postgres.js';
import { runCli } from '../helpers/process.js';
import { startTestServer } from '../helpers/server.js';

const skip = await postgresUnavailable();
const schemas: TestSchema[] = [];
after(async () => {
  for (const schema of schemas) await schema.drop();
});

describe('server on the postgres store', { skip }, () => {
  test('keys, audit, account and logouts survive a restart with a new DATA_DIR', async () => {
    const schema = await createTestSchema('server');
    schemas.push(schema);
    const env = { STORE_URL: schema.url, ADMIN_PASSWORD: 'a-long-enough-password-1' };
    const first = await startTestServer(env);
    let key: string;
    let session: string;
    try {
      assert.equal(first.control.kind, 'postgres');
      const created = await first.request({ method: 'POST', url: '/api/auth/register', payload: { label: 'pg', collection_permissions: { notes: ['read'] } } });
      assert.equal(created.statusCode, 201, created.body);
      key = (created.json() as { key: string }).key;
      assert.equal((await first.request({ method: 'GET', url: '/api/auth/permissions', key })).statusCode, 200);
      const login = await first.request({ method: 'POST', url: '/api/login', key: null, payload: { username: 'admin', password: env.ADMIN_PASSWORD } });
      assert.equal(login.statusCode, 200, login.body);
      session = (login.json() as { token: string }).token;
      const logout = await first.request({ method: 'POST', url: '/api/logout', key: null, headers: { authorization: `Bearer ${session}` } });
      assert.equal(logout.statusCode, 200);
      await first.app.audit.flush();
    } finally {
      await first.stop();
    }
    const second = await startTestServer(env);
    try {
      assert.equal((await second.request({ method: 'GET', url: '/api/auth/permissions', key })).statusCode, 200, 'the key lives in the store');
      const check = await second.request({ method: 'GET', url: '/api/check-auth', key: null, headers: { authorization: `Bearer ${session}` } });
      assert.deepEqual(check.json(), { authenticated: false }, 'the logout too');
      const audit = await second.request({ method: 'GET', url: '/api/audit?kind=key.created' });
      assert.equal(audit.statusCode, 200, audit.body);
      assert.ok((audit.json() as { events: unknown[] }).events.length >= 1, audit.body);
      const listed = await runCli(['keys', 'list', '--json'], { STORE_URL: schema.url, DATA_DIR: second.dataDir });
      assert.equal(listed.code, 0, listed.stderr);
      assert.ok((JSON.parse(listed.stdout) as { label: string }[]).some((k) => k.label === 'pg'), listed.stdout);
    } finally {
      await second.stop();
    }
  });
});
