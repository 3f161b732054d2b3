/**
 * The record cache (`src/data/record-cache.ts`): its LRU bound, the in-flight race, field views
 * after the cache, and every write path's invalidation, on the real DuckDB engine. The property
 * test at the end drives random write paths and compares every cached read with the engine's own
 * answer (the model: what the uncached engine says now).
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { Database, DataEngine, JsonObject } from '../../src/data/engine.js';
import { CachedEngine, RecordCache } from '../../src/data/record-cache.js';
import { writeTarget } from '../../src/data/sql-targets.js';
import { apiError, withEngine } from './helpers.js';

function cached(engine: DataEngine, bytes = 1024 * 1024): CachedEngine {
  return new CachedEngine(engine, new RecordCache(bytes));
}

/** The engine's own answer, or 'absent'. */
async function truth(db: Database, collection: string, id: string): Promise<JsonObject | 'absent'> {
  try {
    return await db.findById(collection, id);
  } catch (error) {
    if ((error as { status?: number }).status === 404) return 'absent';
    throw error;
  }
}

describe('RecordCache', () => {
  test('LRU bounded by bytes: the least recently read goes first, counts add up', () => {
    const record = (id: string) => ({ id, text: 'x'.repeat(300) });
    // The bound fits exactly four such records.
    const probe = new RecordCache(1 << 20);
    probe.fill(probe.ticket('db', 't', 'a'), record('a'));
    const size = probe.stats().bytes;
    const cache = new RecordCache(size * 4 + size / 2);
    const fill = (id: string) => cache.fill(cache.ticket('db', 't', id), record(id));
    for (const id of ['a', 'b', 'c', 'd']) fill(id);
    assert.equal(cache.stats().entries, 4);
    assert.equal(cache.stats().evictions, 0);
    assert.ok(cache.get('db', 't', 'a'), 'a is read: now the most recently used');
    fill('e');
    fill('f');
    const stats = cache.stats();
    assert.equal(stats.entries, 4);
    assert.equal(stats.evictions, 2);
    assert.equal(stats.bytes, size * 4);
    assert.ok(stats.bytes <= stats.maxBytes);
    assert.equal(cache.get('db', 't', 'b'), undefined, 'b was the least recently used');
    assert.equal(cache.get('db', 't', 'c'), undefined);
    for (const id of ['a', 'd', 'e', 'f']) assert.ok(cache.get('db', 't', id), id);
  });

  test('a fill from a read that started before an invalidation is discarded', () => {
    const cache = new RecordCache(1 << 20);
    for (const invalidate of [
      () => cache.invalidateRecords('db', 't', ['x']),
      () => cache.invalidateTable('db', 'T'),
      () => cache.invalidateDatabase('db'),
    ]) {
      const ticket = cache.ticket('db', 't', 'x');
      invalidate();
      cache.fill(ticket, { id: 'x', v: 'old' });
      assert.equal(cache.get('db', 't', 'x'), undefined);
    }
    assert.equal(cache.stats().discardedFills, 3);
    // An invalidation of another record, table or database leaves the read alone.
    const ticket = cache.ticket('db', 't', 'x');
    cache.invalidateRecords('db', 't', ['y']);
    cache.invalidateTable('db', 'u');
    cache.invalidateDatabase('other');
    cache.fill(ticket, { id: 'x', v: 'new' });
    assert.deepEqual(cache.get('db', 't', 'x'), { id: 'x', v: 'new' });
  });

  test('only exact text ids are cached; cached records are frozen; a record larger than the bound is not cached', () => {
    const cache = new RecordCache(2000);
    cache.fill(cache.ticket('db', 't', '05'), { id: 5 });
    assert.equal(cache.get('db', 't', '05'), undefined);
    cache.fill(cache.ticket('db', 't', 'big'), { id: 'big', text: 'x'.repeat(5000) });
    assert.equal(cache.get('db', 't', 'big'), undefined);
    cache.fill(cache.ticket('db', 't', 'k'), { id: 'k', nested: { a: [1] } });
    const got = cache.get('db', 't', 'k')!;
    assert.ok(Object.isFrozen(got) && Object.isFrozen(got.nested));
  });
});

describe('sql write targets', () => {
  test('plain DML names its table; anything unclear is undefined (the whole database)', () => {
    assert.equal(writeTarget('UPDATE items SET v = 1', 'UPDATE'), 'items');
    assert.equal(writeTarget('  update main."It""ems" set v = 1', 'UPDATE'), 'It"ems');
    assert.equal(writeTarget('INSERT INTO memory.main.items VALUES (1)', 'INSERT'), 'items');
    assert.equal(writeTarget('insert or replace into items(id) values (1)', 'INSERT'), 'items');
    assert.equal(writeTarget('DELETE FROM items WHERE id = 1', 'DELETE'), 'items');
    assert.equal(writeTarget('DELETE FROM items;', 'DELETE'), 'items');
    for (const [sql, kind] of [
      ['/* c */ UPDATE items SET v = 1', 'UPDATE'],
      ['WITH x AS (SELECT 1) DELETE FROM items', 'DELETE'],
      ['UPDATE İtems SET v = 1', 'UPDATE'],
      ['UPDATE items/**/SET v = 1', 'UPDATE'],
      ['CREATE TABLE items (id INT)', 'OTHER'],
      ['UPDATE items SET v = 1', 'DELETE'],
    ] as const) {
      assert.equal(writeTarget(sql, kind), undefined, sql);
    }
  });
});

