/** Every client method against a real server, and how failures surface. */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { DuckgateClient, DuckgateError, type Filter } from '../../src/client/index.js';
import { ADMIN_KEY, CLIENT_KEY, startTestServer, type TestServer } from '../helpers/server.js';

interface User {
  name: string;
  age: number;
  city?: string;
}

describe('client methods against a real server', () => {
  let server: TestServer;
  let admin: DuckgateClient;
  before(async () => {
    server = await startTestServer();
    admin = new DuckgateClient({ baseUrl: server.url, apiKey: ADMIN_KEY });
  });
  after(async () => server.stop());

  test('records: insert, findById, find, list, update, delete', async () => {
    const ada = await admin.insert<User>('users', { name: 'Ada', age: 36, city: 'London' });
    assert.equal(typeof ada.id, 'string');
    assert.equal(ada.name, 'Ada');
    await admin.insert<User>('users', { name: 'Grace', age: 45 });
    await admin.insert('users', { id: 'odd/id with spaces?', name: 'Odd', age: 1 });

    assert.equal((await admin.findById<User>('users', ada.id)).city, 'London');
    assert.equal((await admin.findById('users', 'odd/id with spaces?')).name, 'Odd', 'path segments are encoded');

    const adults: Filter = { type: 'Condition', content: { field: 'age', operator: 'Gte', value: 30 } };
    const found = await admin.find<User>('users', { filter: adults, sort: [{ field: 'age', ascending: false }], select_fields: ['name'] });
    assert.deepEqual(found.map((u) => u.name), ['Grace', 'Ada']);
    assert.equal(found[0]?.age, undefined, 'select_fields applied');
    const either: Filter = {
      type: 'Logical',
      content: { operator: 'Or', expressions: [{ type: 'Condition', content: { field: 'name', operator: 'In', value: ['Odd', 'Ada'] } }] },
    };
    assert.equal((await admin.find('users', { filter: either, exclude_fields: ['city'], limit: 10, skip: 0 })).length, 2);
    assert.equal((await admin.find('users')).length, 3);

    assert.equal((await admin.list('users')).length, 3);
    assert.equal((await admin.list('users', { limit: 1, skip: 1 })).length, 1);

    const older = await admin.update<User>('users', ada.id, { age: 37 });
    assert.deepEqual([older.name, older.age], ['Ada', 37]);
    assert.deepEqual(await admin.delete('users', ada.id), { status: 'success', message: 'Record deleted', id: ada.id });
    await assert.rejects(admin.findById('users', ada.id), { name: 'DuckgateError', status: 404, code: 'not_found' });
  });

  test('batches: insert, update, delete', async () => {
    const inserted = await admin.batchInsert('items', [{ id: 'i1', n: 1 }, { id: 'i2', n: 2 }, { id: 'i1', n: 3 }]);
    assert.deepEqual(inserted.successful, ['i1', 'i2']);
    assert.equal(inserted.failed.length, 1, 'the duplicate fails on its own');
    const updated = await admin.batchUpdate('items', [{ id: 'i1', data: { n: 10 } }, { id: 'nope', data: { n: 0 } }]);
    assert.deepEqual(updated.successful, ['i1']);
    assert.equal(updated.failed[0]?.id, 'nope');
    assert.equal((await admin.findById('items', 'i1')).n, 10);
    assert.deepEqual((await admin.batchDelete('items', ['i1', 'i2'])).successful, ['i1', 'i2']);
    assert.equal((await admin.list('items')).length, 0);
  });

  test('collections and dropCollection', async () => {
    await admin.insert('scratch', { x: 1 });
    assert.ok((await admin.collections()).collections.includes('scratch'));
    assert.deepEqual(await admin.dropCollection('scratch'), { status: 'success', message: "Collection 'scratch' dropped" });
    assert.ok(!(await admin.collections()).collections.includes('scratch'));
  });

  test('query with params', async () => {
    await admin.insert('people', { name: 'Lin', age: 50 });
    const answer = await admin.query<{ name: string }>('SELECT name FROM people WHERE age > $1', [40]);
    assert.deepEqual(answer.result, [{ name: 'Lin' }]);
    assert.deepEqual(answer.columns, ['name']);
    assert.equal(answer.rowCount, 1);
    assert.equal(typeof answer.elapsedMs, 'number');
    assert.equal((await admin.query('SELECT 42 AS answer')).result[0]?.answer, 42);
    await assert.rejects(admin.query('SELEC nonsense'), { status: 400, code: 'sql_error' });
  });

  test('sync and syncCollection', async () => {
    const first = await admin.sync({ categories: [{ externalId: 'c1', name: 'Mains' }], dishes: [{ externalId: 'd1', name: 'Soup' }] });
    assert.deepEqual(first, { categories: { created: 1, updated: 0, unchanged: 0 }, dishes: { created: 1, updated: 0, unchanged: 0 } });
    const again = await admin.syncCollection('categories', [{ externalId: 'c1', name: 'Mains' }, { externalId: 'c2', name: 'Sides' }]);
    assert.deepEqual(again, { categories: { created: 1, updated: 0, unchanged: 1 } });
  });

  test('databases, and ?db= on data routes', async () => {
    assert.deepEqual(await admin.createDatabase('analytics'), { success: true, message: "Database 'analytics' created", name: 'analytics' });
    assert.ok((await admin.databases()).databases.includes('analytics'));
    await admin.insert('events', { id: 'e1', kind: 'click' }, { db: 'analytics' });
    assert.equal((await admin.list('events', { db: 'analytics' })).length, 1);
    assert.equal((await admin.findById('events', 'e1', { db: 'analytics' })).kind, 'click');
    assert.deepEqual(await admin.tables({ db: 'analytics' }), ['events']);
    assert.equal((await admin.query('SELECT count(*)::INTEGER AS n FROM events', undefined, { db: 'analytics' })).result[0]?.n, 1);
    await assert.rejects(admin.list('events'), { status: 404 }, 'not in the default database');
    assert.equal((await admin.dropDatabase('analytics')).success, true);
    await assert.rejects(admin.list('events', { db: 'analytics' }), { status: 404, code: 'not_found' });
  });

  test('tables: list, counts, schema, data, count', async () => {
    await admin.batchInsert('rows', [{ id: 'r1', v: 1 }, { id: 'r2', v: 2 }, { id: 'r3', v: 3 }]);
    assert.ok((await admin.tables()).includes('rows'));
    assert.equal((await admin.tableCounts()).rows, 3);
    const schema = await admin.tableSchema('rows');
    assert.deepEqual(schema.columns.map((c) => [c.column_name, c.column_type]), [['id', 'VARCHAR'], ['v', 'DOUBLE']]);
    assert.equal((await admin.tableData('rows', { limit: 2, offset: 1 })).length, 2);
    assert.deepEqual(await admin.tableCount('rows'), { count: 3 });
  });

  test('keys and permissions', async () => {
    const issued = await admin.registerKey({ label: 'pos', description: 'till', collection_permissions: { menu: ['read'] } });
    assert.match(issued.key, /^dk_live_[A-Za-z0-9_-]{32}$/);
    assert.equal(issued.label, 'pos');
    const listed = (await admin.listKeys()).find((k) => k.key_id === issued.key_id);
    assert.equal(listed?.key, `${issued.prefix}...`, 'a list never shows the full key');

    const pos = new DuckgateClient({ baseUrl: server.url, apiKey: issued.key });
    assert.deepEqual(await pos.permissions(), { key_id: issued.key_id, label: 'pos', is_admin: false, collection_permissions: { menu: ['read'] } });
    assert.equal((await admin.permissions()).is_admin, true);

    const set = await admin.setPermissions(issued.key_id, { menu: ['read', 'write'] });
    assert.deepEqual(set, {
      status: 'updated', key_id: issued.key_id, collection_permissions: { menu: ['read', 'write'] },
      warnings: ["Collection 'menu' does not exist yet in database 'default': the grant applies once it is created (is the name spelt right?)"],
    });
    assert.equal((await pos.insert('menu', { id: 'm1', dish: 'Soup' })).id, 'm1', 'applies to the token already held');
    const merged = await admin.updatePermissions(issued.key_id, { menu: ['read', 'write', 'delete'] });
    assert.deepEqual(merged.changes, ["Added 'delete' permission to 'menu' collection"]);

    const regenerated = await admin.regenerateKey(issued.key_id, { grace_seconds: 60 });
    assert.equal(regenerated.key_id, issued.key_id);
    assert.notEqual(regenerated.key, issued.key);
    assert.equal(typeof regenerated.grace_until, 'string');
    assert.equal((await admin.regenerateKey(issued.key_id)).grace_until, null);

    assert.deepEqual(await admin.revokeKey(issued.key_id), { status: 'success', message: 'Key revoked successfully' });
    await assert.rejects(pos.permissions(), { status: 401, code: 'invalid_api_key' });
  });

  test('audit with filters', async () => {
    const issued = await admin.registerKey({ label: 'audited' });
    await admin.revokeKey(issued.key_id);
    const page = await admin.audit({ kind: ['key.created', 'key.revoked'], target: issued.key_id, since: new Date(Date.now() - 60_000) });
    assert.deepEqual(page.events.map((e) => e.kind), ['key.revoked', 'key.created']);
    const first = await admin.audit({ target: issued.key_id, limit: 1 });
    assert.equal(first.events.length, 1);
    assert.equal(typeof first.next_before, 'number');
    const second = await admin.audit({ target: issued.key_id, limit: 1, before: first.next_before ?? undefined });
    assert.equal(second.events[0]?.kind, 'key.created');
    await assert.rejects(admin.audit({ since: 'yesterday' }), { status: 400, code: 'invalid_query' });
  });

  test('health, status, metrics', async () => {
    const health = await admin.health();
    assert.equal(health.status, 'healthy');
    assert.equal(health.databases.default, 'ok');
    const status = await admin.status();
    assert.equal(typeof status.version, 'string');
    assert.ok(status.databases.includes('default'));
    assert.match(await admin.metrics(), /http_request_duration_seconds/);
  });

  test('a full-data client key reads and writes, and is refused admin routes', async () => {
    const client = new DuckgateClient({ baseUrl: server.url, apiKey: CLIENT_KEY });
    await client.insert('notes', { id: 'n1', text: 'hi' });
    assert.equal((await client.findById('notes', 'n1')).text, 'hi');
    await assert.rejects(client.listKeys(), { status: 403, code: 'forbidden', message: 'Admin access required' });
    await assert.rejects(client.audit(), { status: 403, code: 'forbidden' });
  });

  test('schema violations carry details', async () => {
    await assert.rejects(admin.list('users', { limit: 0 }), (error: unknown) => {
      assert.ok(error instanceof DuckgateError);
      assert.equal(error.status, 400);
      assert.equal(error.code, 'validation_failed');
      assert.ok(error.details !== undefined);
      return true;
    });
  });
});

