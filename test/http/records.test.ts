import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { dataBackends } from '../helpers/data-backends.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

for (const backend of dataBackends()) {
  describe(`records (ekoDB shapes) (${backend.name})`, { skip: backend.skip }, () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer(await backend.env());
    });
    after(async () => {
      await server.stop();
      await backend.cleanup();
    });
    const call = (method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, payload?: unknown) =>
      server.request({ method, url, ...(payload === undefined ? {} : { payload: payload as object }) });

    test('insert returns the stored record with a generated id', async () => {
      const res = await call('POST', '/api/insert/users', { name: 'Ada', age: 36, admin: true, tags: ['x'], address: { city: 'London' } });
      assert.equal(res.statusCode, 201);
      const body = res.json();
      assert.equal(typeof body.id, 'string');
      assert.deepEqual({ ...body, id: undefined }, { id: undefined, name: 'Ada', age: 36, admin: true, tags: ['x'], address: { city: 'London' } });
      const again = await call('GET', `/api/find/users/${body.id}`);
      assert.deepEqual(again.json(), body);
    });

    test('a collection is a real table: SQL can join it', async () => {
      await call('POST', '/api/insert/orders', { id: 'o1', owner: 'u1', total: 10 });
      await call('POST', '/api/insert/people', { id: 'u1', name: 'Grace' });
      const res = await call('POST', '/api/query', { sql: 'SELECT p.name, o.total FROM orders o JOIN people p ON p.id = o.owner' });
      assert.equal(res.statusCode, 200, res.body);
      assert.deepEqual(res.json().result, [{ name: 'Grace', total: 10 }]);
    });

    test('new fields add columns', async () => {
      const first = (await call('POST', '/api/insert/evolve', { a: 1 })).json();
      const second = (await call('POST', '/api/insert/evolve', { a: 2, b: 'new' })).json();
      assert.equal(second.b, 'new');
      const schema = (await call('GET', '/api/tables/evolve/schema')).json();
      assert.deepEqual(schema.columns.map((c: { column_name: string }) => c.column_name).sort(), ['a', 'b', 'id']);
      assert.equal((await call('GET', `/api/find/evolve/${first.id}`)).json().a, 1);
    });

    test('find with ekoDB filter, sort, limit, skip, select and exclude', async () => {
      for (const [name, age, city] of [['a', 20, 'x'], ['b', 30, 'y'], ['c', 40, 'x'], ['d', 50, 'y']] as const) {
        await call('POST', '/api/insert/people2', { name, age, city });
      }
      const filter = {
        type: 'Logical',
        content: {
          operator: 'And',
          expressions: [
            { type: 'Condition', content: { field: 'age', operator: 'Gte', value: 30 } },
            { type: 'Logical', content: { operator: 'Or', expressions: [
              { type: 'Condition', content: { field: 'city', operator: 'Eq', value: 'y' } },
              { type: 'Condition', content: { field: 'name', operator: 'In', value: ['c'] } },
            ] } },
          ],
        },
      };
      const res = await call('POST', '/api/find/people2', { filter, sort: [{ field: 'age', ascending: false }], select_fields: ['name'] });
      assert.equal(res.statusCode, 200, res.body);
      assert.deepEqual(res.json().map((r: { name: string }) => r.name), ['d', 'c', 'b']);
      assert.deepEqual(Object.keys(res.json()[0]).sort(), ['id', 'name']);
      const paged = await call('POST', '/api/find/people2', { sort: [{ field: 'age' }], limit: 2, skip: 1, exclude_fields: ['city'] });
      assert.deepEqual(paged.json().map((r: { name: string }) => r.name), ['b', 'c']);
      assert.equal(paged.json()[0].city, undefined);
      const listed = await call('GET', '/api/find/people2?limit=3&skip=0');
      assert.equal(listed.json().length, 3);
    });

    test('update is partial and answers the full record', async () => {
      const { id } = (await call('POST', '/api/insert/items', { name: 'pen', price: 2 })).json();
      const res = await call('PUT', `/api/update/items/${id}`, { price: 3, color: 'blue' });
      assert.equal(res.statusCode, 200, res.body);
      assert.deepEqual(res.json(), { id, name: 'pen', price: 3, color: 'blue' });
    });

    test('delete removes the record; a second delete is 404', async () => {
      const { id } = (await call('POST', '/api/insert/items', { name: 'cup' })).json();
      assert.equal((await call('DELETE', `/api/delete/items/${id}`)).statusCode, 200);
      assert.equal((await call('GET', `/api/find/items/${id}`)).statusCode, 404);
      assert.equal((await call('DELETE', `/api/delete/items/${id}`)).statusCode, 404);
    });

    test('batch routes report each item on its own', async () => {
      const inserted = await call('POST', '/api/batch/insert/batch', { inserts: [{ data: { id: 'b1', n: 1 } }, { data: { id: 'b1', n: 2 } }, { data: { id: 'b2', n: 'text' } }, { data: { id: 'b3', n: 3 } }] });
      assert.equal(inserted.statusCode, 200, inserted.body);
      assert.deepEqual(inserted.json().successful, ['b1', 'b3']);
      assert.equal(inserted.json().failed.length, 2);
      const updated = await call('PUT', '/api/batch/update/batch', { updates: [{ id: 'b1', data: { n: 10 } }, { id: 'missing', data: { n: 1 } }] });
      assert.deepEqual(updated.json().successful, ['b1']);
      assert.equal(updated.json().failed[0].id, 'missing');
      const deleted = await call('DELETE', '/api/batch/delete/batch', { deletes: [{ id: 'b3' }, { id: 'nope' }] });
      assert.deepEqual(deleted.json().successful, ['b3']);
      assert.equal(deleted.json().failed.length, 1);
      assert.deepEqual((await call('GET', '/api/find/batch')).json(), [{ id: 'b1', n: 10 }]);
    });

    test('collections are listed and an admin can drop one', async () => {
      await call('POST', '/api/insert/doomed', { x: 1 });
      assert.ok((await call('GET', '/api/collections')).json().collections.includes('doomed'));
      assert.equal((await call('DELETE', '/api/collections/doomed')).statusCode, 200);
      assert.ok(!(await call('GET', '/api/collections')).json().collections.includes('doomed'));
      assert.equal((await call('GET', '/api/find/doomed')).statusCode, 404);
    });

    test('tables routes answer in Duckling shapes', async () => {
      await call('POST', '/api/insert/t1', { id: 'r1', v: 1 });
      await call('POST', '/api/insert/t1', { id: 'r2', v: 2 });
      assert.ok((await call('GET', '/api/tables')).json().includes('t1'));
      assert.equal((await call('GET', '/api/tables/counts/all')).json().t1, 2);
      assert.deepEqual((await call('GET', '/api/tables/t1/count')).json(), { count: 2 });
      const data = (await call('GET', '/api/tables/t1/data?limit=1&offset=1')).json();
      assert.equal(data.length, 1);
      const schema = (await call('GET', '/api/tables/t1/schema')).json();
      const id = schema.columns.find((c: { column_name: string }) => c.column_name === 'id');
      assert.deepEqual(Object.keys(id).sort(), ['column_name', 'column_type', 'default_value', 'key', 'null']);
      assert.equal(id.key, 'PRI');
    });
  });
}
