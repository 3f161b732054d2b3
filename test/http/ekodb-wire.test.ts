/**
 * ekoDB's official TypeScript client, on the wire, against a real listening duckgate (issue 12
 * items 2 and 3). The package is not on this machine's npm mirror, so `ekoRequest` below redoes what
 * its `makeRequest` does (ekoDB/ekodb-client, `ekodb-client-ts/src/client.ts`): a token from
 * `POST /api/auth/token`, then `Content-Type` and `Accept` both `application/msgpack` on paths
 * starting `/api/insert/`, `/api/update/`, `/api/delete/` (its `shouldUseJSON`) and JSON elsewhere;
 * a body only when there is data (`if (data) options.body = ...`), so `delete()` is a `DELETE` with
 * a Content-Type and no body; any 2xx answer decoded as msgpack in msgpack mode. The calls are its
 * methods' own: `countDocuments()` = `find(c, new QueryBuilder().limit(100000).build())`,
 * `health()` = `GET /api/health` true only for `status === "ok"`, `deleteCollection()` = JSON
 * `DELETE /api/collections/:c` without a body, and the filter shapes of its `query-builder.ts`.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Packr } from 'msgpackr';
import { decodeMsgpack } from '../../src/http/plugins/msgpack.js';
import { dataBackends } from '../helpers/data-backends.js';
import { ADMIN_KEY, startTestServer, type TestServer } from '../helpers/server.js';
import { createKey } from '../helpers/keys.js';

const packr = new Packr({ useRecords: false });

type Format = 'MessagePack' | 'Json';

/** ekoDB's `makeRequest`, minus retries: returns the decoded answer or throws its error text. */
async function ekoRequest(baseURL: string, token: string, format: Format, method: string, path: string, data?: unknown): Promise<unknown> {
  const msgpackPaths = ['/api/insert/', '/api/batch_insert/', '/api/update/', '/api/batch_update/', '/api/delete/', '/api/batch_delete/'];
  const isMessagePack = format === 'MessagePack' && msgpackPaths.some((prefix) => path.startsWith(prefix));
  const contentType = isMessagePack ? 'application/msgpack' : 'application/json';
  const init: RequestInit = { method, headers: { Authorization: `Bearer ${token}`, 'Content-Type': contentType, Accept: contentType } };
  if (data) init.body = isMessagePack ? new Uint8Array(packr.pack(data)) : JSON.stringify(data);
  const response = await fetch(`${baseURL}${path}`, init);
  if (response.ok) return isMessagePack ? decodeMsgpack(new Uint8Array(await response.arrayBuffer())) : response.json();
  throw new Error(`Request failed with status ${response.status}: ${await response.text()}`);
}

/** ekoDB's `refreshToken()`. */
async function ekoToken(baseURL: string, apiKey: string): Promise<string> {
  const response = await fetch(`${baseURL}/api/auth/token`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ api_key: apiKey }) });
  assert.equal(response.status, 200);
  return ((await response.json()) as { token: string }).token;
}

const condition = (field: string, operator: string, value: unknown) => ({ type: 'Condition', content: { field, operator, value } });

