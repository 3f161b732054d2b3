/**
 * One deadline per call (issue 10 item 2): waiting for a read connection or the writer, running
 * and converting all count against it, on every data call; at the deadline the answer is 408 and
 * nothing is left half done. On PostgreSQL reads and writes share one pool, so a pool of one
 * connection held by a slow statement is what both wait for.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import type { Database } from '../../src/data/engine.js';
import { apiError, engineSuites } from './helpers.js';
import { dialect } from './dialect.js';

const soon = (ms = 200): { deadline: number } => ({ deadline: performance.now() + ms });

async function answeredWithin<T>(ms: number, work: Promise<T>): Promise<T> {
  const started = performance.now();
  try {
    return await work;
  } finally {
    const took = performance.now() - started;
    assert.ok(took < ms, `answered after ${Math.round(took)} ms`);
  }
}

engineSuites(({ engine, withEngine }) => {
  const sql = dialect(engine);

  /** One read connection (on PostgreSQL: one connection), so a single slow query occupies the whole pool. */
  function withOneReader(run: (db: Database) => Promise<void>): Promise<void> {
    return withEngine((opened) => run(opened.database('default')), { readConnections: 1 });
  }

  describe('deadline: reads', () => {
    test('waiting for a read connection counts: find, rows, count, SQL and table-name resolution answer 408 at the deadline', () =>
      withOneReader(async (db) => {
        await db.insert('people', { id: 'p1', name: 'Ada' });
        const hog = db.query(sql.runawayRead, undefined, { timeoutMs: 4000 }).catch((error: unknown) => error);
        await new Promise((resolve) => setTimeout(resolve, 50));
        await answeredWithin(1500, assert.rejects(db.find('people', {}, soon()), apiError(408, 'query_timeout')));
        await answeredWithin(1500, assert.rejects(db.rows('people', 10, 0, undefined, soon()), apiError(408, 'query_timeout')));
        await answeredWithin(1500, assert.rejects(db.count('people', soon()), apiError(408, 'query_timeout')));
        await answeredWithin(1500, assert.rejects(db.findById('people', 'p1', undefined, soon()), apiError(408, 'query_timeout')));
        await answeredWithin(1500, assert.rejects(db.query('SELECT 1', undefined, soon()), apiError(408, 'query_timeout')));
        // The auth path resolves every collection name it checks. A name not in the catalog cache
        // (on PostgreSQL: any miss) reloads the names, and that waits under the deadline too; a
        // DuckDB catalog already cached answers without a connection.
        const resolved = await answeredWithin(1500, Promise.resolve(db.resolveTable('ghost', soon())).catch((error: unknown) => error));
        if (engine === 'postgres' || resolved !== undefined) assert.ok(apiError(408, 'query_timeout')(resolved));
        await hog;
        // The callers that gave up left the queue: the pool still serves.
        assert.deepEqual((await db.find('people', {}, soon(5000))).map((r) => r.id), ['p1']);
      }));

    test('converting rows counts: a large answer is cut off at the deadline with 408', () =>
      withEngine(async (opened) => {
        const db = opened.database('default');
        await answeredWithin(
          2500,
          assert.rejects(
            db.query(`SELECT i FROM ${sql.series(3_000_000)}`, undefined, { timeoutMs: 300, budget: { maxRows: 3_000_000, maxBytes: 256 * 1024 * 1024 } }),
            apiError(408, 'query_timeout'),
          ),
        );
        assert.deepEqual((await db.query('SELECT 1 AS ok', undefined, soon(5000))).result, [{ ok: 1 }]);
      }));

    test('a deadline already past runs nothing', () =>
      withEngine(async (opened) => {
        const db = opened.database('default');
        const past = { deadline: performance.now() - 1 };
        await assert.rejects(db.query('CREATE TABLE t (a INTEGER)', undefined, past), apiError(408, 'query_timeout'));
        await assert.rejects(db.insert('people', { id: 'x' }, past), apiError(408, 'query_timeout'));
        assert.equal(await db.hasCollection('people'), false);
        assert.deepEqual((await db.query(sql.tableCount('t'), undefined, soon(5000))).result, [{ c: 0 }]);
      }));
  });

  describe('deadline: writes', () => {
    async function withBusyWriter(run: (db: Database) => Promise<void>): Promise<void> {
      await withEngine(async (opened) => {
        const db = opened.database('default');
        await db.insert('people', { id: 'p1', name: 'Ada' });
        await db.query('CREATE TABLE big (n BIGINT)', undefined, soon(5000));
        const hog = db.query(sql.runawayWrite, undefined, { timeoutMs: 3000 }).catch((error: unknown) => error);
        await new Promise((resolve) => setTimeout(resolve, 50));
        try {
          await run(db);
        } finally {
          await hog;
        }
      }, { readConnections: 1 });
    }

    test('waiting for the writer counts: every write answers 408 at its deadline and changes nothing', () =>
      withBusyWriter(async (db) => {
        const timeout = apiError(408, 'query_timeout');
        await answeredWithin(1500, assert.rejects(db.insert('people', { id: 'p2' }, soon()), timeout));
        await answeredWithin(1500, assert.rejects(db.update('people', 'p1', { name: 'Bea' }, soon()), timeout));
        await answeredWithin(1500, assert.rejects(db.delete('people', 'p1', soon()), timeout));
        await answeredWithin(1500, assert.rejects(db.batchInsert('people', [{ id: 'p3' }, { id: 'p4' }], soon()), timeout));
        await answeredWithin(1500, assert.rejects(db.batchDelete('people', ['p1'], soon()), timeout));
        await answeredWithin(1500, assert.rejects(db.sync({ people: [{ externalId: 'e1' }] }, soon()), timeout));
        await answeredWithin(1500, assert.rejects(db.dropCollection('people', soon()), timeout));
        const after = await db.find('people', {}, soon(10_000));
        assert.deepEqual(after, [{ id: 'p1', name: 'Ada' }]);
      }));

    test('a sync interrupted at its deadline rolls back whole', () =>
      withEngine(async (opened) => {
        const db = opened.database('default');
        const records = Array.from({ length: 40_000 }, (_, i) => ({ externalId: `e${i}`, n: i }));
        await answeredWithin(3000, assert.rejects(db.sync({ items: records }, { deadline: performance.now() + 300 }), apiError(408, 'query_timeout')));
        assert.equal(await db.hasCollection('items'), false);
        // The writer is usable (no transaction left open).
        assert.deepEqual(await db.sync({ items: [{ externalId: 'e1' }] }, soon(5000)), { items: { created: 1, updated: 0, unchanged: 0 } });
      }));

    if (engine === 'duckdb') {
      test('a batch reached by its deadline part-way reports exactly what landed', () =>
        withEngine(async (opened) => {
          const db = opened.database('default');
          await db.insert('people', { id: 'seed' });
          const items = Array.from({ length: 5000 }, (_, i) => ({ id: `p${i}` }));
          const result = await db.batchInsert('people', items, { deadline: performance.now() + 300 });
          assert.ok(result.successful.length > 0, 'some items landed');
          assert.ok(result.failed.length > 0, 'the deadline stopped the batch');
          assert.equal(result.successful.length + result.failed.length, items.length);
          assert.ok(result.failed.every((f) => /deadline/.test(f.error)), JSON.stringify(result.failed[0]));
          assert.equal(await db.count('people', soon(5000)), result.successful.length + 1);
        }));
    } else {
      test('a batch reached by its deadline part-way is 408 with nothing applied (one transaction on PostgreSQL)', () =>
        withEngine(async (opened) => {
          const db = opened.database('default');
          await db.insert('people', { id: 'seed' });
          const items = Array.from({ length: 5000 }, (_, i) => ({ id: `p${i}` }));
          await assert.rejects(db.batchInsert('people', items, { deadline: performance.now() + 300 }), apiError(408, 'query_timeout'));
          assert.equal(await db.count('people', soon(5000)), 1);
        }));
    }
  });
});
