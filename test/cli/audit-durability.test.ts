/**
 * Issue 18: an acknowledged admin action keeps its audit event through kill -9. Each action runs
 * on the real server process, which is killed (SIGKILL, no pause) as soon as the answer arrives;
 * the next start finds the event in the trail. Every kind on SQLite; on PostgreSQL one of each path
 * (a change with its event in one transaction, and a durable event before the answer).
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { ADMIN_KEY, tempDir } from '../helpers/server.js';
import { createTestSchema, postgresUnavailable, type TestSchema } from '../helpers/postgres.js';
import { runCli, startCli, stopCli } from '../helpers/process.js';

const PASSWORD = 'a-durable-admin-password';
const ADMIN = { 'x-api-key': ADMIN_KEY };

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

/** Starts the server, sends one request, and kills the server the moment the answer is in. */
function killer(env: Record<string, string>) {
  return async (method: string, url: string, body?: unknown, headers: Record<string, string> = ADMIN): Promise<Record<string, unknown>> => {
    const cli = await startCli(env);
    let answer: Answer;
    try {
      const json = body === undefined ? {} : { body: JSON.stringify(body), headers: { ...headers, 'content-type': 'application/json' } };
      const res = await fetch(`${cli.url}${url}`, { method, headers, ...json });
      answer = { status: res.status, body: (await res.json()) as Record<string, unknown> };
      cli.child.kill('SIGKILL');
    } finally {
      await stopCli(cli, 'SIGKILL');
    }
    assert.ok(answer.status >= 200 && answer.status < 300, `${method} ${url}: ${answer.status} ${JSON.stringify(answer.body)}`);
    return answer.body;
  };
}

/** The trail after one more start, oldest first, failures left out. */
async function adminEvents(env: Record<string, string>): Promise<string[]> {
  const cli = await startCli(env);
  try {
    const res = await fetch(`${cli.url}/api/audit?limit=100`, { headers: ADMIN });
    assert.equal(res.status, 200);
    const events = ((await res.json()) as { events: { kind: string; target: string; actor: string }[] }).events.reverse();
    return events.filter((e) => e.kind !== 'auth.failure').map((e) => `${e.kind} ${e.target} by ${e.actor}`);
  } finally {
    await stopCli(cli);
  }
}

async function setPassword(env: Record<string, string>): Promise<void> {
  // Set by the CLI (which refuses while ADMIN_PASSWORD is set), then used to sign in.
  const result = await runCli(['admin', 'set-password', '--password-stdin'], env, PASSWORD);
  assert.equal(result.code, 0, result.stderr);
}

test('every kind of admin action keeps its audit event when the server is killed right after answering', async () => {
  const env = { DATA_DIR: tempDir(), ADMIN_API_KEY: ADMIN_KEY };
  const killedAfter = killer(env);
  await setPassword(env);

  const keyId = (await killedAfter('POST', '/api/auth/register', { label: 'audited' })).key_id as string;
  await killedAfter('POST', `/api/auth/keys/${keyId}/regenerate`, {});
  await killedAfter('POST', '/api/auth/permissions', { key_id: keyId, collection_permissions: { menu: ['read'] } });
  await killedAfter('PUT', '/api/auth/permissions', { key_id: keyId, collection_permissions: { orders: ['read'] } });
  await killedAfter('DELETE', `/api/auth/keys/${keyId}`);
  const token = (await killedAfter('POST', '/api/login', { username: 'admin', password: PASSWORD }, {})).token as string;
  await killedAfter('POST', '/api/logout', undefined, { authorization: `Bearer ${token}` });
  await killedAfter('POST', '/api/databases', { name: 'sales' });
  await killedAfter('POST', '/api/insert/orders?db=sales', { n: 1 });
  await killedAfter('DELETE', '/api/collections/orders?db=sales');
  await killedAfter('DELETE', '/api/databases/sales');

  assert.deepEqual(await adminEvents(env), [
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
});

const postgresSkip = await postgresUnavailable();
const schemas: TestSchema[] = [];
after(async () => {
  for (const schema of schemas) await schema.drop().catch(() => {});
});

test('on PostgreSQL too: a revocation, a login and a dropped database keep their events through kill -9', { skip: postgresSkip }, async () => {
  const schema = await createTestSchema('durable');
  schemas.push(schema);
  const env = { DATA_DIR: tempDir(), ADMIN_API_KEY: ADMIN_KEY, STORE_URL: schema.url };
  const killedAfter = killer(env);
  await setPassword(env);

  const keyId = (await killedAfter('POST', '/api/auth/register', { label: 'audited' })).key_id as string;
  await killedAfter('DELETE', `/api/auth/keys/${keyId}`);
  await killedAfter('POST', '/api/login', { username: 'admin', password: PASSWORD }, {});
  await killedAfter('POST', '/api/databases', { name: 'sales' });
  await killedAfter('DELETE', '/api/databases/sales');

  assert.deepEqual(await adminEvents(env), [
    'admin.password user:admin by cli',
    `key.created ${keyId} by env:admin`,
    `key.revoked ${keyId} by env:admin`,
    'auth.login user:admin by user:admin',
    'database.created database:sales by env:admin',
    'database.dropped database:sales by env:admin',
  ]);
});