for (const backend of dataBackends()) {
  describe(`ekoDB's client on the wire (${backend.name})`, { skip: backend.skip }, () => {
    let server: TestServer;
    let token: string;
    before(async () => {
      server = await startTestServer({ MAX_RESULT_ROWS: '50', MAX_IN_VALUES: '20', MAX_FILTER_TERMS: '8', ...(await backend.env()) });
      token = await ekoToken(server.url, ADMIN_KEY);
    });
    after(async () => {
      await server.stop();
      await backend.cleanup();
    });

    for (const format of ['MessagePack', 'Json'] as const) {
      test(`${format}: insert, update, findById, delete, exists`, async () => {
        const eko = (method: string, path: string, data?: unknown) => ekoRequest(server.url, token, format, method, path, data);
        const c = `eko_${format.toLowerCase()}`;
        const record = (await eko('POST', `/api/insert/${c}`, { name: 'Ada', age: 36 })) as { id: string; name: string };
        assert.equal(record.name, 'Ada');
        const updated = (await eko('PUT', `/api/update/${c}/${record.id}`, { age: 37 })) as { age: number };
        assert.equal(updated.age, 37);
        assert.deepEqual(await eko('GET', `/api/find/${c}/${record.id}`), { id: record.id, name: 'Ada', age: 37 });
        // delete(): DELETE, Content-Type set, no body.
        await eko('DELETE', `/api/delete/${c}/${record.id}`);
        await assert.rejects(eko('GET', `/api/find/${c}/${record.id}`), /status 404/);
        // deleteCollection(): always JSON, DELETE without a body.
        await eko('POST', `/api/insert/${c}`, { name: 'Bob' });
        assert.deepEqual(await eko('DELETE', `/api/collections/${c}`), { status: 'success', message: `Collection '${c}' dropped` });
      });
    }

    test('insert with the ignored flags (query string and body) stores none of them', async () => {
      const eko = (method: string, path: string, data?: unknown) => ekoRequest(server.url, token, 'MessagePack', method, path, data);
      const record = (await eko('POST', '/api/insert/eko_flags?bypass_ripple=true', { name: 'Ada', bypass_cache: true, bypass_ripple: false })) as Record<string, unknown>;
      assert.deepEqual(Object.keys(record).sort(), ['id', 'name']);
      const updated = (await eko('PUT', `/api/update/eko_flags/${String(record.id)}?bypass_ripple=true`, { name: 'Ada L.', bypass_cache: true })) as Record<string, unknown>;
      assert.deepEqual(Object.keys(updated).sort(), ['id', 'name']);
    });

    test('insert with ttl is refused with 400 unsupported_option and nothing is stored', async () => {
      const eko = (method: string, path: string, data?: unknown) => ekoRequest(server.url, token, 'Json', method, path, data);
      await eko('POST', '/api/insert/eko_ttl', { name: 'keep' });
      await assert.rejects(eko('POST', '/api/insert/eko_ttl', { name: 'Ada', ttl: '1h' }), /status 400: .*unsupported_option/);
      const rows = (await eko('POST', '/api/find/eko_ttl', {})) as { name: string }[];
      assert.deepEqual(rows.map((r) => r.name), ['keep']);
      const columns = (await eko('GET', '/api/tables/eko_ttl/schema')) as { columns: { column_name: string }[] };
      assert.ok(!columns.columns.some((col) => col.column_name === 'ttl'));
      // In msgpack too, with the error in msgpack.
      const res = await fetch(`${server.url}/api/insert/eko_ttl`, { method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/msgpack', Accept: 'application/msgpack' }, body: new Uint8Array(packr.pack({ name: "x", ttl: 60 })) });
      assert.equal(res.status, 400);
      assert.equal((decodeMsgpack(new Uint8Array(await res.arrayBuffer())) as { code: string }).code, 'unsupported_option');
    });

    test('transaction_id is refused, not ignored', async () => {
      await assert.rejects(ekoRequest(server.url, token, 'Json', 'POST', '/api/insert/eko_tx?transaction_id=t1', { a: 1 }), /status 400: .*unsupported_option/);
    });

    test('countDocuments(): limit 100000 is clamped to the row budget and says so', async () => {
      const batch = Array.from({ length: 60 }, (_, i) => ({ data: { n: i } }));
      await ekoRequest(server.url, token, 'Json', 'POST', '/api/batch/insert/eko_count', { inserts: batch });
      const response = await fetch(`${server.url}/api/find/eko_count`, {
        method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', Accept: 'application/json' }, body: JSON.stringify({ limit: 100000 }),
      });
      assert.equal(response.status, 200);
      assert.equal(response.headers.get('duckgate-truncated'), 'rows');
      assert.equal(((await response.json()) as unknown[]).length, 50);
      const small = (await ekoRequest(server.url, token, 'Json', 'POST', '/api/find/eko_count', { limit: 100000, filter: condition('n', 'Lt', 10) })) as unknown[];
      assert.equal(small.length, 10);
    });

    test('health(): GET /api/health answers status "ok" (and /health keeps "healthy")', async () => {
      const health = (await ekoRequest(server.url, token, 'Json', 'GET', '/api/health')) as { status: string };
      assert.equal(health.status, 'ok');
      const duckling = await server.request({ method: 'GET', url: '/health' });
      assert.equal(duckling.json().status, 'healthy');
      // Scoped as /health: a key sees only its databases.
      await server.request({ method: 'POST', url: '/api/databases', payload: { name: 'eko_other' } });
      const { key } = await createKey(server, { collection_permissions: { eko_flags: ['read'] } });
      const scoped = await server.request({ method: 'GET', url: '/api/health', key });
      assert.equal(scoped.statusCode, 200);
      assert.deepEqual(Object.keys(scoped.json().databases), ['default']);
      const all = await server.request({ method: 'GET', url: '/api/health' });
      assert.ok(Object.keys(all.json().databases).includes('eko_other'));
      assert.equal((await server.request({ method: 'GET', url: '/api/health', key: null })).statusCode, 401);
    });

    test("QueryBuilder's filters: nin, contains, startsWith, endsWith, not, with bypassCache/bypassRipple", async () => {
      const eko = (method: string, path: string, data?: unknown) => ekoRequest(server.url, token, 'Json', method, path, data);
      const rows = [
        { id: 'p1', name: 'Ada Lovelace', city: 'London', pct: '50%' },
        { id: 'p2', name: 'Alan Turing', city: 'Wilmslow', pct: '50 percent' },
        { id: 'p3', name: 'Grace Hopper', city: 'New York', pct: '5_0' },
        { id: 'p4', name: 'Edsger Dijkstra' },
      ];
      await eko('POST', '/api/batch/insert/eko_people', { inserts: rows.map((data) => ({ data })) });
      const ids = async (filter: unknown) => ((await eko('POST', '/api/find/eko_people', { filter, bypass_cache: true, bypass_ripple: true })) as { id: string }[]).map((r) => r.id);
      assert.deepEqual(await ids(condition('city', 'NotIn', ['London', 'Wilmslow'])), ['p3', 'p4']);
      assert.deepEqual(await ids(condition('name', 'Contains', 'ing')), ['p2']);
      assert.deepEqual(await ids(condition('name', 'StartsWith', 'Gr')), ['p3']);
      assert.deepEqual(await ids(condition('name', 'EndsWith', 'stra')), ['p4']);
      assert.deepEqual(await ids({ type: 'Logical', content: { operator: 'Not', expressions: [condition('city', 'Eq', 'London')] } }), ['p2', 'p3', 'p4']);
      // `%` and `_` in the caller's text match themselves only.
      assert.deepEqual(await ids(condition('pct', 'Contains', '0%')), ['p1']);
      assert.deepEqual(await ids(condition('pct', 'Contains', '%')), ['p1']);
      assert.deepEqual(await ids(condition('pct', 'Contains', '_')), ['p3']);
      assert.deepEqual(await ids(condition('pct', 'StartsWith', '5_')), ['p3']);
      assert.deepEqual(await ids(condition('pct', 'EndsWith', '\\')), []);
      // QueryBuilder.build() with several filters: an And of them.
      assert.deepEqual(await ids({ type: 'Logical', content: { operator: 'And', expressions: [condition('name', 'Contains', 'a'), condition('city', 'NotIn', ['London'])] } }), ['p2', 'p3', 'p4']);
    });

    test('the new operators keep the field rules and the filter budgets', async () => {
      await ekoRequest(server.url, token, 'Json', 'POST', '/api/insert/eko_secret', { id: 's1', name: 'Ada', secret: 'abc' });
      const { key } = await createKey(server, { collection_permissions: { eko_secret: { read: true, write: false, delete: false, exclude_fields: ['secret'] } } });
      const find = (filter: unknown, as = key) => server.request({ method: 'POST', url: '/api/find/eko_secret', key: as, payload: { filter } });
      for (const filter of [
        condition('secret', 'StartsWith', 'a'),
        condition('secret', 'Contains', 'b'),
        condition('secret', 'EndsWith', 'c'),
        condition('secret', 'NotIn', ['x']),
        { type: 'Logical', content: { operator: 'Not', expressions: [condition('secret', 'Eq', 'abc')] } },
      ]) {
        const res = await find(filter);
        assert.equal(res.statusCode, 403, `${JSON.stringify(filter)}: ${res.body}`);
      }
      assert.equal((await find(condition('name', 'StartsWith', 'A'))).json().length, 1);
      // MAX_IN_VALUES (here 20) bounds NotIn as it bounds In.
      const many = Array.from({ length: 21 }, (_, i) => `v${i}`);
      const tooMany = await find(condition('name', 'NotIn', many), ADMIN_KEY);
      assert.equal(tooMany.statusCode, 400);
      assert.equal(tooMany.json().code, 'filter_too_large');
      // MAX_FILTER_TERMS (here 8): Not counts as a term.
      let nested: unknown = condition('name', 'Eq', 'Ada');
      for (let i = 0; i < 8; i++) nested = { type: 'Logical', content: { operator: 'Not', expressions: [nested] } };
      const deep = await find(nested, ADMIN_KEY);
      assert.equal(deep.statusCode, 400);
      assert.equal(deep.json().code, 'filter_too_large');
      // Malformed uses of the new operators: clear 400s.
      for (const filter of [
        condition('name', 'Contains', 5),
        condition('name', 'NotIn', 'Ada'),
        { type: 'Logical', content: { operator: 'Not', expressions: [] } },
        condition('name', 'Regex', '^A'),
      ]) {
        const res = await find(filter, ADMIN_KEY);
        assert.equal(res.statusCode, 400, `${JSON.stringify(filter)}: ${res.body}`);
      }
      const join = await server.request({ method: 'POST', url: '/api/find/eko_secret', payload: { join: { collections: ['x'] } } });
      assert.equal(join.statusCode, 400);
    });
  });
}
