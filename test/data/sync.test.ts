import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import type { JsonObject } from '../../src/data/engine.js';
import { apiError, engineSuites } from './helpers.js';

engineSuites(({ withDb, engine }) => {

  describe('sync', () => {
    test('creates collections and records on first sync, with generated ids', () =>
      withDb(async (db) => {
        const counts = await db.sync({
          categories: [
            { externalId: 'c1', name: 'Drinks' },
            { externalId: 'c2', name: 'Food' },
          ],
          products: [{ externalId: 7, name: 'Tea', price: 2.5, category: 'c1' }],
        });
        assert.deepEqual(counts, { categories: { created: 2, updated: 0, unchanged: 0 }, products: { created: 1, updated: 0, unchanged: 0 } });
        const [tea] = await db.find('products', {});
        assert.deepEqual({ ...tea, id: undefined }, { id: undefined, externalId: '7', name: 'Tea', price: 2.5, category: 'c1' });
        assert.match(String(tea?.id), /^[0-9a-f-]{36}$/);
      }));

    test('is idempotent: the same batch twice is all unchanged the second time', () =>
      withDb(async (db) => {
        const batch: Record<string, JsonObject[]> = { items: [{ externalId: 'a', n: 1, meta: { k: [1, 2] } }, { externalId: 'b', n: 2, note: null }] };
        await db.sync(batch);
        assert.deepEqual(await db.sync(batch), { items: { created: 0, updated: 0, unchanged: 2 } });
        assert.equal(await db.count('items'), 2);
      }));

    test('updates changed records in place, keeping their id, and creates new ones', () =>
      withDb(async (db) => {
        await db.sync({ items: [{ externalId: 'a', n: 1 }, { externalId: 'b', n: 2 }] });
        const before = await db.find('items', { sort: [{ field: 'externalId' }] });
        const counts = await db.sync({ items: [{ externalId: 'a', n: 1 }, { externalId: 'b', n: 20, extra: 'x' }, { externalId: 'c', n: 3 }] });
        assert.deepEqual(counts, { items: { created: 1, updated: 1, unchanged: 1 } });
        const after = await db.find('items', { sort: [{ field: 'externalId' }] });
        assert.equal(after[1]?.id, before[1]?.id);
        assert.deepEqual({ ...after[1], id: undefined }, { id: undefined, externalId: 'b', n: 20, extra: 'x' });
      }));

    test('a record missing externalId fails the whole batch with a message naming it', () =>
      withDb(async (db) => {
        const batch: Record<string, JsonObject[]> = { categories: [{ externalId: 'a' }, { externalId: 'b' }, { externalId: 'c' }, { name: 'no id' }] };
        await assert.rejects(db.sync(batch), apiError(400, 'invalid_record', 'categories[3]: missing externalId'));
        assert.equal(await db.hasCollection('categories'), false);
      }));

    test('duplicate externalIds within a batch are refused', () =>
      withDb(async (db) => {
        await assert.rejects(
          db.sync({ c: [{ externalId: 'a' }, { externalId: 'a' }] }),
          apiError(400, 'invalid_record', "c[1]: duplicate externalId 'a' (also at c[0])"),
        );
      }));

    test('invalid externalIds, non-object records and non-array batches are refused', () =>
      withDb(async (db) => {
        await assert.rejects(db.sync({ c: [{ externalId: '' }] }), apiError(400, 'invalid_record', /c\[0\]/));
        await assert.rejects(db.sync({ c: [{ externalId: { x: 1 } }] }), apiError(400, 'invalid_record', /c\[0\]/));
        await assert.rejects(db.sync({ c: ['str' as never] }), apiError(400, 'invalid_record', 'c[0]: Record must be a JSON object'));
        await assert.rejects(db.sync({ c: 'x' as never }), apiError(400, 'invalid_record'));
        await assert.rejects(db.sync({ 'bad name': [] }), apiError(400, 'invalid_name'));
      }));

    test('field types must agree with existing columns and with each other', () =>
      withDb(async (db) => {
        await db.sync({ c: [{ externalId: 'a', n: 1 }] });
        await assert.rejects(db.sync({ c: [{ externalId: 'b', n: 'x' }] }), apiError(400, 'invalid_record', "c[0]: Field 'n' expects number"));
        await assert.rejects(
          db.sync({ d: [{ externalId: 'a', f: null }, { externalId: 'b', f: true }, { externalId: 'c', f: 'no' }] }),
          apiError(400, 'invalid_record', "d[2]: Field 'f' expects boolean"),
        );
      }));

    test('all or nothing: a failure in one collection writes nothing anywhere', () =>
      withDb(async (db) => {
        await db.sync({ existing: [{ externalId: 'a', n: 1 }] });
        await assert.rejects(
          db.sync({ fresh: [{ externalId: 'x', v: 1 }], existing: [{ externalId: 'a', n: 2, added: 'col' }, { externalId: 'b', n: 'bad' }] }),
          apiError(400, 'invalid_record'),
        );
        assert.equal(await db.hasCollection('fresh'), false);
        assert.deepEqual((await db.schema('existing')).map((c) => c.column_name), ['id', 'externalId', 'n']);
        assert.equal((await db.find('existing', {}))[0]?.n, 1);
      }));

    test('a failure inside the transaction rolls back everything, DDL included', () =>
      withDb(async (db) => {
        // A CHECK constraint only DuckDB knows about: validation passes, the write fails mid-transaction.
        await db.query(`CREATE TABLE guarded (id VARCHAR PRIMARY KEY, "externalId" VARCHAR, n ${engine === 'postgres' ? 'DOUBLE PRECISION' : 'DOUBLE'} CHECK (n < 100))`, undefined, { timeoutMs: 5000 });
        await assert.rejects(
          db.sync({ fresh: [{ externalId: 'x', v: 1 }], guarded: [{ externalId: 'a', n: 1, extra: 'x' }, { externalId: 'b', n: 1000 }] }),
          apiError(400, 'invalid_record', /guarded: .*check/i),
        );
        assert.equal(await db.hasCollection('fresh'), false);
        assert.equal(await db.count('guarded'), 0);
        assert.deepEqual((await db.schema('guarded')).map((c) => c.column_name), ['id', 'externalId', 'n']);
        assert.deepEqual(await db.sync({ fresh: [{ externalId: 'x', v: 1 }] }), { fresh: { created: 1, updated: 0, unchanged: 0 } });
      }));

    test('syncing many records looks them up in batches and stays idempotent', () =>
      withDb(async (db) => {
        const batch = { many: Array.from({ length: 700 }, (_, i) => ({ externalId: `e${i}`, n: i })) };
        assert.deepEqual(await db.sync(batch), { many: { created: 700, updated: 0, unchanged: 0 } });
        batch.many[500]!.n = -1;
        assert.deepEqual(await db.sync(batch), { many: { created: 0, updated: 1, unchanged: 699 } });
      }));
  });
});
