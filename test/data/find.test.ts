import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import type { Database, Filter, JsonObject } from '../../src/data/engine.js';
import { apiError, withDb } from './helpers.js';

async function seed(db: Database): Promise<void> {
  const people: JsonObject[] = [
    { id: 'p1', name: 'Ada', age: 36, active: true, city: 'London', tags: ['math'] },
    { id: 'p2', name: 'Bob', age: 25, active: false, city: 'Paris' },
    { id: 'p3', name: 'Cy', age: 41, active: true, city: 'London' },
    { id: 'p4', name: 'Di', age: 25, active: true },
    { id: 'p5', name: 'Ed', age: 60, active: false, city: 'Rome' },
  ];
  for (const p of people) await db.insert('people', p);
}

const cond = (field: string, operator: 'Eq' | 'Ne' | 'Gt' | 'Gte' | 'Lt' | 'Lte' | 'In', value: unknown): Filter =>
  ({ type: 'Condition', content: { field, operator, value } }) as Filter;
const ids = (records: { id?: unknown }[]): string[] => records.map((r) => String(r.id));

describe('find', () => {
  test('without a filter lists records ordered by id, default limit 100', () =>
    withDb(async (db) => {
      await seed(db);
      assert.deepEqual(ids(await db.find('people', {})), ['p1', 'p2', 'p3', 'p4', 'p5']);
    }));

  test('each comparison operator filters as in SQL', () =>
    withDb(async (db) => {
      await seed(db);
      assert.deepEqual(ids(await db.find('people', { filter: cond('city', 'Eq', 'London') })), ['p1', 'p3']);
      assert.deepEqual(ids(await db.find('people', { filter: cond('age', 'Ne', 25) })), ['p1', 'p3', 'p5']);
      assert.deepEqual(ids(await db.find('people', { filter: cond('age', 'Gt', 36) })), ['p3', 'p5']);
      assert.deepEqual(ids(await db.find('people', { filter: cond('age', 'Gte', 36) })), ['p1', 'p3', 'p5']);
      assert.deepEqual(ids(await db.find('people', { filter: cond('age', 'Lt', 36) })), ['p2', 'p4']);
      assert.deepEqual(ids(await db.find('people', { filter: cond('age', 'Lte', 36) })), ['p1', 'p2', 'p4']);
      assert.deepEqual(ids(await db.find('people', { filter: cond('active', 'Eq', false) })), ['p2', 'p5']);
      assert.deepEqual(ids(await db.find('people', { filter: cond('name', 'In', ['Bob', 'Ed', 'Zed']) })), ['p2', 'p5']);
      assert.deepEqual(ids(await db.find('people', { filter: cond('name', 'In', []) })), []);
    }));

  test('Eq null matches absent fields and Ne null present ones', () =>
    withDb(async (db) => {
      await seed(db);
      assert.deepEqual(ids(await db.find('people', { filter: cond('city', 'Eq', null) })), ['p4']);
      assert.deepEqual(ids(await db.find('people', { filter: cond('city', 'Ne', null) })), ['p1', 'p2', 'p3', 'p5']);
    }));

  test('And/Or combine nested expressions', () =>
    withDb(async (db) => {
      await seed(db);
      const filter: Filter = {
        type: 'Logical',
        content: {
          operator: 'Or',
          expressions: [
            { type: 'Logical', content: { operator: 'And', expressions: [cond('city', 'Eq', 'London'), cond('age', 'Gt', 40)] } },
            cond('name', 'Eq', 'Bob'),
          ],
        },
      };
      assert.deepEqual(ids(await db.find('people', { filter })), ['p2', 'p3']);
    }));

  test('JSON columns compare by the JSON value sent', () =>
    withDb(async (db) => {
      await db.insert('t', { id: 'a', data: { k: 1 } });
      await db.insert('t', { id: 'b', data: 5 });
      await db.insert('t', { id: 'c', data: 'five' });
      assert.deepEqual(ids(await db.find('t', { filter: cond('data', 'Eq', { k: 1 }) })), ['a']);
      assert.deepEqual(ids(await db.find('t', { filter: cond('data', 'Gt', 4) })), ['b']);
      assert.deepEqual(ids(await db.find('t', { filter: cond('data', 'Eq', 'five') })), ['c']);
    }));

  test('sort by several fields, ascending by default', () =>
    withDb(async (db) => {
      await seed(db);
      const sorted = await db.find('people', { sort: [{ field: 'age', ascending: false }, { field: 'name' }] });
      assert.deepEqual(ids(sorted), ['p5', 'p3', 'p1', 'p2', 'p4']);
    }));

  test('limit and skip page through results', () =>
    withDb(async (db) => {
      await seed(db);
      assert.deepEqual(ids(await db.find('people', { sort: [{ field: 'name' }], limit: 2, skip: 1 })), ['p2', 'p3']);
      assert.deepEqual(ids(await db.find('people', { limit: 0 })), []);
    }));

  test('a limit above the row budget is clamped to it, and the rows say so only when some were left out', () =>
    withDb(async (db) => {
      await seed(db);
      await assert.rejects(db.find('people', { skip: -1 }), apiError(400, 'invalid_query'));
      const all = await db.find('people', { limit: 100_000 });
      assert.equal(all.length, 5);
      assert.equal(all.truncatedBy, undefined);
      const clamped = await db.find('people', { limit: 100_000 }, { budget: { maxRows: 3, maxBytes: 1 << 20 } });
      assert.deepEqual(ids(clamped), ['p1', 'p2', 'p3']);
      assert.equal(clamped.truncatedBy, 'rows');
      const exact = await db.find('people', { limit: 100_000 }, { budget: { maxRows: 5, maxBytes: 1 << 20 } });
      assert.equal(exact.length, 5);
      assert.equal(exact.truncatedBy, undefined, 'a budget the result fits exactly truncates nothing');
      assert.equal((await db.find('people', { limit: 2 }, { budget: { maxRows: 3, maxBytes: 1 << 20 } })).truncatedBy, undefined, 'a page below the budget is not truncated');
    }));

  test('select_fields keeps id; exclude_fields drops fields; unknown names are ignored', () =>
    withDb(async (db) => {
      await seed(db);
      const [first] = await db.find('people', { select_fields: ['name', 'nonexistent'], limit: 1 });
      assert.deepEqual(first, { id: 'p1', name: 'Ada' });
      const [excluded] = await db.find('people', { exclude_fields: ['tags', 'city', 'active', 'nope'], limit: 1 });
      assert.deepEqual(excluded, { id: 'p1', name: 'Ada', age: 36 });
    }));

  test('an unknown field in filter or sort is a 400 invalid_filter naming it', () =>
    withDb(async (db) => {
      await seed(db);
      await assert.rejects(db.find('people', { filter: cond('salary', 'Gt', 1) }), apiError(400, 'invalid_filter', /'salary'/));
      await assert.rejects(db.find('people', { sort: [{ field: 'salary' }] }), apiError(400, 'invalid_filter', /'salary'/));
    }));

  test('malformed filters are a 400 invalid_filter', () =>
    withDb(async (db) => {
      await seed(db);
      const bad: unknown[] = [
        { type: 'Condition' },
        { type: 'Nope', content: {} },
        { type: 'Condition', content: { field: 'age', operator: 'Like', value: 1 } },
        { type: 'Condition', content: { field: 'age', operator: 'In', value: 3 } },
        { type: 'Condition', content: { field: 'age', operator: 'Gt', value: null } },
        { type: 'Condition', content: { field: 'age', operator: 'Eq', value: 'x' } },
        { type: 'Logical', content: { operator: 'Xor', expressions: [] } },
        { type: 'Logical', content: { operator: 'And', expressions: 'no' } },
        'string',
      ];
      for (const filter of bad) {
        await assert.rejects(db.find('people', { filter: filter as Filter }), apiError(400, 'invalid_filter'));
      }
    }));

  test('filters deeper than 16 levels are refused', () =>
    withDb(async (db) => {
      await seed(db);
      const nest = (depth: number): Filter =>
        depth === 1 ? cond('age', 'Gt', 1) : { type: 'Logical', content: { operator: 'And', expressions: [nest(depth - 1)] } };
      assert.equal((await db.find('people', { filter: nest(16) })).length, 5);
      await assert.rejects(db.find('people', { filter: nest(17) }), apiError(400, 'invalid_filter'));
    }));

  test('values are bound, never spliced: an injection attempt is just a string', () =>
    withDb(async (db) => {
      await seed(db);
      const found = await db.find('people', { filter: cond('name', 'Eq', "x' OR '1'='1") });
      assert.deepEqual(found, []);
      assert.equal(await db.count('people'), 5);
    }));
});
