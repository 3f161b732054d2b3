import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import type { Json } from '../../src/data/engine.js';
import { apiError, engineSuites } from './helpers.js';

engineSuites(({ withDb, engine }) => {

  const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

  describe('insert', () => {
    test('first insert creates the collection and returns the stored record with a generated id', () =>
      withDb(async (db) => {
        const stored = await db.insert('users', { name: 'Ada', age: 36, admin: true, tags: ['x'], address: { city: 'London' } });
        assert.match(String(stored.id), UUID);
        assert.deepEqual(stored, { id: stored.id, name: 'Ada', age: 36, admin: true, tags: ['x'], address: { city: 'London' } });
        assert.deepEqual(await db.listCollections(), ['users']);
        assert.deepEqual(await db.findById('users', String(stored.id)), stored);
      }));

    test('JSON types map to DuckDB columns: boolean, DOUBLE, VARCHAR, JSON', () =>
      withDb(async (db) => {
        await db.insert('t', { b: true, n: 1.5, s: 'x', o: { a: 1 }, l: [1, 2], z: null });
        const types = Object.fromEntries((await db.schema('t')).map((c) => [c.column_name, c.column_type]));
        assert.deepEqual(types, { id: 'VARCHAR', b: 'BOOLEAN', n: 'DOUBLE', s: 'VARCHAR', o: 'JSON', l: 'JSON', z: 'JSON' });
      }));

    test('a field first seen as null becomes JSON and accepts any later value', () =>
      withDb(async (db) => {
        await db.insert('t', { id: 'a', maybe: null });
        const b = await db.insert('t', { id: 'b', maybe: 42 });
        const c = await db.insert('t', { id: 'c', maybe: 'text' });
        assert.equal(b.maybe, 42);
        assert.equal(c.maybe, 'text');
      }));

    test('null fields are omitted so a record reads back as it was written', () =>
      withDb(async (db) => {
        await db.insert('t', { id: 'a', name: 'x', extra: 1 });
        const stored = await db.insert('t', { id: 'b', name: 'y' });
        assert.deepEqual(stored, { id: 'b', name: 'y' });
        assert.deepEqual(await db.findById('t', 'b'), { id: 'b', name: 'y' });
      }));

    test('numbers come back as JSON numbers, integers included', () =>
      withDb(async (db) => {
        const stored = await db.insert('t', { whole: 3, frac: 0.25, neg: -7 });
        assert.equal(stored.whole, 3);
        assert.equal(stored.frac, 0.25);
        assert.equal(stored.neg, -7);
      }));

    test('a given string or integer id is stored as a string', () =>
      withDb(async (db) => {
        assert.equal((await db.insert('t', { id: 'abc' })).id, 'abc');
        assert.equal((await db.insert('t', { id: 42 })).id, '42');
        assert.equal((await db.findById('t', '42')).id, '42');
      }));

    test('an id of another type is a 400', () =>
      withDb(async (db) => {
        for (const id of [1.5, true, { a: 1 }, [1], '']) {
          await assert.rejects(db.insert('t', { id }), apiError(400, 'invalid_record'));
        }
      }));

    test('a duplicate id is a 409 conflict and the first record is untouched', () =>
      withDb(async (db) => {
        await db.insert('t', { id: 'a', v: 1 });
        await assert.rejects(db.insert('t', { id: 'a', v: 2 }), apiError(409, 'conflict'));
        assert.equal((await db.findById('t', 'a')).v, 1);
      }));

    test('a duplicate id carrying a new field adds no column (DDL rolls back with the insert)', () =>
      withDb(async (db) => {
        await db.insert('t', { id: 'a', v: 1 });
        await assert.rejects(db.insert('t', { id: 'a', brand_new: 'x' }), apiError(409, 'conflict'));
        assert.deepEqual((await db.schema('t')).map((c) => c.column_name), ['id', 'v']);
        // The cached schema must not believe in the rolled-back column either.
        await db.insert('t', { id: 'b', brand_new: 5 });
        assert.equal((await db.findById('t', 'b')).brand_new, 5);
      }));

    test('new fields in a later record add columns', () =>
      withDb(async (db) => {
        await db.insert('t', { id: 'a', name: 'x' });
        await db.insert('t', { id: 'b', name: 'y', age: 3, meta: { k: 1 } });
        assert.deepEqual((await db.schema('t')).map((c) => c.column_name), ['id', 'name', 'age', 'meta']);
        assert.deepEqual(await db.findById('t', 'b'), { id: 'b', name: 'y', age: 3, meta: { k: 1 } });
        assert.deepEqual(await db.findById('t', 'a'), { id: 'a', name: 'x' });
      }));

    test('a value that does not fit its column is a 400 naming the field, and nothing is written', () =>
      withDb(async (db) => {
        await db.insert('t', { id: 'a', age: 1, flag: true, name: 'x' });
        await assert.rejects(db.insert('t', { id: 'b', age: 'old' }), apiError(400, 'invalid_record', "Field 'age' expects number"));
        await assert.rejects(db.insert('t', { id: 'c', flag: { a: 1 } }), apiError(400, 'invalid_record', "Field 'flag' expects boolean"));
        await assert.rejects(db.insert('t', { id: 'd', name: 5, newcol: 1 }), apiError(400, 'invalid_record', "Field 'name' expects string"));
        assert.equal(await db.count('t'), 1);
        assert.deepEqual((await db.schema('t')).map((c) => c.column_name), ['id', 'age', 'flag', 'name']);
      }));

    test('a JSON column accepts any JSON value', () =>
      withDb(async (db) => {
        await db.insert('t', { id: 'a', data: { x: 1 } });
        for (const [id, data] of [['b', [1, 'two']], ['c', 'plain'], ['d', 7], ['e', false]] as [string, Json][]) {
          const stored = await db.insert('t', { id, data });
          assert.deepEqual(stored.data, data);
        }
      }));

    test('field names match existing columns case-insensitively', () =>
      withDb(async (db) => {
        await db.insert('t', { id: 'a', Name: 'x' });
        const stored = await db.insert('t', { id: 'b', NAME: 'y' });
        assert.deepEqual(stored, { id: 'b', Name: 'y' });
        assert.deepEqual((await db.schema('t')).map((c) => c.column_name), ['id', 'Name']);
      }));

    test('invalid collection and field names are a 400 invalid_name naming the bad name', () =>
      withDb(async (db) => {
        await assert.rejects(db.insert('bad name', { a: 1 }), apiError(400, 'invalid_name', /'bad name'/));
        await assert.rejects(db.insert('t"; DROP TABLE x; --', { a: 1 }), apiError(400, 'invalid_name'));
        await assert.rejects(db.insert('t', { 'bad-field': 1 }), apiError(400, 'invalid_name', /'bad-field'/));
        await assert.rejects(db.insert('t', { '1st': 1 }), apiError(400, 'invalid_name'));
        assert.deepEqual(await db.listCollections(), []);
      }));

    test('SQL keywords work as collection and field names', () =>
      withDb(async (db) => {
        const stored = await db.insert('select', { order: 1, from: 'x', group: true });
        assert.deepEqual(await db.findById('select', String(stored.id)), stored);
      }));
  });

  describe('findById, update, delete', () => {
    test('findById of a missing record is a 404 naming record and collection', () =>
      withDb(async (db) => {
        await db.insert('t', { id: 'a' });
        await assert.rejects(db.findById('t', 'zz'), apiError(404, 'not_found', "Record 'zz' not found in collection 't'"));
      }));

    test('an unknown collection is a 404 for every read and write but insert', () =>
      withDb(async (db) => {
        const notFound = apiError(404, 'not_found', "Collection 'c' not found");
        await assert.rejects(db.findById('c', 'a'), notFound);
        await assert.rejects(db.find('c', {}), notFound);
        await assert.rejects(db.update('c', 'a', { x: 1 }), notFound);
        await assert.rejects(db.delete('c', 'a'), notFound);
        await assert.rejects(db.dropCollection('c'), notFound);
        assert.equal(await db.hasCollection('c'), false);
      }));

    test('findById honours select_fields (id always kept) and exclude_fields', () =>
      withDb(async (db) => {
        await db.insert('t', { id: 'a', x: 1, y: 2, z: 3 });
        assert.deepEqual(await db.findById('t', 'a', { select_fields: ['x'] }), { id: 'a', x: 1 });
        assert.deepEqual(await db.findById('t', 'a', { exclude_fields: ['y', 'id'] }), { id: 'a', x: 1, z: 3 });
      }));

    test('update is partial, returns the full record and adds columns for new fields', () =>
      withDb(async (db) => {
        await db.insert('t', { id: 'a', name: 'x', age: 1 });
        const updated = await db.update('t', 'a', { age: 2, nick: 'xx' });
        assert.deepEqual(updated, { id: 'a', name: 'x', age: 2, nick: 'xx' });
        assert.deepEqual(await db.findById('t', 'a'), updated);
      }));

    test('update can clear a field with null', () =>
      withDb(async (db) => {
        await db.insert('t', { id: 'a', name: 'x', age: 1 });
        assert.deepEqual(await db.update('t', 'a', { age: null }), { id: 'a', name: 'x' });
      }));

    test('update with a mismatched id is a 400; the same id is accepted', () =>
      withDb(async (db) => {
        await db.insert('t', { id: 'a', v: 1 });
        await assert.rejects(db.update('t', 'a', { id: 'b' }), apiError(400, 'invalid_record'));
        assert.deepEqual(await db.update('t', 'a', { id: 'a', v: 2 }), { id: 'a', v: 2 });
      }));

    test('update type mismatch is a 400 and changes nothing', () =>
      withDb(async (db) => {
        await db.insert('t', { id: 'a', v: 1 });
        await assert.rejects(db.update('t', 'a', { v: 'x', other: 1 }), apiError(400, 'invalid_record', "Field 'v' expects number"));
        assert.deepEqual((await db.schema('t')).map((c) => c.column_name), ['id', 'v']);
      }));

    test('update of a missing record is a 404, and a new field it carried is not added', () =>
      withDb(async (db) => {
        await db.insert('t', { id: 'a' });
        await assert.rejects(db.update('t', 'zz', { v: 1 }), apiError(404, 'not_found', "Record 'zz' not found in collection 't'"));
        assert.deepEqual((await db.schema('t')).map((c) => c.column_name), ['id']);
      }));

    test('delete removes the record; deleting again is a 404', () =>
      withDb(async (db) => {
        await db.insert('t', { id: 'a' });
        await db.delete('t', 'a');
        await assert.rejects(db.findById('t', 'a'), apiError(404, 'not_found'));
        await assert.rejects(db.delete('t', 'a'), apiError(404, 'not_found'));
      }));

    test('dropCollection removes the table and later inserts recreate it fresh', () =>
      withDb(async (db) => {
        await db.insert('t', { id: 'a', v: 1 });
        await db.dropCollection('t');
        assert.deepEqual(await db.listCollections(), []);
        const stored = await db.insert('t', { id: 'a', v: 'now a string' });
        assert.equal(stored.v, 'now a string');
      }));
  });

  describe('batches', () => {
    test('batchInsert reports each item: one failure does not stop the others', () =>
      withDb(async (db) => {
        await db.insert('t', { id: 'taken', v: 1 });
        const result = await db.batchInsert('t', [{ id: 'a', v: 1 }, { id: 'taken', v: 2 }, { id: 'b', v: 'bad' }, { v: 3 }]);
        assert.equal(result.successful.length, 2);
        assert.equal(result.successful[0], 'a');
        assert.deepEqual(result.failed.map((f) => f.id), ['taken', 'b']);
        assert.match(result.failed[0]!.error, /already exists/);
        assert.equal(result.failed[1]!.error, "Field 'v' expects number");
        assert.equal(await db.count('t'), 3);
      }));

    test('batchUpdate and batchDelete report missing ids as failures', () =>
      withDb(async (db) => {
        await db.insert('t', { id: 'a', v: 1 });
        await db.insert('t', { id: 'b', v: 1 });
        const updated = await db.batchUpdate('t', [{ id: 'a', data: { v: 2 } }, { id: 'zz', data: { v: 2 } }]);
        assert.deepEqual(updated.successful, ['a']);
        assert.deepEqual(updated.failed, [{ id: 'zz', error: "Record 'zz' not found in collection 't'" }]);
        const deleted = await db.batchDelete('t', ['a', 'zz', 'b']);
        assert.deepEqual(deleted.successful, ['a', 'b']);
        assert.deepEqual(deleted.failed.map((f) => f.id), ['zz']);
        assert.equal(await db.count('t'), 0);
      }));
  });

  describe('concurrency', () => {
    test('concurrent inserts that each add different columns all land', () =>
      withDb(async (db) => {
        await Promise.all(Array.from({ length: 20 }, (_, i) => db.insert('t', { id: `r${i}`, [`f${i % 5}`]: i })));
        assert.equal(await db.count('t'), 20);
        assert.equal((await db.schema('t')).length, 6);
        assert.deepEqual(await db.findById('t', 'r7'), { id: 'r7', f2: 7 });
      }));

    test('reads running alongside schema evolution see consistent records', () =>
      withDb(async (db) => {
        await db.insert('t', { id: 'a', v: 0 });
        const reads = Array.from({ length: 50 }, () => db.findById('t', 'a'));
        const writes = Array.from({ length: 10 }, (_, i) => db.update('t', 'a', { [`c${i}`]: i }));
        await Promise.all([...reads, ...writes]);
        const final = await db.findById('t', 'a');
        assert.equal(Object.keys(final).length, 12);
      }));
  });
});
