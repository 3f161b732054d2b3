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
      { label: 'x', rate_limit: 0 },
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

describe('editing, disabling, searching and paging keys (issue 16)', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(async () => server.stop());

  const patch = (keyId: string, payload: unknown, key?: string) =>
    server.request({ method: 'PATCH', url: `/api/auth/keys/${keyId}`, payload: payload as object, ...(key ? { key } : {}) });
  const listed = async (keyId: string) => (await server.request({ method: 'GET', url: '/api/auth/keys' })).json().find((k: { key_id: string }) => k.key_id === keyId);

  test('PATCH changes label, description, expiry, rate limit, allowed IPs and admin flag; absent fields are kept, null clears', async () => {
    const { key, key_id } = await createKey(server, { label: 'before', description: 'old', rate_limit: 10, collection_permissions: { notes: ['read'] } });
    const expires = new Date(Date.now() + 86_400_000).toISOString();
    const res = await patch(key_id, { label: '  after  ', description: 'new words', expires_at: expires, rate_limit: 500, allowed_ips: ['127.0.0.1', '10.0.0.0/8'] });
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json();
    assert.equal(body.label, 'after');
    assert.equal(body.description, 'new words');
    assert.equal(body.expires_at, expires);
    assert.equal(body.rate_limit, 500);
    assert.deepEqual(body.allowed_ips, ['127.0.0.1', '10.0.0.0/8']);
    assert.equal(body.is_admin, false);
    assert.deepEqual(body.collection_permissions, { notes: ['read'] }, 'permissions are untouched');
    assert.equal(body.key, `${body.prefix}...`);
    assert.ok(!res.body.includes(key), 'never the full key');
    assert.deepEqual(await listed(key_id), { ...body, last_used_at: null });

    const cleared = (await patch(key_id, { expires_at: null, rate_limit: null, allowed_ips: null })).json();
    assert.equal(cleared.expires_at, null);
    assert.equal(cleared.rate_limit, null);
    assert.equal(cleared.allowed_ips, null);
    assert.equal(cleared.label, 'after', 'absent fields are kept');

    // Admin flag: the key reaches an admin route once promoted, and no longer once demoted.
    assert.equal((await as(server, key)('GET', '/api/auth/keys')).statusCode, 403);
    assert.equal((await patch(key_id, { is_admin: true })).json().is_admin, true);
    assert.equal((await as(server, key)('GET', '/api/auth/keys')).statusCode, 200);
    assert.equal((await patch(key_id, { is_admin: false })).json().is_admin, false);
    assert.equal((await as(server, key)('GET', '/api/auth/keys')).statusCode, 403);
  });

  test('a narrowed allowed_ips and a rate limit apply to the very next request', async () => {
    const { key, key_id } = await createKey(server, { collection_permissions: { '*': ['read'] } });
    assert.equal((await as(server, key)('GET', '/api/collections')).statusCode, 200);
    assert.equal((await patch(key_id, { allowed_ips: ['192.0.2.1'] })).statusCode, 200);
    assert.equal((await as(server, key)('GET', '/api/collections')).statusCode, 403);
    assert.equal((await patch(key_id, { allowed_ips: null })).statusCode, 200);
    assert.equal((await as(server, key)('GET', '/api/collections')).statusCode, 200);
  });

  test('bad updates answer 400 with a clear error and change nothing', async () => {
    const { key_id } = await createKey(server, { label: 'steady', rate_limit: 7 });
    const before = await listed(key_id);
    for (const [payload, pattern] of [
      [{}, /must NOT have fewer than 1 properties|Nothing to update/],
      [{ label: '   ' }, /label must be 1 to 200 characters/],
      [{ label: 'ok', expires_at: '2001-01-01T00:00:00Z' }, /expires_at must be in the future/],
      [{ label: 'ok', expires_at: 'tomorrow' }, /expires_at must be an ISO 8601 date/],
      [{ label: 'ok', rate_limit: 0 }, /rate_limit/],
      [{ label: 'ok', allowed_ips: ['not-an-ip'] }, /not an IP address or CIDR range/],
      [{ label: 'ok', collection_permissions: {} }, /must NOT have additional properties|collection_permissions/],
      [{ disabled: 'yes please' }, /disabled/],
    ] as const) {
      const res = await patch(key_id, payload);
      assert.equal(res.statusCode, 400, `${JSON.stringify(payload)}: ${res.body}`);
      assert.match(res.json().error, pattern);
      assert.equal(typeof res.json().code, 'string');
    }
    assert.deepEqual(await listed(key_id), before, 'nothing was applied');
    const missing = await patch('key_missing', { label: 'x' });
    assert.equal(missing.statusCode, 404);
  });

  test('a disabled key answers 401 on the next request, and its tokens too; enabling brings both back', async () => {
    const { key, key_id } = await createKey(server, { collection_permissions: { '*': ['read'] } });
    const exchanged = await server.request({ method: 'POST', url: '/api/auth/token', key: null, payload: { api_key: key } });
    assert.equal(exchanged.statusCode, 200, exchanged.body);
    const token = exchanged.json().token as string;
    assert.equal((await as(server, key)('GET', '/api/collections')).statusCode, 200);
    assert.equal((await as(server, token)('GET', '/api/collections')).statusCode, 200);

    const disabled = await patch(key_id, { disabled: true });
    assert.equal(disabled.statusCode, 200, disabled.body);
    assert.equal(disabled.json().disabled, true);
    assert.match(disabled.json().disabled_at, /^\d{4}-\d\d-\d\dT/);
    const refused = await as(server, key)('GET', '/api/collections');
    assert.equal(refused.statusCode, 401);
    assert.equal(refused.json().code, 'invalid_api_key');
    assert.equal((await as(server, token)('GET', '/api/collections')).statusCode, 401);
    const again = await patch(key_id, { disabled: true });
    assert.equal(again.json().disabled_at, disabled.json().disabled_at, 'disabling twice keeps the first time');
    assert.equal((await listed(key_id)).disabled, true, 'a disabled key is still listed');

    const enabled = await patch(key_id, { disabled: false });
    assert.equal(enabled.json().disabled, false);
    assert.equal(enabled.json().disabled_at, null);
    assert.equal((await as(server, key)('GET', '/api/collections')).statusCode, 200);
    assert.equal((await as(server, token)('GET', '/api/collections')).statusCode, 200);
  });

  test('every update is in the audit trail, with what changed and never a key', async () => {
    const { key, key_id } = await createKey(server, { label: 'audited' });
    await patch(key_id, { label: 'audited again', disabled: true });
    const events = (await server.request({ method: 'GET', url: `/api/audit?kind=key.updated&target=${key_id}` })).json();
    const list = (Array.isArray(events) ? events : events.events) as { kind: string; target: string; details: Record<string, unknown> }[];
    const event = list.find((e) => e.target === key_id);
    assert.ok(event, JSON.stringify(events));
    assert.deepEqual(event.details.changed, ['label', 'disabled']);
    assert.equal(event.details.label, 'audited again');
    assert.ok(!JSON.stringify(events).includes(key));
  });

  test('?search= filters by label, description, prefix or id; ?limit=&offset= pages; X-Total-Count counts the matches', async () => {
    const made: string[] = [];
    for (let i = 1; i <= 5; i++) made.push((await createKey(server, { label: `Paging ${i}`, description: i === 3 ? 'the ÜNIQUE one' : '' })).key_id);
    const page1 = await server.request({ method: 'GET', url: '/api/auth/keys?search=paging&limit=2&offset=0' });
    assert.equal(page1.statusCode, 200);
    assert.equal(page1.headers['x-total-count'], '5');
    assert.deepEqual(page1.json().map((k: { label: string }) => k.label), ['Paging 1', 'Paging 2']);
    const page3 = await server.request({ method: 'GET', url: '/api/auth/keys?search=PAGING&limit=2&offset=4' });
    assert.deepEqual(page3.json().map((k: { label: string }) => k.label), ['Paging 5']);
    assert.equal(page3.headers['x-total-count'], '5');
    const byDescription = await server.request({ method: 'GET', url: `/api/auth/keys?search=${encodeURIComponent('ünique')}` });
    assert.deepEqual(byDescription.json().map((k: { key_id: string }) => k.key_id), [made[2]]);
    const one = (await listed(made[3]!)) as { prefix: string };
    const byPrefix = await server.request({ method: 'GET', url: `/api/auth/keys?search=${one.prefix}` });
    assert.deepEqual(byPrefix.json().map((k: { key_id: string }) => k.key_id), [made[3]]);
    const none = await server.request({ method: 'GET', url: '/api/auth/keys?search=nothing-matches-this' });
    assert.deepEqual(none.json(), []);
    assert.equal(none.headers['x-total-count'], '0');
    const all = await server.request({ method: 'GET', url: '/api/auth/keys' });
    assert.equal(all.headers['x-total-count'], String(all.json().length), 'without paging, every key');
    for (const bad of ['limit=0', 'limit=1001', 'offset=-1', 'limit=abc', 'sort=label']) {
      const res = await server.request({ method: 'GET', url: `/api/auth/keys?${bad}` });
      assert.equal(res.statusCode, 400, `${bad}: ${res.body}`);
    }
  });

  test('environment keys are listed by setting name and role, never by value', async () => {
    const res = await server.request({ method: 'GET', url: '/api/auth/environment-keys' });
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json() as { id: string; name: string; is_admin: boolean }[];
    assert.deepEqual(body.find((k) => k.id === 'env:admin'), { id: 'env:admin', name: 'ADMIN_API_KEY', is_admin: true });
    assert.ok(body.some((k) => k.name.startsWith('VALID_API_KEYS') && !k.is_admin));
    assert.ok(!res.body.includes(ADMIN_KEY) && !res.body.includes(ADMIN_KEY.slice(0, 8)), 'no value, not even a prefix');
    assert.ok(!res.body.includes(CLIENT_KEY.slice(0, 8)));
  });

  test('non-admins get 403 on the new key routes', async () => {
    const { key } = await createKey(server, { collection_permissions: { '*': ['read', 'write', 'delete'] } });
    for (const k of [key, CLIENT_KEY]) {
      const update = await server.request({ method: 'PATCH', url: '/api/auth/keys/key_x', key: k, payload: { label: 'x' } });
      assert.equal(update.statusCode, 403);
      assert.equal((await as(server, k)('GET', '/api/auth/environment-keys')).statusCode, 403);
    }
  });
});

