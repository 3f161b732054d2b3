/**
 * Schema growth budgets (issue 10 item 4): how many fields one write may add, how wide a
 * collection may grow, refused before the writer lock and with nothing applied.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import type { Database, DataLimits, JsonObject } from '../../src/data/engine.js';
import { apiError, engineSuites } from './helpers.js';

engineSuites(({ withEngine }) => {
  function withLimits(limits: Partial<DataLimits>, run: (db: Database) => Promise<void>): Promise<void> {
    return withEngine((engine) => run(engine.database('default')), { limits });
  }

  const wide = (count: number, prefix = 'f'): JsonObject => Object.fromEntries(Array.from({ length: count }, (_, i) => [`${prefix}${i}`, i]));
  const tooManyFields = apiError(400, 'too_many_fields');

  async function columnCount(db: Database, collection: string): Promise<number> {
    return (await db.schema(collection)).length;
  }

  describe('schema growth', () => {
    test('one write may add MAX_NEW_FIELDS_PER_WRITE fields (default 64), not one more', () =>
      withLimits({}, async (db) => {
        await assert.rejects(db.insert('wide', { id: 'a', ...wide(65) }), apiError(400, 'too_many_fields', /adds 65 new fields .* at most 64 .*MAX_NEW_FIELDS_PER_WRITE/));
        assert.equal(await db.hasCollection('wide'), false, 'nothing was created');
        await db.insert('wide', { id: 'a', ...wide(64) });
        assert.equal(await columnCount(db, 'wide'), 65);
        // Known fields are free; only new ones count.
        await db.insert('wide', { id: 'b', ...wide(64), ...wide(64, 'g') });
        await assert.rejects(db.update('wide', 'a', wide(65, 'h')), tooManyFields);
        assert.equal(await columnCount(db, 'wide'), 129);
      }));

    test('a collection stops growing at MAX_COLUMNS_PER_COLLECTION, id included', () =>
      withLimits({ maxColumnsPerCollection: 10 }, async (db) => {
        await assert.rejects(db.insert('c', { id: 'a', ...wide(10) }), apiError(400, 'too_many_fields', /would have 11 columns; the limit is 10 .*MAX_COLUMNS_PER_COLLECTION/));
        await db.insert('c', { id: 'a', ...wide(9) });
        await assert.rejects(db.insert('c', { id: 'b', extra: 1 }), tooManyFields);
        await assert.rejects(db.update('c', 'a', { extra: 1 }), tooManyFields);
        await assert.rejects(db.sync({ c: [{ externalId: 'e1' }] }), tooManyFields, 'sync adds externalId');
        // Writes within the existing columns carry on.
        await db.insert('c', { id: 'b', f1: 2 });
        await db.update('c', 'a', { f2: 3 });
        assert.equal(await columnCount(db, 'c'), 10);
      }));

    test('a batch is one write: its items’ new fields together, checked before any item lands', () =>
      withLimits({ maxNewFieldsPerWrite: 5 }, async (db) => {
        const items: JsonObject[] = [{ id: 'a', f0: 1, f1: 1, f2: 1 }, { id: 'b', f3: 1, f4: 1, f5: 1 }];
        await assert.rejects(db.batchInsert('t', items), apiError(400, 'too_many_fields', /adds 6 new fields/));
        assert.equal(await db.hasCollection('t'), false);
        await db.insert('t', { id: 'x' });
        await assert.rejects(db.batchUpdate('t', [{ id: 'x', data: { a: 1, b: 1, c: 1 } }, { id: 'x', data: { d: 1, e: 1, f: 1 } }]), tooManyFields);
        assert.equal(await columnCount(db, 't'), 1);
        const fine = await db.batchInsert('t', [{ id: 'a', f0: 1, f1: 1 }, { id: 'b', f2: 1, f3: 1, f4: 1 }]);
        assert.deepEqual(fine.successful, ['a', 'b']);
      }));

    test('sync checks each collection of the batch, and applies nothing when one is refused', () =>
      withLimits({ maxNewFieldsPerWrite: 3 }, async (db) => {
        await assert.rejects(db.sync({ ok: [{ externalId: 'e1', a: 1 }], bad: [{ externalId: 'e1', a: 1, b: 2, c: 3 }] }), tooManyFields);
        assert.equal(await db.hasCollection('ok'), false);
        assert.equal(await db.hasCollection('bad'), false);
      }));

    test('a refused write is answered without waiting for the writer', () =>
      withLimits({}, async (db) => {
        await db.insert('wide', { id: 'a' });
        await db.query('CREATE TABLE big (n BIGINT)', undefined, { timeoutMs: 5000 });
        const hog = db.query('INSERT INTO big SELECT a.range FROM range(100000000) a, range(100000000) b', undefined, { timeoutMs: 2500 }).catch((e: unknown) => e);
        await new Promise((resolve) => setTimeout(resolve, 50));
        const started = performance.now();
        await assert.rejects(db.insert('wide', { id: 'b', ...wide(3000) }), tooManyFields);
        await assert.rejects(db.batchInsert('wide', [{ id: 'c', ...wide(100) }]), tooManyFields);
        await assert.rejects(db.sync({ wide: [{ externalId: 'e', ...wide(100) }] }), tooManyFields);
        const took = performance.now() - started;
        await hog;
        assert.ok(took < 1000, `refused after ${Math.round(took)} ms (the writer was busy for 2.5 s)`);
      }));

    test('the cap is re-checked under the writer lock (a stale cache cannot let a write through)', () =>
      withLimits({ maxColumnsPerCollection: 6 }, async (db) => {
        await db.insert('t', { id: 'a', f0: 1, f1: 1 });
        // Two writes racing: each alone fits, together they would not.
        const results = await Promise.allSettled([db.insert('t', { id: 'b', g0: 1, g1: 1 }), db.insert('t', { id: 'c', h0: 1, h1: 1 })]);
        assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
        assert.ok(await columnCount(db, 't') <= 6);
      }));
  });
});
