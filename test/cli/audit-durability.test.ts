/**
 * Issue 18: an acknowledged admin action keeps its audit event through kill -9. Each action runs
 * on the real server process, which is killed (SIGKILL, no pause) as soon as the answer arrives;
 * the next start finds the event in the trail.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ADMIN_KEY, tempDir } from '../helpers/server.js';
import { runCli, startCli, stopCli } from '../helpers/process.js';

const PASSWORD = 'a-durable-admin-password';

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

test('every kind of admin action keeps its audit event when the server is killed right after answering', async () => {
  const env = { DATA_DIR: tempDir(), ADMIN_API_KEY: ADMIN_KEY };
  const admin = { 'x-api-key': ADMIN_KEY };

  // The password is set by the CLI (which refuses while ADMIN_PASSWORD is set), then used to sign in.
  const setPassword = await runCli(['admin', 'set-password', '--password-stdin'], env, PASSWORD);
  assert.equal(setPassword.code, 0, setPassword.stderr);

  /** Starts the server, sends one request, and kills the server the moment the answer is in. */
  const killedAfter = async (method: string, url: string, body?: unknown, headers: Record<string, string> = admin): Promise<Answer> => {
    const cli = await startCli(env);
    try {
      const json = body === undefined ? {} : { body: JSON.stringify(body), headers: { ...headers, 'content-type': 'application/json' } };
      const res = await fetch(`${cli.url}${url}`, { method, headers, ...json });
      const answer = { status: res.status, body: (await res.json()) as Record<string, unknown> };
      cli.child.kill('SIGKILL');
      return answer;
    } finally {
      await stopCli(cli, 'SIGKILL');
    }
  };
  const ok = (answer: Answer, status = 200) => {
    assert.equal(answer.status, status, JSON.stringify(answer.body));
    return answer.body;
  };

  const keyId = ok(await killedAfter('POST', '/api/auth/register', { label: 'audited' }), 201).key_id as string;
  ok(await killedAfter('POST', `/api/auth/keys/${keyId}/regenerate`, {}));
  ok(await killedAfter('POST', '/api/auth/permissions', { key_id: keyId, collection_permissions: { menu: ['read'] } }));
  ok(await killedAfter('PUT', '/api/auth/permissions', { key_id: keyId, collection_permissions: { orders: ['read'] } }));
  ok(await killedAfter('DELETE', `/api/auth/keys/${keyId}`));
  const token = ok(await killedAfter('POST', '/api/login', { username: 'admin', password: PASSWORD }, {})).token as string;
  ok(await killedAfter('POST', '/api/logout', undefined, { authorization: `Bearer ${token}` }));
  ok(await killedAfter('POST', '/api/databases', { name: 'sales' }), 201);
  ok(await killedAfter('POST', '/api/insert/orders?db=sales', { n: 1 }), 201);
  ok(await killedAfter('DELETE', '/api/collections/orders?db=sales'));
  ok(await killedAfter('DELETE', '/api/databases/sales'));

  const cli = await startCli(env);
  try {
    const res = await fetch(`${cli.url}/api/audit?limit=100`, { headers: admin });
    assert.equal(res.status, 200);
    const events = ((await res.json()) as { events: { kind: string; target: string; actor: string }[] }).events.reverse();
    const admins = events.filter((e) => e.kind !== 'auth.failure').map((e) => `${e.kind} ${e.target} by ${e.actor}`);
    assert.deepEqual(admins, [
      'admin.password user:admin by cli',
      `key.created ${keyId} by env:admin`,
      `key.regenerated ${keyId} by env:admin`,
      `key.permissions ${keyId} by env:admin`,
      `key.permissions ${keyId} by env:admin`,
      `key.revoked ${keyId} by env:admin`,
      'auth.login user:admin by user:admin',
      'auth.logout user:admin by user:admin',
      'database.created database:sales by env:admin',
      'collection.dropped collection:sales.orders by env:admin',
      'database.dropped database:sales by env:admin',
    ]);
  } finally {
    await stopCli(cli);
  }
});