describe('CachedEngine over DuckDB', () => {
  test('hits are served from the cache; each field view is applied after it', () =>
    withEngine(async (inner) => {
      const engine = cached(inner);
      const db = engine.database('default');
      await db.insert('people', { id: 'p1', name: 'Ada', age: 36, secret: 's' });
      assert.deepEqual(await db.findById('people', 'p1'), { id: 'p1', name: 'Ada', age: 36, secret: 's' });
      assert.deepEqual(await db.findById('PEOPLE', 'p1', { select_fields: ['NAME'] }), { id: 'p1', name: 'Ada' });
      assert.deepEqual(await db.findById('people', 'p1', { exclude_fields: ['secret', 'nope'] }), { id: 'p1', name: 'Ada', age: 36 });
      assert.deepEqual(await db.findById('people', 'p1', { select_fields: [] }), { id: 'p1' });
      const stats = engine.cache.stats();
      assert.equal(stats.misses, 1);
      assert.equal(stats.hits, 3);
      // The engine's own errors still answer bad shapes and unknown records.
      await assert.rejects(db.findById('people', 'p1', { select_fields: 'name' as unknown as string[] }), apiError(400, 'invalid_filter'));
      await assert.rejects(db.findById('people', 'nope'), apiError(404, 'not_found'));
      await assert.rejects(db.findById('bad name', 'p1'), apiError(400, 'invalid_name'));
    }));

  test('every write path drops what it changed before it resolves', () =>
    withEngine(async (inner) => {
      const engine = cached(inner);
      const db = engine.database('default');
      const raw = inner.database('default');
      await db.insert('items', { id: 'a', v: 1, externalId: 'ext-a' });
      await db.insert('items', { id: 'b', v: 1, externalId: 'ext-b' });
      const warm = async () => {
        await db.findById('items', 'a');
        await db.findById('items', 'b');
      };
      const same = async (id: string) => assert.deepEqual(await truth(db, 'items', id), await truth(raw, 'items', id), `record ${id}`);
      const steps: [string, () => Promise<unknown>][] = [
        ['update', () => db.update('items', 'a', { v: 2 })],
        ['update adding a column', () => db.update('items', 'a', { w: 'new' })],
        ['insert adding a column', () => db.insert('items', { id: 'c', z: true })],
        ['batch update', () => db.batchUpdate('items', [{ id: 'b', data: { v: 3 } }])],
        ['batch insert adding a column', () => db.batchInsert('items', [{ id: 'd', y: 1 }])],
        ['sync', () => db.sync({ items: [{ externalId: 'ext-b', v: 4 }] })],
        ['sql update', () => db.query('UPDATE items SET v = 5 WHERE id = $1', ['a'], {})],
        ['sql update through a comment', () => db.query('/* x */ UPDATE items SET v = 6', [], {})],
        ['sql ddl', () => db.query('ALTER TABLE items ADD COLUMN q INTEGER DEFAULT 7', [], {})],
        ['sql delete', () => db.query("DELETE FROM items WHERE id = 'b'", [], {})],
        ['insert again', () => db.insert('items', { id: 'b', v: 8 })],
        ['delete', () => db.delete('items', 'a')],
        ['batch delete', () => db.batchDelete('items', ['b'])],
        ['insert both', () => db.batchInsert('items', [{ id: 'a', v: 9 }, { id: 'b', v: 9 }])],
        ['drop collection', () => db.dropCollection('items')],
        ['recreate', () => db.batchInsert('items', [{ id: 'a', other: 1 }, { id: 'b', other: 2 }])],
      ];
      for (const [name, step] of steps) {
        await warm().catch(() => {});
        await step();
        await same('a').catch((error: Error) => assert.fail(`${name}: ${error.message}`));
        await same('b').catch((error: Error) => assert.fail(`${name}: ${error.message}`));
      }
      assert.ok(engine.cache.stats().hits > 0);
    }));

  test('a database drop and re-creation leaves nothing of the old one', () =>
    withEngine(async (inner) => {
      const engine = cached(inner);
      await engine.createDatabase('other');
      await engine.database('other').insert('t', { id: 'x', v: 1 });
      await engine.database('other').findById('t', 'x');
      await engine.dropDatabase('other');
      await engine.createDatabase('other');
      await engine.database('other').insert('t', { id: 'x', v: 2 });
      assert.deepEqual(await engine.database('other').findById('t', 'x'), { id: 'x', v: 2 });
    }));

  test('a read in flight during a write never leaves the old record cached', () =>
    withEngine(async (inner) => {
      const engine = cached(inner);
      const db = engine.database('default');
      await db.insert('hot', { id: 'h', v: 0 });
      for (let v = 1; v <= 40; v++) {
        // The read starts first and may see the old value; the write's invalidation comes before it resolves.
        const reading = db.findById('hot', 'h');
        const writing = v % 3 === 0 ? db.query('UPDATE hot SET v = $1', [v], {}) : v % 3 === 1 ? db.update('hot', 'h', { v }) : db.batchUpdate('hot', [{ id: 'h', data: { v } }]);
        await Promise.all([reading, writing]);
        assert.equal((await db.findById('hot', 'h')).v, v);
      }
    }));

  test('an engine that does not report its SQL writes has every query drop the whole database', () =>
    withEngine(async (inner) => {
      // The same engine seen without `watchSqlWrites`, as another engine might be.
      const opaque: DataEngine = {
        listDatabases: () => inner.listDatabases(),
        database: (name) => inner.database(name),
        createDatabase: (name) => inner.createDatabase(name),
        dropDatabase: (name) => inner.dropDatabase(name),
        close: () => inner.close(),
        dumpMethod: inner.dumpMethod,
        dumpBytes: (name) => inner.dumpBytes(name),
        dumpDatabase: (name, destination) => inner.dumpDatabase(name, destination),
        loadStagingPath: (label) => inner.loadStagingPath(label),
        loadDatabase: (name, source, options) => inner.loadDatabase(name, source, options),
        onDatabaseReplaced: (listener) => inner.onDatabaseReplaced(listener),
      };
      const engine = cached(opaque);
      assert.equal(engine.sqlWritesReported, false);
      const db = engine.database('default');
      await db.insert('t', { id: 'x', v: 1 });
      await db.findById('t', 'x');
      await db.query('/* unattributable */ UPDATE t SET v = 2', [], {});
      assert.equal((await db.findById('t', 'x')).v, 2);
    }));

  test('property: random write paths on a few ids; every cached read equals the engine\'s answer', () =>
    withEngine(async (inner) => {
      const engine = cached(inner, 64 * 1024);
      const db = engine.database('default');
      const raw = inner.database('default');
      const ids = ['a', 'b', 'c'];
      const id = fc.constantFrom(...ids);
      const value = fc.integer({ min: 0, max: 1000 });
      const field = fc.constantFrom('v', 'w', 'extra');
      type Op = { name: string; run: () => Promise<unknown> };
      const op: fc.Arbitrary<Op> = fc.oneof(
        fc.tuple(id, value).map(([i, v]) => ({ name: `insert ${i}`, run: () => db.insert('items', { id: i, v, externalId: `e-${i}` }) })),
        fc.tuple(id, field, value).map(([i, f, v]) => ({ name: `update ${i}.${f}`, run: () => db.update('items', i, { [f]: v }) })),
        fc.tuple(id, value).map(([i, v]) => ({ name: `batch update ${i}`, run: () => db.batchUpdate('items', [{ id: i, data: { v } }]) })),
        id.map((i) => ({ name: `delete ${i}`, run: () => db.delete('items', i) })),
        id.map((i) => ({ name: `batch delete ${i}`, run: () => db.batchDelete('items', [i]) })),
        fc.tuple(id, value).map(([i, v]) => ({ name: `sync ${i}`, run: () => db.sync({ items: [{ externalId: `e-${i}`, v }] }) })),
        fc.tuple(id, value).map(([i, v]) => ({ name: `sql update ${i}`, run: () => db.query('UPDATE items SET v = $1 WHERE id = $2', [v, i], {}) })),
        id.map((i) => ({ name: `sql delete ${i}`, run: () => db.query('DELETE FROM items WHERE id = $1', [i], {}) })),
        value.map((v) => ({ name: 'sql ddl', run: () => db.query(`ALTER TABLE items ADD COLUMN IF NOT EXISTS c${v % 3} INTEGER DEFAULT ${v}`, [], {}) })),
        fc.constant({ name: 'drop', run: () => db.dropCollection('items') }),
      );
      await fc.assert(
        fc.asyncProperty(fc.array(fc.tuple(op, fc.array(id, { minLength: 1, maxLength: 3 })), { minLength: 1, maxLength: 25 }), async (script) => {
          await db.dropCollection('items').catch(() => {});
          await db.batchInsert('items', ids.map((i) => ({ id: i, v: 0, externalId: `e-${i}` })));
          for (const i of ids) await db.findById('items', i);
          for (const [step, reads] of script) {
            await step.run().catch(() => {});
            // Concurrent reads after the write was answered, twice (the second round mostly hits):
            // each must equal what the engine says now.
            for (let round = 0; round < 2; round++) {
              const answers = await Promise.all(reads.map((i) => truth(db, 'items', i)));
              for (const [k, i] of reads.entries()) {
                assert.deepEqual(answers[k], await truth(raw, 'items', i), `after ${step.name}, read ${i} (round ${round})`);
              }
            }
          }
        }),
        { numRuns: 60 },
      );
      assert.ok(engine.cache.stats().hits > 0, `the property exercised cache hits: ${JSON.stringify(engine.cache.stats())}`);
    }));
});
