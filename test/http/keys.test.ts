import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { hasValidChecksum } from '../../src/auth/api-key.js';
import { ADMIN_KEY, CLIENT_KEY, startTestServer, type TestServer } from '../helpers/server.js';
import { as, createKey } from '../helpers/keys.js';

describe('managed keys (seed 002, seed 003)', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(async () => server.stop());

  test('register takes the admin key in the body as api_key and answers the full key once', async () => {
    const res = await server.request({
      method: 'POST', url: '/api/auth/register', key: null,
      payload: { api_key: ADMIN_KEY, label: 'Web App Key', description: 'for the web app', is_admin: false, collection_permissions: { users: ['read', 'write'] } },
    });
    assert.equal(res.statusCode, 201, res.body);
    const body = res.json();
    assert.match(body.key, /^dk_live_[A-Za-z0-9_-]{32}$/);
    assert.ok(hasValidChecksum(body.key));
    assert.equal(body.prefix, body.key.slice(0, 16));
    assert.match(body.key_id, /^key_/);
    assert.deepEqual(body.collection_permissions, { users: ['read', 'write'] });
    assert.equal(body.label, 'Web App Key');
    assert.equal((await as(server, body.key)('GET', '/api/find/users')).statusCode, 404, 'key works (collection not created yet)');

    const listed = (await server.request({ method: 'GET', url: '/api/auth/keys' })).json();
    const entry = listed.find((k: { key_id: string }) => k.key_id === body.key_id);
    assert.equal(entry.key, `${body.prefix}...`);
    assert.ok(!JSON.stringify(listed).includes(body.key), 'the list never holds a full key');
  });

  test('the full key is nowhere in DATA_DIR: only its hash and prefix are stored', async () => {
    const { key } = await createKey(server, {});
    const files = readdirSync(server.dataDir).map((f) => path.join(server.dataDir, f));
    for (const file of files) {
      const bytes = readFileSync(file);
      assert.ok(!bytes.includes(Buffer.from(key)), `${file} holds the full key`);
      assert.ok(!bytes.includes(Buffer.from(key.slice(16))), `${file} holds the secret part`);
    }
  });

  test('a well-formed key with a wrong checksum is refused as Invalid API key', async () => {
    const { key } = await createKey(server, {});
    const flipped = key.slice(0, 20) + (key[20] === 'A' ? 'B' : 'A') + key.slice(21);
    const res = await as(server, flipped)('GET', '/api/collections');
    assert.equal(res.statusCode, 401);
    assert.deepEqual(res.json(), { error: 'Invalid API key', code: 'invalid_api_key' });
  });

  test('revoke takes effect on the very next request; revoking twice is 404', async () => {
    const { key, key_id } = await createKey(server, { collection_permissions: { '*': ['read'] } });
    assert.equal((await as(server, key)('GET', '/api/collections')).statusCode, 200);
    const revoked = await server.request({ method: 'DELETE', url: `/api/auth/keys/${key_id}` });
    assert.deepEqual(revoked.json(), { status: 'success', message: 'Key revoked successfully' });
    const after = await as(server, key)('GET', '/api/collections');
    assert.equal(after.statusCode, 401);
    assert.equal(after.json().code, 'invalid_api_key');
    assert.equal((await server.request({ method: 'DELETE', url: `/api/auth/keys/${key_id}` })).statusCode, 404);
    assert.equal((await server.request({ method: 'DELETE', url: '/api/auth/keys/key_unknown' })).statusCode, 404);
  });

  test('regenerate: same key_id, new key, the old one dies at once', async () => {
    const { key: oldKey, key_id } = await createKey(server, { collection_permissions: { '*': ['read'] } });
    const res = await server.request({ method: 'POST', url: `/api/auth/keys/${key_id}/regenerate` });
    assert.equal(res.statusCode, 200, res.body);
    const { key: newKey } = res.json();
    assert.equal(res.json().key_id, key_id);
    assert.notEqual(newKey, oldKey);
    assert.equal((await as(server, oldKey)('GET', '/api/collections')).statusCode, 401);
    assert.equal((await as(server, newKey)('GET', '/api/collections')).statusCode, 200);
  });

  test('regenerate with grace_seconds keeps the old key alive that long, never past its expiry', async () => {
    const { key: oldKey, key_id } = await createKey(server, { collection_permissions: { '*': ['read'] } });
    const res = await server.request({ method: 'POST', url: `/api/auth/keys/${key_id}/regenerate`, payload: { grace_seconds: 1 } });
    assert.equal(res.statusCode, 200);
    assert.equal((await as(server, oldKey)('GET', '/api/collections')).statusCode, 200, 'old key still works in the grace period');
    await new Promise((r) => setTimeout(r, 1100));
    assert.equal((await as(server, oldKey)('GET', '/api/collections')).statusCode, 401, 'old key dead after the grace period');

    const expiring = await createKey(server, { expires_at: new Date(Date.now() + 800).toISOString(), collection_permissions: { '*': ['read'] } });
    await server.request({ method: 'POST', url: `/api/auth/keys/${expiring.key_id}/regenerate`, payload: { grace_seconds: 3600 } });
    await new Promise((r) => setTimeout(r, 900));
    assert.equal((await as(server, expiring.key)('GET', '/api/collections')).statusCode, 401, 'grace never outlives the key');
  });

  test('an expired key fails', async () => {
    const { key } = await createKey(server, { expires_at: new Date(Date.now() + 500).toISOString(), collection_permissions: { '*': ['read'] } });
    assert.equal((await as(server, key)('GET', '/api/collections')).statusCode, 200);
    await new Promise((r) => setTimeout(r, 600));
    assert.equal((await as(server, key)('GET', '/api/collections')).statusCode, 401);
  });

  test('non-admins get 403 Admin access required on every key route', async () => {
    const { key } = await createKey(server, { collection_permissions: { '*': ['read', 'write', 'delete'] } });
    for (const k of [key, CLIENT_KEY]) {
      for (const [method, url, payload] of [
        ['POST', '/api/auth/register', { label: 'x' }],
        ['GET', '/api/auth/keys', undefined],
        ['DELETE', '/api/auth/keys/key_x', undefined],
        ['POST', '/api/auth/keys/key_x/regenerate', {}],
        ['POST', '/api/auth/permissions', { key_id: 'key_x', collection_permissions: {} }],
        ['PUT', '/api/auth/permissions', { key_id: 'key_x', collection_permissions: {} }],
      ] as const) {
        const res = await as(server, k)(method, url, payload);
        assert.equal(res.statusCode, 403, `${method} ${url}`);
        assert.deepEqual(res.json(), { error: 'Admin access required', code: 'forbidden' });
      }
    }
  });

  test('null expires_at, rate_limit and allowed_ips mean none, as the contract allows', async () => {
    const res = await server.request({
      method: 'POST', url: '/api/auth/register',
      payload: { label: 'nulls', expires_at: null, rate_limit: null, allowed_ips: null },
    });
    assert.equal(res.statusCode, 201, res.body);
    const body = res.json();
    assert.equal(body.expires_at, null);
    assert.equal(body.rate_limit, null);
    assert.equal(body.allowed_ips, null);
  });

  test('bad registrations answer 400 and store nothing', async () => {
    const before = (await server.request({ method: 'GET', url: '/api/auth/keys' })).json().length;
    for (const payload of [
      { label: 'x', collection_permissions: { users: ['read', 'admin'] } },
      { label: 'x', collection_permissions: { users: { read: true, hidden_fields: ['a'] } } },
      { label: 'x', collection_permissions: { users: { read: true, select_fields: 'name' } } },
      { label: 'x', collection_permissions: { users: { read: 'yes' } } },
      { label: 'x', collection_permissions: ['users'] },
      { label: 'x', allowed_ips: ['10.0.0.300'] },
      { label: 'x', expires_at: 'tomorrow' },
      { label: 'x', expires_at: '2000-01-01T00:00:00Z' },
      { label: '' },
    ]) {
      const res = await server.request({ method: 'POST', url: '/api/auth/register', payload });
      assert.equal(res.statusCode, 400, `${JSON.stringify(payload)} → ${res.body}`);
    }
    const res = await server.request({ method: 'POST', url: '/api/auth/register', payload: { label: 'x', collection_permissions: { users: ['read', 'admin'] } } });
    assert.match(res.json().error, /admin/);
    assert.equal((await server.request({ method: 'GET', url: '/api/auth/keys' })).json().length, before);
  });
});

