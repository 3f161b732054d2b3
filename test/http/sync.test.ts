import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { dataBackends } from '../helpers/data-backends.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

for (const backend of dataBackends()) {
  describe(`sync (seed 002) (${backend.name})`, { skip: backend.skip }, () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer(await backend.env());
    });
    after(async () => {
      await server.stop();
      await backend.cleanup();
    });
    const sync = (payload: unknown, url = '/v1/sync') => server.request({ method: 'POST', url, payload: payload as object });
    const count = async (table: string) => (await server.request({ method: 'GET', url: `/api/tables/${table}/count` })).json().count;

    test('creates, then updates, then leaves unchanged (idempotent)', async () => {
      const batch = { categories: [{ externalId: 'cat-mains', name: 'Mains' }, { externalId: 'cat-drinks', name: 'Drinks' }] };
      const first = await sync(batch);
      assert.equal(first.statusCode, 200, first.body);
      assert.deepEqual(first.json(), { categories: { created: 2, updated: 0, unchanged: 0 } });
      assert.deepEqual((await sync(batch)).json(), { categories: { created: 0, updated: 0, unchanged: 2 } });
      const changed = { categories: [{ externalId: 'cat-mains', name: 'Main courses' }, { externalId: 'cat-drinks', name: 'Drinks' }] };
      assert.deepEqual((await sync(changed)).json(), { categories: { created: 0, updated: 1, unchanged: 1 } });
      assert.equal(await count('categories'), 2);
    });

    test('POST /v1/sync/:collection takes a bare array', async () => {
      const res = await sync([{ externalId: 'p1', price: 9.5 }], '/v1/sync/products');
      assert.deepEqual(res.json(), { products: { created: 1, updated: 0, unchanged: 0 } });
    });

    test('one bad record rejects the whole batch, naming it, and nothing is written', async () => {
      const before = await count('categories');
      const res = await sync({
        categories: [{ externalId: 'cat-new', name: 'New' }],
        menu: [{ externalId: 'm1', name: 'Soup' }, { name: 'no external id' }],
      });
      assert.equal(res.statusCode, 400);
      assert.equal(res.json().code, 'invalid_record');
      assert.match(res.json().error, /menu\[1\]/);
      assert.equal(await count('categories'), before);
      assert.equal((await server.request({ method: 'GET', url: '/api/find/menu' })).statusCode, 404);
    });

    test('a type clash inside a batch rejects it', async () => {
      const res = await sync({ categories: [{ externalId: 'cat-x', name: 42 }] });
      assert.equal(res.statusCode, 400, res.body);
      assert.equal(res.json().code, 'invalid_record');
    });
  });
}
