import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../helpers/server.js';

describe('bad input gets a clear error and writes nothing', () => {
  let server: TestServer;
  const count = async () => (await server.request({ method: 'GET', url: '/api/tables/things/count' })).json().count as number;
  before(async () => {
    server = await startTestServer({ BODY_LIMIT: '64kb' });
    await server.request({ method: 'POST', url: '/api/insert/things', payload: { id: 'seed', n: 1 } });
  });
  after(async () => server.stop());

  async function expectError(options: Parameters<TestServer['request']>[0], status: number, code: string) {
    const before = await count();
    const res = await server.request(options);
    assert.equal(res.statusCode, status, res.body);
    const body = res.json();
    assert.equal(body.code, code);
    assert.equal(typeof body.error, 'string');
    assert.doesNotMatch(res.body, /\bat .+:\d+:\d+/, 'no stack trace');
    assert.equal(await count(), before, 'nothing written');
    return body;
  }

  test('malformed JSON → 400 invalid_json', async () => {
    await expectError({ method: 'POST', url: '/api/insert/things', payload: '{"n": 1', headers: { 'content-type': 'application/json' } }, 400, 'invalid_json');
  });

  test('schema violations → 400 with details', async () => {
    const body = await expectError({ method: 'POST', url: '/api/find/things', payload: { limit: 'many' } }, 400, 'validation_failed');
    assert.ok(Array.isArray(body.details) && body.details.length > 0);
    await expectError({ method: 'POST', url: '/api/insert/things', payload: [1, 2] }, 400, 'validation_failed');
    await expectError({ method: 'POST', url: '/api/batch/insert/things', payload: { inserts: 'no' } }, 400, 'validation_failed');
  });

  test('a value of the wrong type for a column → 400 and nothing written', async () => {
    await expectError({ method: 'POST', url: '/api/insert/things', payload: { n: 'not a number' } }, 400, 'invalid_record');
    await expectError({ method: 'PUT', url: '/api/update/things/seed', payload: { n: { nested: true } } }, 400, 'invalid_record');
    assert.equal((await server.request({ method: 'GET', url: '/api/find/things/seed' })).json().n, 1);
  });

  test('unknown collection or record → 404', async () => {
    await expectError({ method: 'GET', url: '/api/find/nothing' }, 404, 'not_found');
    await expectError({ method: 'GET', url: '/api/find/things/missing' }, 404, 'not_found');
    await expectError({ method: 'PUT', url: '/api/update/things/missing', payload: { n: 2 } }, 404, 'not_found');
    await expectError({ method: 'GET', url: '/api/tables/nothing/schema' }, 404, 'not_found');
    await expectError({ method: 'GET', url: '/api/collections?db=nowhere' }, 404, 'not_found');
  });

  test('bad collection or field names → 400', async () => {
    await expectError({ method: 'POST', url: '/api/insert/bad%20name', payload: { n: 1 } }, 400, 'invalid_name');
    await expectError({ method: 'POST', url: '/api/insert/things', payload: { 'bad field; drop': 1 } }, 400, 'invalid_name');
  });

  test('body over the limit → 413', async () => {
    await expectError({ method: 'POST', url: '/api/insert/things', payload: { big: 'x'.repeat(70 * 1024) } }, 413, 'payload_too_large');
  });

  test('a non-JSON content type → 415', async () => {
    await expectError({ method: 'POST', url: '/api/insert/things', payload: 'n=1', headers: { 'content-type': 'text/plain' } }, 415, 'unsupported_media_type');
    await expectError({ method: 'POST', url: '/api/insert/things', payload: 'n=1', headers: { 'content-type': 'application/x-www-form-urlencoded' } }, 415, 'unsupported_media_type');
  });

  test('SQL errors → 400 with DuckDB\'s message', async () => {
    const body = await expectError({ method: 'POST', url: '/api/query', payload: { sql: 'SELEC 1' } }, 400, 'sql_error');
    assert.match(body.error, /syntax error/i);
    await expectError({ method: 'POST', url: '/api/query', payload: { sql: 'SELECT * FROM no_such_table' } }, 400, 'sql_error');
    await expectError({ method: 'POST', url: '/api/query', payload: { sql: "INSERT INTO things VALUES ('a', 1); SELECT 1" } }, 400, 'sql_error');
  });

  test('JSON nested past MAX_JSON_DEPTH → 400 json_too_deep, before any parsing', async () => {
    const deep = `${'['.repeat(5000)}${']'.repeat(5000)}`;
    await expectError({ method: 'POST', url: '/api/insert/things', payload: `{"n": 1, "x": ${deep}}`, headers: { 'content-type': 'application/json' } }, 400, 'json_too_deep');
    const ok = await server.request({ method: 'POST', url: '/api/insert/things', payload: { nested: { a: { b: { c: [1, [2, [3]]] } } } } });
    assert.equal(ok.statusCode, 201, 'ordinary nesting is fine');
    await server.request({ method: 'DELETE', url: `/api/delete/things/${ok.json().id}` });
  });

  test('prototype poisoning is refused', async () => {
    await expectError({ method: 'POST', url: '/api/insert/things', payload: '{"n": 1, "__proto__": {"isAdmin": true}}', headers: { 'content-type': 'application/json' } }, 400, 'invalid_json');
  });

  test('a duplicate id → 409 conflict', async () => {
    await expectError({ method: 'POST', url: '/api/insert/things', payload: { id: 'seed', n: 5 } }, 409, 'conflict');
  });
});