describe('client failures that are not duckgate answers', () => {
  // A stand-in for a reverse proxy whose upstream is down: it answers HTML, not duckgate's JSON.
  let proxy: Server;
  let proxyUrl: string;
  before(async () => {
    proxy = createServer((_req, res) => res.writeHead(502, { 'Content-Type': 'text/html' }).end('<html><body>502 Bad Gateway</body></html>'));
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => proxy.close(() => resolve())));

  test('a non-JSON error body is a DuckgateError with code http_<status>', async () => {
    const client = new DuckgateClient({ baseUrl: proxyUrl, apiKey: ADMIN_KEY });
    await assert.rejects(client.health(), (error: unknown) => {
      assert.ok(error instanceof DuckgateError);
      assert.equal(error.status, 502);
      assert.equal(error.code, 'http_502');
      assert.match(error.message, /502 Bad Gateway/);
      return true;
    });
  });

  test('a network failure is a DuckgateError with status 0, code network_error', async () => {
    // A port that was just free: nothing listens there.
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));

    const client = new DuckgateClient({ baseUrl: `http://127.0.0.1:${port}`, apiKey: ADMIN_KEY });
    await assert.rejects(client.status(), (error: unknown) => {
      assert.ok(error instanceof DuckgateError);
      assert.equal(error.status, 0);
      assert.equal(error.code, 'network_error');
      assert.ok(error.cause !== undefined);
      return true;
    });
  });

  test('bad options fail at construction', () => {
    assert.throws(() => new DuckgateClient({ baseUrl: 'not a url', apiKey: ADMIN_KEY }), TypeError);
    assert.throws(() => new DuckgateClient({ baseUrl: proxyUrl, apiKey: '' }), TypeError);
    assert.throws(() => new DuckgateClient({ baseUrl: proxyUrl, apiKey: ADMIN_KEY, refreshMarginSeconds: -1 }), RangeError);
  });
});
