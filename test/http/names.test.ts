/**
 * Issue 11, defect 1: a name reaches the grants as the table it really names. DuckDB binds
 * identifiers ASCII-case-insensitively (`"İNVOICES"` is the table `İnvoices`, never `invoices`),
 * while its `lower()` and JavaScript's `toLowerCase()` fold Unicode, each in its own way. Every route
 * that takes a collection or table name resolves it to the catalog's table first and checks grants
 * and field rules on that table.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { as, createKey } from '../helpers/keys.js';

const DOTTED_INVOICES = '%C4%B0nvoices'; // İnvoices: DuckDB's lower() makes it `invoices`
const DOTTED_CLIENTS = 'cl%C4%B0ents'; // clİents
const KELVIN = '\u212A'; // K (Kelvin sign): JavaScript's toLowerCase() makes it an ASCII `k`

describe('names are resolved to the real table before any grant is checked', () => {
  let server: TestServer;
  const sql = async (statement: string) => {
    const res = await server.request({ method: 'POST', url: '/api/query', payload: { sql: statement } });
    assert.equal(res.statusCode, 200, `${statement}: ${res.body}`);
  };
  before(async () => {
    server = await startTestServer();
    await sql("CREATE TABLE invoices AS SELECT 'i1' AS id, 990.0 AS amount");
    await sql("CREATE TABLE clients AS SELECT 'c1' AS id, 'Ada' AS name, '123-45-6789' AS ssn");
    await sql("CREATE TABLE keys AS SELECT 'k1' AS id, 'ascii keys' AS note");
    await sql(`CREATE TABLE "${KELVIN}eys" AS SELECT 'k2' AS id, 'kelvin keys' AS note`);
  });
  after(async () => server.stop());

  test('İnvoices is not invoices: a denied table stays denied on the tables routes', async () => {
    const { key } = await createKey(server, { collection_permissions: { '*': ['read'], invoices: [] } });
    const call = as(server, key);
    assert.equal((await call('GET', '/api/tables/invoices/data')).statusCode, 403, 'control: the plain name is denied');
    for (const route of ['data', 'schema', 'count']) {
      const res = await call('GET', `/api/tables/${DOTTED_INVOICES}/${route}`);
      assert.equal(res.statusCode, 404, `${route}: ${res.body}`);
      assert.doesNotMatch(res.body, /990|amount/);
    }
  });

  test('clİents does not lift the field rules of clients', async () => {
    const { key } = await createKey(server, { collection_permissions: { '*': ['read'], clients: { read: true, exclude_fields: ['ssn'] } } });
    const call = as(server, key);
    assert.ok(!('ssn' in (await call('GET', '/api/tables/clients/data')).json()[0]), 'control: the plain name hides ssn');
    for (const route of ['data', 'schema']) {
      const res = await call('GET', `/api/tables/${DOTTED_CLIENTS}/${route}`);
      assert.equal(res.statusCode, 404, `${route}: ${res.body}`);
      assert.doesNotMatch(res.body, /ssn|123-45/);
    }
  });

  test("the Kelvin sign's table is its own table, with its own grant", async () => {
    const { key } = await createKey(server, { collection_permissions: { keys: ['read'] } });
    const call = as(server, key);
    assert.equal((await call('GET', '/api/tables/keys/data')).json()[0].note, 'ascii keys');
    for (const route of ['data', 'schema', 'count']) {
      const res = await call('GET', `/api/tables/${encodeURIComponent(`${KELVIN}eys`)}/${route}`);
      assert.equal(res.statusCode, 403, `${route}: ${res.body}`);
    }
    const viaSql = await call('POST', '/api/query', { sql: `SELECT * FROM "${KELVIN}EYS"` });
    assert.equal(viaSql.statusCode, 403, viaSql.body);
    assert.deepEqual((await call('GET', '/api/tables')).json(), ['keys']);
  });

  test('an ASCII spelling in another case is the same table, under the same grant', async () => {
    const { key } = await createKey(server, { collection_permissions: { '*': ['read'], invoices: [], clients: { read: true, exclude_fields: ['ssn'] } } });
    const call = as(server, key);
    assert.equal((await call('GET', '/api/tables/INVOICES/data')).statusCode, 403);
    assert.equal((await call('GET', '/api/find/Invoices')).statusCode, 403);
    const rows = (await call('GET', '/api/tables/CLIENTS/data')).json();
    assert.equal(rows[0].name, 'Ada');
    assert.ok(!('ssn' in rows[0]));
    assert.ok(!('ssn' in (await call('GET', '/api/find/Clients/c1')).json()));
  });

  test('record and collection routes only serve identifiers: anything else is 400 invalid_name, on every route', async () => {
    const { key } = await createKey(server, { collection_permissions: { '*': ['read', 'write', 'delete'], invoices: [], clients: { read: true, write: true, exclude_fields: ['ssn'] } } });
    const call = as(server, key);
    const names = [DOTTED_INVOICES, DOTTED_CLIENTS, '%C4%B1nvoices' /* ınvoices */, encodeURIComponent(`${KELVIN}eys`), '%C5%BFecret' /* ſecret */];
    for (const name of names) {
      const requests: [Parameters<typeof call>[0], string, unknown?][] = [
        ['GET', `/api/find/${name}`],
        ['POST', `/api/find/${name}`, {}],
        ['GET', `/api/find/${name}/i1`],
        ['POST', `/api/insert/${name}`, { amount: 1 }],
        ['PUT', `/api/update/${name}/i1`, { amount: 1 }],
        ['DELETE', `/api/delete/${name}/i1`],
        ['POST', `/api/batch/insert/${name}`, { inserts: [{ data: { amount: 1 } }] }],
        ['PUT', `/api/batch/update/${name}`, { updates: [{ id: 'i1', data: { amount: 1 } }] }],
        ['DELETE', `/api/batch/delete/${name}`, { deletes: [{ id: 'i1' }] }],
        ['POST', `/v1/sync/${name}`, [{ externalId: 'x', amount: 1 }]],
        ['POST', '/v1/sync', { [decodeURIComponent(name)]: [{ externalId: 'x', amount: 1 }] }],
      ];
      for (const [method, url, body] of requests) {
        const res = await call(method, url, body);
        assert.equal(res.statusCode, 400, `${method} ${url}: ${res.body}`);
        assert.equal(res.json().code, 'invalid_name', `${method} ${url}`);
      }
    }
    assert.equal((await server.request({ method: 'GET', url: '/api/find/invoices/i1' })).json().amount, 990, 'nothing was written');
  });

  test('SQL binds names as DuckDB does, and is checked on the table it binds to', async () => {
    const { key } = await createKey(server, { collection_permissions: { '*': ['read'], invoices: [], clients: { read: true, exclude_fields: ['ssn'] } } });
    const call = as(server, key);
    assert.equal((await call('POST', '/api/query', { sql: 'SELECT * FROM "INVOICES"' })).statusCode, 403);
    const dotted = await call('POST', '/api/query', { sql: 'SELECT * FROM "İnvoices"' });
    assert.equal(dotted.statusCode, 400, 'no such table');
    assert.doesNotMatch(dotted.body, /990/);
    const clients = await call('POST', '/api/query', { sql: 'SELECT * FROM "CLIENTS"' });
    assert.deepEqual(clients.json().columns, ['id', 'name']);
  });
});
