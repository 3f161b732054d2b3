import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { as, createKey } from '../helpers/keys.js';

describe('collection permissions (seed 003, CONTRACT.md §5)', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
    const admin = as(server, undefined as unknown as string);
    await server.request({ method: 'POST', url: '/api/insert/users', payload: { id: 'u1', name: 'Ada', email: 'ada@example.com', salary: 100 } });
    await server.request({ method: 'POST', url: '/api/insert/users', payload: { id: 'u2', name: 'Bob', email: 'bob@example.com', salary: 200 } });
    await server.request({ method: 'POST', url: '/api/insert/posts', payload: { id: 'p1', title: 'Hello' } });
    void admin;
  });
  after(async () => server.stop());

  test('levels gate each route, with seed 003 wording', async () => {
    const { key } = await createKey(server, { collection_permissions: { users: ['read'], posts: [] } });
    const call = as(server, key);
    assert.equal((await call('GET', '/api/find/users')).statusCode, 200);
    assert.equal((await call('GET', '/api/find/users/u1')).statusCode, 200);
    const write = await call('POST', '/api/insert/users', { name: 'Eve' });
    assert.equal(write.statusCode, 403);
    assert.deepEqual(write.json(), { error: 'No write permission for collection users', code: 'forbidden' });
    assert.deepEqual((await call('DELETE', '/api/delete/users/u1')).json(), { error: 'No delete permission for collection users', code: 'forbidden' });
    assert.deepEqual((await call('GET', '/api/find/posts')).json(), { error: 'No read permission for collection posts', code: 'forbidden' });
    assert.equal((await call('GET', '/api/find/comments')).statusCode, 403, 'no grant at all');
    assert.deepEqual((await call('GET', '/api/collections')).json(), { collections: ['users'] });
    assert.deepEqual((await call('GET', '/api/tables')).json(), ['users']);
    assert.deepEqual(Object.keys((await call('GET', '/api/tables/counts/all')).json()), ['users']);
    assert.equal((await call('POST', '/v1/sync', { users: [{ externalId: 'x', name: 'X' }] })).statusCode, 403);
  });

  test('the * wildcard grants every collection of the default database', async () => {
    const { key } = await createKey(server, { collection_permissions: { '*': ['read'], posts: [] } });
    const call = as(server, key);
    assert.equal((await call('GET', '/api/find/users')).statusCode, 200);
    assert.equal((await call('GET', '/api/find/posts')).statusCode, 403, 'a specific grant beats the wildcard');
  });

  test('select_fields and exclude_fields shape every read', async () => {
    const { key } = await createKey(server, { collection_permissions: { users: { read: true, exclude_fields: ['salary'] } } });
    const call = as(server, key);
    const rows = (await call('GET', '/api/find/users')).json();
    assert.ok(rows.length === 2 && rows.every((r: object) => !('salary' in r)));
    assert.ok(!('salary' in (await call('GET', '/api/find/users/u1')).json()));
    assert.ok(!('salary' in (await call('POST', '/api/find/users', { select_fields: ['name', 'salary'] })).json()[0]));
    assert.ok((await call('GET', '/api/tables/users/data')).json().every((r: object) => !('salary' in r)));
    const schema = (await call('GET', '/api/tables/users/schema')).json();
    assert.ok(!schema.columns.some((c: { column_name: string }) => c.column_name === 'salary'));
    const filtered = await call('POST', '/api/find/users', { filter: { type: 'Condition', content: { field: 'salary', operator: 'Gt', value: 150 } } });
    assert.equal(filtered.statusCode, 403, 'filtering on a hidden field would leak it');
    assert.equal((await call('POST', '/api/find/users', { sort: [{ field: 'salary' }] })).statusCode, 403);

    const { key: narrow } = await createKey(server, { collection_permissions: { users: { read: true, select_fields: ['name'] } } });
    const row = (await as(server, narrow)('GET', '/api/find/users/u2')).json();
    assert.deepEqual(row, { id: 'u2', name: 'Bob' });
  });

  test('writable_fields bound every write; a write touching another field is 403 naming it', async () => {
    const { key } = await createKey(server, { collection_permissions: { users: { read: true, write: true, writable_fields: ['name'] } } });
    const call = as(server, key);
    assert.equal((await call('PUT', '/api/update/users/u1', { name: 'Ada L.' })).statusCode, 200);
    const denied = await call('PUT', '/api/update/users/u1', { name: 'x', salary: 1 });
    assert.equal(denied.statusCode, 403);
    assert.match(denied.json().error, /salary/);
    assert.equal((await server.request({ method: 'GET', url: '/api/find/users/u1' })).json().salary, 100, 'nothing written');
    assert.equal((await call('POST', '/api/batch/insert/users', { inserts: [{ data: { name: 'ok' } }, { data: { salary: 5 } }] })).statusCode, 403);
    assert.equal((await call('POST', '/v1/sync/users', [{ externalId: 'e', salary: 1 }])).statusCode, 403);
  });

  test('without read, a write answers the id only (issue 11, defect 2)', async () => {
    await server.request({ method: 'POST', url: '/api/insert/staff', payload: { id: 'ada', name: 'Ada', salary: 100 } });
    const { key } = await createKey(server, { collection_permissions: { staff: ['write'] } });
    const call = as(server, key);
    assert.equal((await call('GET', '/api/find/staff/ada')).statusCode, 403, 'control: no read');
    const updated = await call('PUT', '/api/update/staff/ada', {});
    assert.equal(updated.statusCode, 200, updated.body);
    assert.deepEqual(updated.json(), { id: 'ada' });
    const inserted = await call('POST', '/api/insert/staff', { id: 'bob', name: 'Bob', salary: 200 });
    assert.equal(inserted.statusCode, 201, inserted.body);
    assert.deepEqual(inserted.json(), { id: 'bob' });
    assert.deepEqual((await call('POST', '/api/batch/insert/staff', { inserts: [{ data: { id: 'cy', salary: 1 } }] })).json(), { successful: ['cy'], failed: [] });
    assert.deepEqual((await call('PUT', '/api/batch/update/staff', { updates: [{ id: 'cy', data: { salary: 2 } }] })).json(), { successful: ['cy'], failed: [] });
    assert.deepEqual((await call('POST', '/v1/sync/staff', [{ externalId: 'e1', salary: 3 }])).json(), { staff: { created: 1, updated: 0, unchanged: 0 } });
    assert.deepEqual((await call('POST', '/v1/sync', { staff: [{ externalId: 'e1', salary: 4 }] })).json(), { staff: { created: 0, updated: 1, unchanged: 0 } });

    const { key: readWrite } = await createKey(server, { collection_permissions: { staff: { read: true, write: true, exclude_fields: ['salary'] } } });
    assert.deepEqual((await as(server, readWrite)('PUT', '/api/update/staff/ada', {})).json(), { id: 'ada', name: 'Ada' }, 'with read: what read would show');
  });

  test('writable_fields bound externalId too, except as the match key of sync (issue 11, defect 5)', async () => {
    await server.request({ method: 'POST', url: '/v1/sync/venues', payload: [{ externalId: 'v1', name: 'First' }, { externalId: 'v2', name: 'Second' }] });
    const v1 = (await server.request({ method: 'POST', url: '/api/find/venues', payload: { filter: { type: 'Condition', content: { field: 'externalId', operator: 'Eq', value: 'v1' } } } })).json()[0];
    const { key } = await createKey(server, { collection_permissions: { venues: { read: true, write: true, writable_fields: ['name'] } } });
    const call = as(server, key);
    const retarget = await call('PUT', `/api/update/venues/${v1.id}`, { externalId: 'v2' });
    assert.equal(retarget.statusCode, 403, retarget.body);
    assert.match(retarget.json().error, /externalId/);
    assert.equal((await call('POST', '/api/insert/venues', { name: 'x', externalId: 'v3' })).statusCode, 403);
    assert.equal((await call('POST', '/api/batch/insert/venues', { inserts: [{ data: { externalId: 'v4' } }] })).statusCode, 403);
    assert.equal((await call('PUT', '/api/batch/update/venues', { updates: [{ id: v1.id, data: { externalId: 'v2' } }] })).statusCode, 403);
    assert.equal((await server.request({ method: 'GET', url: `/api/find/venues/${v1.id}` })).json().externalId, 'v1', 'nothing retargeted');
    // As the match key of sync it is not a field being written.
    assert.equal((await call('POST', '/v1/sync/venues', [{ externalId: 'v1', name: 'Renamed' }])).statusCode, 200);
    assert.equal((await call('POST', '/v1/sync', { venues: [{ externalId: 'v2', name: 'Renamed too' }] })).statusCode, 200);
    // Granted explicitly, it is writable like any field.
    const { key: owner } = await createKey(server, { collection_permissions: { venues: { read: true, write: true, writable_fields: ['name', 'externalId'] } } });
    assert.equal((await as(server, owner)('POST', '/api/insert/venues', { name: 'x', externalId: 'v5' })).statusCode, 201);
  });

  test('GET permissions answers the caller its own; POST replaces; PUT merges and lists changes', async () => {
    const { key, key_id } = await createKey(server, { collection_permissions: { users: ['read', 'write'], posts: ['read'] } });
    const own = (await as(server, key)('GET', '/api/auth/permissions')).json();
    assert.deepEqual(own, { key_id, label: 'test key', is_admin: false, collection_permissions: { users: ['read', 'write'], posts: ['read'] } });

    const merged = await server.request({ method: 'PUT', url: '/api/auth/permissions', payload: { key_id, collection_permissions: { users: ['read', 'write', 'delete'], posts: ['read', 'write'] } } });
    assert.equal(merged.statusCode, 200, merged.body);
    assert.deepEqual(merged.json().changes, ["Added 'delete' permission to 'users' collection", "Added 'write' permission to 'posts' collection"]);
    assert.equal(merged.json().status, 'updated');
    assert.equal((await as(server, key)('DELETE', '/api/delete/posts/none')).statusCode, 403);
    assert.equal((await as(server, key)('DELETE', '/api/delete/users/none')).statusCode, 404, 'delete now allowed at once');

    const replaced = await server.request({ method: 'POST', url: '/api/auth/permissions', payload: { key_id, collection_permissions: { posts: ['read'] } } });
    assert.deepEqual(replaced.json(), { status: 'updated', key_id, collection_permissions: { posts: ['read'] }, warnings: [] });
    assert.equal((await as(server, key)('GET', '/api/find/users')).statusCode, 403, 'replaced at once');

    const bad = await server.request({ method: 'PUT', url: '/api/auth/permissions', payload: { key_id, collection_permissions: { posts: ['read', 'own'] } } });
    assert.equal(bad.statusCode, 400);
    assert.deepEqual((await as(server, key)('GET', '/api/auth/permissions')).json().collection_permissions, { posts: ['read'] }, 'nothing stored');
    assert.equal((await server.request({ method: 'PUT', url: '/api/auth/permissions', payload: { key_id: 'key_none', collection_permissions: {} } })).statusCode, 404);
  });

  test('databases are the tenant boundary: a key without a grant there cannot see it', async () => {
    await server.request({ method: 'POST', url: '/api/databases', payload: { name: 'venue2' } });
    await server.request({ method: 'POST', url: '/api/insert/menu?db=venue2', payload: { name: 'Soup' } });
    const { key: venueKey } = await createKey(server, { collection_permissions: { 'venue2.*': ['read', 'write'] } });
    const venue = as(server, venueKey);
    assert.equal((await venue('GET', '/api/find/menu?db=venue2')).statusCode, 200);
    assert.deepEqual((await venue('GET', '/api/databases')).json(), { success: true, databases: ['venue2'] });
    assert.equal((await venue('GET', '/api/find/users')).statusCode, 404, 'default database is invisible');
    const { key: defaultKey } = await createKey(server, { collection_permissions: { users: ['read'] } });
    assert.equal((await as(server, defaultKey)('GET', '/api/find/menu?db=venue2')).statusCode, 404);
    assert.deepEqual((await as(server, defaultKey)('GET', '/api/databases')).json().databases, ['default']);
    const created = await venue('POST', '/v1/sync?db=venue2', { categories: [{ externalId: 'c1', name: 'Mains' }] });
    assert.equal(created.statusCode, 200, 'write on a new collection creates it');
  });

  test('scoped SQL sees only readable tables and visible fields', async () => {
    const { key } = await createKey(server, { collection_permissions: { users: { read: true, exclude_fields: ['salary'] } } });
    const call = as(server, key);
    const ok = await call('POST', '/api/query', { sql: 'SELECT * FROM users ORDER BY id' });
    assert.equal(ok.statusCode, 200, ok.body);
    assert.ok(!ok.json().columns.includes('salary'));
    assert.equal((await call('POST', '/api/query', { sql: 'SELECT salary FROM users' })).statusCode, 400);
    assert.equal((await call('POST', '/api/query', { sql: 'SELECT * FROM posts' })).statusCode, 403);
    assert.equal((await call('POST', '/api/query', { sql: "UPDATE users SET name = 'x'" })).statusCode, 403);
  });
});