describe('permission mistakes (issue 11)', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
    assert.equal((await server.request({ method: 'POST', url: '/api/insert/users', payload: { id: 'ada', name: 'Ada', salary: 1 } })).statusCode, 201);
    assert.equal((await server.request({ method: 'POST', url: '/api/databases', payload: { name: 'analytics' } })).statusCode, 201);
  });
  after(async () => server.stop());
  const register = (collection_permissions: unknown) =>
    server.request({ method: 'POST', url: '/api/auth/register', payload: { label: 'perm test', collection_permissions } });

  test('contradictions are refused with 400 invalid_permissions, on register, POST and PUT, and nothing is stored', async () => {
    const { key_id } = await createKey(server, { collection_permissions: { users: ['read'] } });
    const contradictions: Array<[unknown, RegExp]> = [
      [{ users: {} }, /name no level/],
      [{ users: { select_fields: ['name'] } }, /name no level/],
      [{ users: { read: false, write: false, exclude_fields: ['salary'] } }, /grants no level/],
      [{ users: { read: true, select_fields: ['name', 'salary'], exclude_fields: ['SALARY'] } }, /both in select_fields and exclude_fields/],
      [{ Users: ['read'], users: ['write'] }, /name the same collection/],
    ];
    for (const [permissions, message] of contradictions) {
      const keysBefore = (await server.request({ method: 'GET', url: '/api/auth/keys' })).json().length;
      for (const res of [
        await register(permissions),
        await server.request({ method: 'POST', url: '/api/auth/permissions', payload: { key_id, collection_permissions: permissions } }),
        await server.request({ method: 'PUT', url: '/api/auth/permissions', payload: { key_id, collection_permissions: permissions } }),
      ]) {
        assert.equal(res.statusCode, 400, `${JSON.stringify(permissions)} → ${res.body}`);
        assert.equal(res.json().code, 'invalid_permissions');
        assert.match(res.json().error, message);
      }
      assert.equal((await server.request({ method: 'GET', url: '/api/auth/keys' })).json().length, keysBefore);
    }
    const own = (await server.request({ method: 'GET', url: '/api/auth/keys' })).json().find((k: { key_id: string }) => k.key_id === key_id);
    assert.deepEqual(own.collection_permissions, { users: ['read'] }, 'the refused changes left the key as it was');
  });

  test('an explicit deny ([] or levels all false) and a write-only field are not contradictions', async () => {
    const res = await register({ '*': ['read'], invoices: [], orders: { read: false }, users: { read: true, write: true, exclude_fields: ['salary'], writable_fields: ['salary'] } });
    assert.equal(res.statusCode, 201, res.body);
    assert.deepEqual(res.json().collection_permissions.invoices, []);
    assert.deepEqual(res.json().collection_permissions.orders, []);
  });

  test('names that do not exist yet are stored, with warnings in the answer', async () => {
    const res = await register({
      categories: ['read', 'write'],
      users: { read: true, exclude_fields: ['salry'], select_fields: null },
      'analytics.events': ['read'],
      'nowhere.*': ['read'],
      'analytics.*': ['read'],
    });
    assert.equal(res.statusCode, 201, res.body);
    const body = res.json();
    assert.deepEqual(Object.keys(body.collection_permissions).sort(), ['analytics.*', 'analytics.events', 'categories', 'nowhere.*', 'users'], 'stored as sent');
    const warnings = body.warnings as string[];
    assert.equal(warnings.length, 4, warnings.join('\n'));
    assert.ok(warnings.some((w) => /Collection 'categories' does not exist yet in database 'default'/.test(w)), warnings.join('\n'));
    assert.ok(warnings.some((w) => /Field 'salry' in exclude_fields of 'users' is not a field of collection 'users': it hides nothing/.test(w)), warnings.join('\n'));
    assert.ok(warnings.some((w) => /Collection 'events' does not exist yet in database 'analytics'/.test(w)), warnings.join('\n'));
    assert.ok(warnings.some((w) => /Database 'nowhere' does not exist yet/.test(w)), warnings.join('\n'));

    // The grant for a collection that does not exist yet works once it does (a first sync).
    assert.equal((await as(server, body.key)('POST', '/api/insert/categories', { name: 'Drinks' })).statusCode, 201);
    const clean = await register({ categories: ['read'], users: { read: true, exclude_fields: ['salary'] }, '*': ['read'] });
    assert.deepEqual(clean.json().warnings, [], 'existing names: no warnings');
  });

  test('POST and PUT permissions answer warnings too; PUT only about the collections it names', async () => {
    const { key_id } = await createKey(server, { collection_permissions: { users: ['read'] } });
    const set = await server.request({ method: 'POST', url: '/api/auth/permissions', payload: { key_id, collection_permissions: { usres: ['read'], users: { read: false, write: true, select_fields: ['name'] } } } });
    assert.equal(set.statusCode, 200, set.body);
    assert.deepEqual(set.json().warnings, [
      "Collection 'usres' does not exist yet in database 'default': the grant applies once it is created (is the name spelt right?)",
      "'users': select_fields has no effect without read",
    ]);
    const merged = await server.request({ method: 'PUT', url: '/api/auth/permissions', payload: { key_id, collection_permissions: { users: { read: true, select_fields: ['name', 'nmae'] } } } });
    assert.equal(merged.statusCode, 200, merged.body);
    assert.deepEqual(merged.json().warnings, ["Field 'nmae' in select_fields of 'users' is not a field of collection 'users': it matches nothing until such a field exists"]);
    assert.ok(merged.json().changes.length > 0);
  });
});

