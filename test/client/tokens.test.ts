/** The client handles tokens on its own (seed 003): exchange, single flight, renewal, refusal. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DuckgateClient, DuckgateError } from '../../src/client/index.js';
import { createKey } from '../helpers/keys.js';
import { ADMIN_KEY, startTestServer, type TestServer } from '../helpers/server.js';
import { fetchLog, sleep } from './fetch-log.js';

describe('client tokens with a 2-second token lifetime', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ TOKEN_EXPIRES_IN: '2' });
    await server.request({ method: 'POST', url: '/api/insert/users', payload: { id: 'u1', name: 'Ada' } });
  });
  after(async () => server.stop());

  test('calls keep working across expiry: the token is renewed ahead of it, without a 401', async () => {
    const log = fetchLog();
    const client = new DuckgateClient({ baseUrl: server.url, apiKey: ADMIN_KEY, fetch: log.fetch, refreshMarginSeconds: 1 });
    assert.equal((await client.findById('users', 'u1')).name, 'Ada');
    assert.equal(log.exchanges(), 1);
    assert.equal((await client.findById('users', 'u1')).name, 'Ada');
    assert.equal(log.exchanges(), 1, 'a fresh token is reused');

    // Renewal is due 1 s after receipt (2 s lifetime - 1 s margin); the token dies 1 to 2 s after.
    await sleep(1200);
    assert.equal((await client.findById('users', 'u1')).name, 'Ada');
    assert.equal(log.exchanges(), 2, 'renewed before expiry');
    await sleep(2500);
    assert.equal((await client.list('users')).length, 1);
    assert.equal(log.exchanges(), 3);
    assert.equal(log.count(401), 0, 'the server never saw an expired token');
  });

  test('a lifetime shorter than twice the margin renews at half of it', async () => {
    const log = fetchLog();
    // Margin 30 s against a 2 s lifetime: renew after 1 s, not on every call.
    const client = new DuckgateClient({ baseUrl: server.url, apiKey: ADMIN_KEY, fetch: log.fetch });
    await client.health();
    await client.health();
    assert.equal(log.exchanges(), 1);
    await sleep(1200);
    await client.health();
    assert.equal(log.exchanges(), 2);
  });
});

describe('client tokens', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ JWT_SECRET: 'a-client-test-secret-that-is-at-least-32-bytes' });
    await server.request({ method: 'POST', url: '/api/insert/users', payload: { id: 'u1', name: 'Ada', salary: 100 } });
  });
  after(async () => server.stop());

  test('50 concurrent calls on a cold client make exactly one exchange', async () => {
    const log = fetchLog();
    const client = new DuckgateClient({ baseUrl: server.url, apiKey: ADMIN_KEY, fetch: log.fetch });
    const answers = await Promise.all(Array.from({ length: 50 }, () => client.findById('users', 'u1')));
    assert.equal(answers.length, 50);
    assert.ok(answers.every((record) => record.name === 'Ada'));
    assert.equal(log.exchanges(), 1);
    // Every call carried the token, none the key.
    assert.equal(log.calls.filter((c) => c.path === '/api/find/users/u1' && c.status === 200).length, 50);
  });

  test('a key refused at exchange surfaces as a DuckgateError, without a retry', async () => {
    const log = fetchLog();
    const client = new DuckgateClient({ baseUrl: server.url, apiKey: `dk_live_${'x'.repeat(32)}`, fetch: log.fetch });
    await assert.rejects(client.collections(), (error: unknown) => {
      assert.ok(error instanceof DuckgateError);
      assert.equal(error.status, 401);
      assert.equal(error.code, 'invalid_api_key');
      assert.equal(error.message, 'API key not found or revoked');
      return true;
    });
    assert.deepEqual(log.calls.map((c) => c.path), ['/api/auth/token']);
  });

  test('revoking the key: the next call renews once, the exchange is refused, the error surfaces', async () => {
    const { key, key_id } = await createKey(server, { collection_permissions: { users: ['read'] } });
    const log = fetchLog();
    const client = new DuckgateClient({ baseUrl: server.url, apiKey: key, fetch: log.fetch });
    assert.equal((await client.list('users')).length, 1);
    await server.request({ method: 'DELETE', url: `/api/auth/keys/${encodeURIComponent(key_id)}` });

    await assert.rejects(client.list('users'), { name: 'DuckgateError', status: 401, code: 'invalid_api_key', message: 'API key not found or revoked' });
    // The dead token (401 invalid_token), one renewal attempt (401), and nothing more.
    assert.deepEqual(log.calls.slice(2).map((c) => `${c.path} ${c.status}`), ['/api/find/users 401', '/api/auth/token 401']);
    assert.equal(log.exchanges(), 2);

    // Each later call tries once more, and gives up just as fast: no loop.
    await assert.rejects(client.list('users'), { code: 'invalid_api_key' });
    assert.equal(log.exchanges(), 3);
  });

  test('regenerating the key kills the token; the retry is bounded and the refusal surfaces', async () => {
    const { key, key_id } = await createKey(server, { collection_permissions: { users: ['read'] } });
    const log = fetchLog();
    const client = new DuckgateClient({ baseUrl: server.url, apiKey: key, fetch: log.fetch });
    await client.list('users');
    await server.request({ method: 'POST', url: `/api/auth/keys/${encodeURIComponent(key_id)}/regenerate` });

    // 20 calls at once all hit the dead token; they share one renewal, which the server refuses.
    const results = await Promise.allSettled(Array.from({ length: 20 }, () => client.list('users')));
    for (const result of results) {
      assert.equal(result.status, 'rejected');
      assert.ok(result.reason instanceof DuckgateError);
      assert.equal(result.reason.code, 'invalid_api_key');
      assert.equal(result.reason.message, 'API key not found or revoked');
    }
    assert.equal(log.exchanges(), 2, 'the first exchange, then one renewal for all 20');
    assert.equal(log.count(401), 21, '20 dead-token answers and one refused exchange');
  });

  test('regenerating with a grace period: the token dies, the client renews with the old key and carries on', async () => {
    const { key, key_id } = await createKey(server, { collection_permissions: { users: ['read'] } });
    const log = fetchLog();
    const client = new DuckgateClient({ baseUrl: server.url, apiKey: key, fetch: log.fetch });
    await client.list('users');
    await server.request({ method: 'POST', url: `/api/auth/keys/${encodeURIComponent(key_id)}/regenerate`, payload: { grace_seconds: 60 } });

    assert.equal((await client.list('users')).length, 1);
    assert.deepEqual(log.calls.slice(2).map((c) => `${c.path} ${c.status}`), [
      '/api/find/users 401', // the token died with the key's generation
      '/api/auth/token 200', // the old key still works during the grace period
      '/api/find/users 200', // the one retry
    ]);
  });

  test('a missing permission is a 403 DuckgateError in seed 003 words; field rules too', async () => {
    const { key } = await createKey(server, { collection_permissions: { users: { read: true, exclude_fields: ['salary'] } } });
    const client = new DuckgateClient({ baseUrl: server.url, apiKey: key });
    await assert.rejects(client.insert('users', { name: 'Bob' }), {
      name: 'DuckgateError', status: 403, code: 'forbidden', message: 'No write permission for collection users',
    });
    await assert.rejects(client.delete('users', 'u1'), { status: 403, message: 'No delete permission for collection users' });
    await assert.rejects(client.list('posts'), { status: 403, message: 'No read permission for collection posts' });
    await assert.rejects(client.dropCollection('users'), { status: 403, code: 'forbidden', message: 'Admin access required' });
    const [record] = await client.list('users');
    assert.deepEqual(record, { id: 'u1', name: 'Ada' }, 'salary is excluded');
  });
});