describe('the last admin key cannot be demoted or disabled', () => {
  test('PATCH is_admin=false or disabled=true on the only working admin key answers 409; with a second admin it works', async () => {
    const { startServer } = await import('../../src/server.js');
    const { loadConfig } = await import('../../src/config/index.js');
    const { tempDir } = await import('../helpers/server.js');
    const banners: string[] = [];
    const started = await startServer(loadConfig({ DATA_DIR: tempDir(), PORT: '0' }), { log: false, announce: (text) => banners.push(text) });
    try {
      const adminKey = /(dk_live_[A-Za-z0-9_-]{32})/.exec(banners[0]!)![1]!;
      const call = (method: 'GET' | 'POST' | 'PATCH', url: string, payload?: object) =>
        started.app.fastify.inject({ method, url, headers: { authorization: `Bearer ${adminKey}` }, ...(payload ? { payload } : {}) });
      const [only] = (await call('GET', '/api/auth/keys')).json();
      for (const payload of [{ is_admin: false }, { disabled: true }]) {
        const res = await call('PATCH', `/api/auth/keys/${only.key_id}`, payload);
        assert.equal(res.statusCode, 409, res.body);
        assert.match(res.json().error, /last admin key/);
      }
      assert.equal((await call('PATCH', `/api/auth/keys/${only.key_id}`, { label: 'renamed admin' })).statusCode, 200, 'other fields still change');
      const second = await call('POST', '/api/auth/register', { label: 'second admin', is_admin: true });
      assert.equal(second.statusCode, 201);
      const secondKey = second.json().key as string;
      const disabledSecond = await call('PATCH', `/api/auth/keys/${second.json().key_id}`, { disabled: true });
      assert.equal(disabledSecond.statusCode, 200, disabledSecond.body);
      // A disabled admin key does not count: the first is still the last working one.
      assert.equal((await call('PATCH', `/api/auth/keys/${only.key_id}`, { disabled: true })).statusCode, 409);
      assert.equal((await call('PATCH', `/api/auth/keys/${second.json().key_id}`, { disabled: false })).statusCode, 200);
      const demoted = await started.app.fastify.inject({ method: 'PATCH', url: `/api/auth/keys/${only.key_id}`, headers: { authorization: `Bearer ${secondKey}` }, payload: { is_admin: false } });
      assert.equal(demoted.statusCode, 200, demoted.body);
    } finally {
      await started.close();
    }
  });
});