describe('the last admin', () => {
  test('the first start generates an admin key, shown once; the last admin key cannot be revoked (409)', async () => {
    const banners: string[] = [];
    const { startServer } = await import('../../src/server.js');
    const { loadConfig } = await import('../../src/config/index.js');
    const { tempDir } = await import('../helpers/server.js');
    const config = loadConfig({ DATA_DIR: tempDir(), PORT: '0' });
    const first = await startServer(config, { log: false, announce: (text) => banners.push(text) });
    let adminKey: string;
    try {
      assert.equal(banners.length, 1);
      adminKey = /(dk_live_[A-Za-z0-9_-]{32})/.exec(banners[0]!)![1]!;
      const keys = await first.app.fastify.inject({ method: 'GET', url: '/api/auth/keys', headers: { authorization: `Bearer ${adminKey}` } });
      assert.equal(keys.statusCode, 200);
      const [only] = keys.json();
      assert.equal(only.is_admin, true);
      const revoke = await first.app.fastify.inject({ method: 'DELETE', url: `/api/auth/keys/${only.key_id}`, headers: { authorization: `Bearer ${adminKey}` } });
      assert.equal(revoke.statusCode, 409, revoke.body);
    } finally {
      await first.close();
    }
    const second = await startServer(config, { log: false, announce: (text) => banners.push(text) });
    try {
      assert.equal(banners.length, 1, 'no second banner once an admin key exists');
      const ok = await second.app.fastify.inject({ method: 'GET', url: '/api/auth/keys', headers: { 'x-api-key': adminKey } });
      assert.equal(ok.statusCode, 200);
    } finally {
      await second.close();
    }
  });
});
