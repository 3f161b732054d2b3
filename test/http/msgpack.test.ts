/**
 * MessagePack on every record route (issue 12 item 2): bodies in, answers out when `Accept` asks,
 * through the same validation, limits and errors as JSON, errors in msgpack too.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Packr } from 'msgpackr';
import { decodeMsgpack, prefersMsgpack, scanMsgpack } from '../../src/http/plugins/msgpack.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { createKey } from '../helpers/keys.js';

// Plain msgpack maps, as ekoDB's client (`@msgpack/msgpack`'s `encode`) writes them.
const packr = new Packr({ useRecords: false });
const pack = (value: unknown): Buffer => packr.pack(value);
const MSGPACK = { 'content-type': 'application/msgpack', accept: 'application/msgpack' };

describe('MessagePack on the record routes', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ BODY_LIMIT: '64kb', MAX_JSON_DEPTH: '8' });
  });
  after(async () => server.stop());

  const mp = async (method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, body?: unknown, key?: string) => {
    const res = await server.request({ method, url, headers: MSGPACK, ...(body === undefined ? {} : { payload: pack(body) }), ...(key ? { key } : {}) });
    assert.match(String(res.headers['content-type']), /^application\/msgpack/, `${method} ${url}: ${res.statusCode} ${res.headers['content-type']}`);
    return { status: res.statusCode, body: decodeMsgpack(res.rawPayload) as any, headers: res.headers };
  };

  test('insert, findById, update, find (POST and GET), delete: round trips', async () => {
    const inserted = await mp('POST', '/api/insert/mp_users', { name: 'Ada', age: 36, admin: true, tags: ['x', 1], address: { city: 'London' }, big: 2 ** 40, ratio: 0.25 });
    assert.equal(inserted.status, 201);
    assert.equal(typeof inserted.body.id, 'string');
    assert.deepEqual({ ...inserted.body, id: 'ID' }, { id: 'ID', name: 'Ada', age: 36, admin: true, tags: ['x', 1], address: { city: 'London' }, big: 2 ** 40, ratio: 0.25 });
    const id = inserted.body.id as string;

    const byId = await mp('GET', `/api/find/mp_users/${id}`);
    assert.equal(byId.status, 200);
    assert.deepEqual(byId.body, inserted.body);
    // The same record read as JSON is the same value.
    const asJson = await server.request({ method: 'GET', url: `/api/find/mp_users/${id}` });
    assert.deepEqual(asJson.json(), byId.body);

    const updated = await mp('PUT', `/api/update/mp_users/${id}`, { age: 37 });
    assert.equal(updated.status, 200);
    assert.equal(updated.body.age, 37);
    assert.equal(updated.body.name, 'Ada');

    const found = await mp('POST', '/api/find/mp_users', { filter: { type: 'Condition', content: { field: 'age', operator: 'Gte', value: 37 } }, limit: 10 });
    assert.equal(found.status, 200);
    assert.deepEqual(found.body.map((r: { id: string }) => r.id), [id]);
    const listed = await mp('GET', '/api/find/mp_users?limit=5');
    assert.equal(listed.status, 200);
    assert.equal(listed.body.length, 1);

    // ekoDB's delete: DELETE, Content-Type msgpack, no body.
    const deleted = await mp('DELETE', `/api/delete/mp_users/${id}`);
    assert.deepEqual(deleted, { status: 200, body: { status: 'success', message: 'Record deleted', id }, headers: deleted.headers });
    const gone = await mp('GET', `/api/find/mp_users/${id}`);
    assert.equal(gone.status, 404);
    assert.equal(gone.body.code, 'not_found');
  });

  test('batch insert, update and delete: round trips', async () => {
    const inserted = await mp('POST', '/api/batch/insert/mp_batch', { inserts: [{ data: { id: 'a', n: 1 } }, { data: { id: 'b', n: 2 } }] });
    assert.deepEqual(inserted.body, { successful: ['a', 'b'], failed: [] });
    const updated = await mp('PUT', '/api/batch/update/mp_batch', { updates: [{ id: 'a', data: { n: 10 } }, { id: 'zz', data: { n: 0 } }] });
    assert.deepEqual(updated.body.successful, ['a']);
    assert.equal(updated.body.failed.length, 1);
    const deleted = await mp('DELETE', '/api/batch/delete/mp_batch', { deletes: [{ id: 'b' }] });
    assert.deepEqual(deleted.body, { successful: ['b'], failed: [] });
    const rest = await mp('POST', '/api/find/mp_batch', {});
    assert.deepEqual(rest.body, [{ id: 'a', n: 10 }]);
  });

  test('/v1/sync and /v1/sync/:collection take and answer msgpack', async () => {
    const many = await mp('POST', '/v1/sync', { mp_menu: [{ externalId: 'm1', name: 'Soup' }] });
    assert.equal(many.status, 200);
    assert.deepEqual(many.body, { mp_menu: { created: 1, updated: 0, unchanged: 0 } });
    const one = await mp('POST', '/v1/sync/mp_menu', [{ externalId: 'm1', name: 'Stew' }]);
    assert.deepEqual(one.body, { mp_menu: { created: 0, updated: 1, unchanged: 0 } });
  });

  test('a msgpack body with Accept JSON answers JSON; a JSON body with Accept msgpack answers msgpack', async () => {
    const res = await server.request({ method: 'POST', url: '/api/insert/mp_mixed', headers: { 'content-type': 'application/msgpack', accept: 'application/json' }, payload: pack({ n: 1 }) });
    assert.equal(res.statusCode, 201);
    assert.equal(res.json().n, 1);
    const back = await server.request({ method: 'POST', url: '/api/insert/mp_mixed', headers: { 'content-type': 'application/json', accept: 'application/msgpack' }, payload: { n: 2 } });
    assert.equal((decodeMsgpack(back.rawPayload) as { n: number }).n, 2);
  });

  test('the same validation as JSON, with the error in msgpack', async () => {
    const res = await mp('POST', '/api/find/mp_users', { limit: '5' });
    assert.equal(res.status, 400);
    assert.equal(res.body.code, 'validation_failed');
    const notObject = await mp('POST', '/api/insert/mp_users', [1, 2]);
    assert.equal(notObject.status, 400);
    assert.equal(notObject.body.code, 'validation_failed');
  });

  test('bodies JSON cannot carry are refused, never stored differently', async () => {
    const binary = await mp('POST', '/api/insert/mp_users', { blob: Buffer.from([1, 2, 3]) });
    assert.equal(binary.status, 400);
    assert.equal(binary.body.code, 'invalid_msgpack');
    const nonStringKeys = await server.request({ method: 'POST', url: '/api/insert/mp_users', headers: MSGPACK, payload: Buffer.from([0x81, 0x01, 0x02]) });
    assert.equal(nonStringKeys.statusCode, 400);
    assert.equal((decodeMsgpack(nonStringKeys.rawPayload) as { code: string }).code, 'invalid_msgpack');
    const truncated = await server.request({ method: 'POST', url: '/api/insert/mp_users', headers: MSGPACK, payload: pack({ name: 'Ada' }).subarray(0, 5) });
    assert.equal((decodeMsgpack(truncated.rawPayload) as { code: string }).code, 'invalid_msgpack');
    const trailing = await server.request({ method: 'POST', url: '/api/insert/mp_users', headers: MSGPACK, payload: Buffer.concat([pack({ a: 1 }), Buffer.from([0x01])]) });
    assert.equal((decodeMsgpack(trailing.rawPayload) as { code: string }).code, 'invalid_msgpack');
    // A `__proto__` key: refused like the JSON parser refuses it (msgpackr would rename it silently).
    const proto = await server.request({ method: 'POST', url: '/api/insert/mp_users', headers: MSGPACK, payload: Buffer.concat([Buffer.from([0x81, 0xa9]), Buffer.from('__proto__'), Buffer.from([0x81, 0xa1, 0x78, 0x01])]) });
    assert.equal((decodeMsgpack(proto.rawPayload) as { code: string }).code, 'invalid_msgpack');
    const ctor = await mp('POST', '/api/insert/mp_users', { constructor: { prototype: { x: 1 } } });
    assert.equal(ctor.body.code, 'invalid_msgpack');
  });

  test('a timestamp (an encoded JS Date) is stored as the ISO string JSON would have sent', async () => {
    const when = new Date('2026-01-02T03:04:05.678Z');
    const res = await mp('POST', '/api/insert/mp_dates', { when });
    assert.equal(res.status, 201);
    assert.equal(res.body.when, when.toISOString());
  });

  test('the nesting limit and the body size limit hold for msgpack', async () => {
    let deep: unknown = 1;
    for (let i = 0; i < 9; i++) deep = [deep];
    const tooDeep = await mp('POST', '/api/insert/mp_users', { deep });
    assert.equal(tooDeep.status, 400);
    assert.equal(tooDeep.body.code, 'json_too_deep');
    // A million nested arrays in a small body: refused by the scan, no recursion.
    const million = await server.request({ method: 'POST', url: '/api/insert/mp_users', headers: MSGPACK, payload: Buffer.concat([Buffer.from([0x81, 0xa1, 0x78]), Buffer.alloc(60_000, 0x91), Buffer.from([0x01])]) });
    assert.equal((decodeMsgpack(million.rawPayload) as { code: string }).code, 'json_too_deep');
    const big = await mp('POST', '/api/insert/mp_users', { text: 'x'.repeat(70_000) });
    assert.equal(big.status, 413);
    assert.equal(big.body.code, 'payload_too_large');
  });

  test('access is decided before the body: a read-only key posting garbage msgpack gets 403 in msgpack', async () => {
    const { key } = await createKey(server, { collection_permissions: { mp_users: ['read'] } });
    const res = await server.request({ method: 'POST', url: '/api/insert/mp_users', key, headers: MSGPACK, payload: Buffer.from([0xc1, 0xc1]) });
    assert.equal(res.statusCode, 403);
    assert.deepEqual(decodeMsgpack(res.rawPayload), { error: 'No write permission for collection mp_users', code: 'forbidden' });
    const unauthenticated = await server.request({ method: 'POST', url: '/api/insert/mp_users', key: null, headers: MSGPACK, payload: pack({ a: 1 }) });
    assert.equal(unauthenticated.statusCode, 401);
    assert.deepEqual(decodeMsgpack(unauthenticated.rawPayload), { error: 'Missing API key', code: 'missing_api_key' });
  });

  test('routes other than the record routes refuse a msgpack body with 415 and answer JSON', async () => {
    const res = await server.request({ method: 'POST', url: '/api/query', headers: MSGPACK, payload: pack({ sql: 'SELECT 1' }) });
    assert.equal(res.statusCode, 415);
    assert.equal(res.json().code, 'unsupported_media_type');
  });
});

describe('msgpack helpers', () => {
  test('Accept negotiation: msgpack only when ranked above JSON', () => {
    assert.equal(prefersMsgpack(undefined), false);
    assert.equal(prefersMsgpack('application/json'), false);
    assert.equal(prefersMsgpack('application/msgpack'), true);
    assert.equal(prefersMsgpack('application/x-msgpack'), true);
    assert.equal(prefersMsgpack('application/json, application/msgpack'), false);
    assert.equal(prefersMsgpack('application/msgpack, application/json'), true);
    assert.equal(prefersMsgpack('application/json;q=0.5, application/msgpack'), true);
    assert.equal(prefersMsgpack('application/msgpack;q=0'), false);
    assert.equal(prefersMsgpack('*/*'), false);
  });

  test('the scan agrees with the decoder on depth and completeness', () => {
    assert.equal(scanMsgpack(pack({ a: [1, { b: 'x' }], c: null }), 3), 'ok');
    assert.equal(scanMsgpack(pack({ a: [1, { b: 'x' }] }), 2), 'too-deep');
    assert.equal(scanMsgpack(pack({ a: [[]] }), 2), 'too-deep');
    assert.equal(scanMsgpack(pack({ s: 'y'.repeat(300), n: 2 ** 40, f: 0.5, neg: -5, bin: Buffer.alloc(70_000) }), 2), 'ok');
    assert.equal(scanMsgpack(Buffer.from([0xdd, 0xff, 0xff, 0xff, 0xff]), 8), 'malformed');
    assert.equal(scanMsgpack(Buffer.from([]), 8), 'malformed');
  });
});
