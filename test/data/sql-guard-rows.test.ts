import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { apiError, engineSuites } from './helpers.js';

const OPTS = { timeoutMs: 10_000 };

engineSuites(({ withDb }) => {
  describe('rows(table, limit, offset, view)', () => {
    test('without a view every column comes back (unchanged behaviour)', () =>
      withDb(async (db) => {
        await db.insert('people', { id: 'a', name: 'Ada', salary: 10 });
        assert.deepEqual(await db.rows('people', 10, 0), [{ id: 'a', name: 'Ada', salary: 10 }]);
        assert.deepEqual(await db.rows('people', 10, 0, {}), [{ id: 'a', name: 'Ada', salary: 10 }]);
      }));

    test('select_fields: only those columns plus id, in table order; unknown names ignored', () =>
      withDb(async (db) => {
        await db.insert('people', { id: 'a', name: 'Ada', salary: 10, dept: 'eng' });
        assert.deepEqual(await db.rows('people', 10, 0, { select_fields: ['dept', 'name', 'ghost'] }), [{ id: 'a', name: 'Ada', dept: 'eng' }]);
        assert.deepEqual(await db.rows('people', 10, 0, { select_fields: [] }), [{ id: 'a' }]);
      }));

    test('exclude_fields: never those; id survives even when excluded', () =>
      withDb(async (db) => {
        await db.insert('people', { id: 'a', name: 'Ada', salary: 10 });
        assert.deepEqual(await db.rows('people', 10, 0, { exclude_fields: ['salary', 'id', 'ghost'] }), [{ id: 'a', name: 'Ada' }]);
        assert.deepEqual(await db.rows('people', 10, 0, { select_fields: ['name', 'salary'], exclude_fields: ['salary'] }), [{ id: 'a', name: 'Ada' }]);
      }));

    test('field names compare case-insensitively', () =>
      withDb(async (db) => {
        await db.query('CREATE TABLE t ("Id" VARCHAR, "Name" VARCHAR, "Salary" DOUBLE PRECISION)', undefined, OPTS);
        await db.query("INSERT INTO t VALUES ('a', 'Ada', 10)", undefined, OPTS);
        assert.deepEqual(await db.rows('t', 10, 0, { exclude_fields: ['SALARY'] }), [{ Id: 'a', Name: 'Ada' }]);
        assert.deepEqual(await db.rows('T', 10, 0, { select_fields: ['name'] }), [{ Id: 'a', Name: 'Ada' }]);
      }));

    test('paging still applies, and views (SQL views) work too', () =>
      withDb(async (db) => {
        for (const id of ['1', '2', '3']) await db.insert('p', { id, secret: `s${id}`, open: `o${id}` });
        await db.query('CREATE VIEW pv AS SELECT * FROM p ORDER BY id', undefined, OPTS);
        assert.deepEqual(await db.rows('p', 1, 1, { exclude_fields: ['secret'] }), [{ id: '2', open: 'o2' }]);
        assert.deepEqual(await db.rows('pv', 2, 1, { select_fields: ['open'] }), [{ id: '2', open: 'o2' }, { id: '3', open: 'o3' }]);
      }));

    test('a table without id and nothing selected yields empty objects, one per row', () =>
      withDb(async (db) => {
        await db.query('CREATE TABLE plain (a INTEGER, b INTEGER)', undefined, OPTS);
        await db.query('INSERT INTO plain VALUES (1, 2), (3, 4)', undefined, OPTS);
        assert.deepEqual(await db.rows('plain', 10, 0, { select_fields: ['nope'] }), [{}, {}]);
        assert.deepEqual(await db.rows('plain', 10, 0, { exclude_fields: ['b'] }), [{ a: 1 }, { a: 3 }]);
      }));

    test('bad arguments are still 400/404', () =>
      withDb(async (db) => {
        await db.insert('p', { id: 'a' });
        await assert.rejects(db.rows('p', -1, 0, {}), apiError(400, 'invalid_query'));
        await assert.rejects(db.rows('missing', 1, 0, { select_fields: ['x'] }), apiError(404, 'not_found'));
        await assert.rejects(db.rows('p', 1, 0, { select_fields: 'x' as never }), apiError(400, 'invalid_query'));
      }));
  });
});
