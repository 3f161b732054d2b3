/**
 * Result budgets (issue 10 item 1): every answer that carries rows stops at a row or byte budget,
 * at a row boundary, and says which; one row alone over the byte budget is refused. Huge values
 * are measured before they become JS values (DuckDB; PostgreSQL's protocol sends a value whole,
 * so there one value is read before it is refused).
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { DuckDBInstance } from '@duckdb/node-api';
import type { Database } from '../../src/data/engine.js';
import { readBudgeted } from '../../src/data/duckdb/result-reader.js';
import { resultColumns } from '../../src/data/duckdb/values.js';
import { guardSql, GuardCache, type GuardRunner } from '../../src/data/sql-guard.js';
import { apiError, engineSuites } from './helpers.js';
import { dialect } from './dialect.js';
import { guarded, seed as seedDuckDB } from './sql-guard-fixture.js';
import { seed as seedPostgres } from './postgres-sql-fixture.js';

const MB = 1024 * 1024;
const budget = (maxRows: number, maxBytes = 32 * MB) => ({ timeoutMs: 20_000, budget: { maxRows, maxBytes } });

engineSuites(({ engine, withDb }) => {
  const sql = dialect(engine);
  const seed = engine === 'duckdb' ? seedDuckDB : seedPostgres;
  // PostgreSQL is sent smaller sizes where the size is not the point, so the suite stays fast.
  const huge = engine === 'duckdb' ? 30_000_000 : 3_000_000;

  describe('result budget: /api/query', () => {
    test('a SELECT past the row budget stops at it and says truncatedBy rows', () =>
      withDb(async (db) => {
        const out = await db.query(`SELECT i FROM ${sql.series(huge)}`, undefined, budget(1000));
        assert.equal(out.rowCount, 1000);
        assert.equal(out.result.length, 1000);
        assert.equal(out.truncated, true);
        assert.equal(out.truncatedBy, 'rows');
        assert.deepEqual(out.result.at(-1), { i: 999 });
      }));

    test('a result that fits is not marked, not even when it fills the budget exactly', () =>
      withDb(async (db) => {
        const exact = await db.query(`SELECT i FROM ${sql.series(1000)}`, undefined, budget(1000));
        assert.equal(exact.rowCount, 1000);
        assert.equal(exact.truncated, false);
        assert.equal(exact.truncatedBy, undefined);
      }));

    test('the engine default applies when the caller names no budget', () =>
      withDb(async (db) => {
        const out = await db.query(`SELECT * FROM ${sql.series(huge / 10, 'a', 'x')}, ${sql.series(10, 'b', 'y')}`, undefined, { timeoutMs: 20_000 });
        assert.equal(out.rowCount, 10_000);
        assert.equal(out.truncatedBy, 'rows');
      }));

    test('past the byte budget the answer stops at a row boundary and says truncatedBy bytes', () =>
      withDb(async (db) => {
        const out = await db.query(`SELECT i, repeat('x', 1000) AS s FROM ${sql.series(100)}`, undefined, budget(10_000, 10 * 1024));
        assert.ok(out.rowCount >= 8 && out.rowCount <= 10, `rowCount ${out.rowCount}`);
        assert.equal(out.truncatedBy, 'bytes');
        assert.ok(out.result.every((row) => typeof row.s === 'string' && row.s.length === 1000), 'no row is cut in the middle');
        assert.ok(JSON.stringify(out.result).length <= 10 * 1024);
      }));

    test('one row alone over the byte budget is 400 result_too_large (on DuckDB measured before it becomes a JS string)', () =>
      withDb(async (db) => {
        const heap = process.memoryUsage().heapUsed;
        // Past the default 32 MB budget; PostgreSQL sends the value whole, so it gets a smaller one.
        const length = engine === 'duckdb' ? 100_000_000 : 40_000_000;
        await assert.rejects(db.query(`SELECT repeat('x', ${length}) AS s`, undefined, { timeoutMs: 20_000 }), apiError(400, 'result_too_large'));
        if (engine === 'duckdb') assert.ok(process.memoryUsage().heapUsed - heap < 50 * MB, 'the 100 MB string was decoded');
        await assert.rejects(db.query("SELECT 1 AS a, repeat('x', 2000) AS s", undefined, budget(10, 1024)), apiError(400, 'result_too_large'));
        // The connection is fine afterwards.
        assert.deepEqual((await db.query('SELECT 1 AS ok', undefined, budget(10))).result, [{ ok: 1 }]);
      }));

    test('a huge list, struct or map is refused (on DuckDB from its length alone, without becoming JS values)', () =>
      withDb(async (db) => {
        const statements = engine === 'duckdb'
          ? ((list: string) => [`SELECT ${list} AS l`, `SELECT {'inner': ${list}} AS s`, `SELECT [${list}] AS nested`, `SELECT map(${list}, ${list}) AS m`])('(SELECT list(i) FROM range(3000000) t(i))')
          : ((list: string) => [`SELECT ${list} AS l`, `SELECT json_build_object('inner', ${list}) AS s`, `SELECT ARRAY[${list}] AS nested`, `SELECT jsonb_object_agg(i, i) AS m FROM ${sql.series(300_000)}`])(`(SELECT array_agg(i) FROM ${sql.series(300_000)})`);
        for (const statement of statements) {
          const heap = process.memoryUsage().heapUsed;
          await assert.rejects(db.query(statement, undefined, budget(10, MB)), apiError(400, 'result_too_large'), statement);
          if (engine === 'duckdb') assert.ok(process.memoryUsage().heapUsed - heap < 40 * MB, `${statement}: the value was materialised`);
        }
      }));

    test('a write answers its RETURNING rows under the same budget (the write itself is whole)', () =>
      withDb(async (db) => {
        await db.query('CREATE TABLE n (i BIGINT)', undefined, budget(10));
        const out = await db.query(`INSERT INTO n SELECT i FROM ${sql.series(5000)} RETURNING i`, undefined, budget(100));
        assert.equal(out.rowCount, 100);
        assert.equal(out.truncatedBy, 'rows');
        assert.deepEqual((await db.query('SELECT count(*) AS c FROM n', undefined, budget(10))).result, [{ c: 5000 }]);
      }));
  });

  describe('result budget: guarded SQL', () => {
    const scoped = (maxRows: number) => ({ ...guarded(20_000), budget: { maxRows, maxBytes: 32 * MB } });

    test('a scoped SELECT stops at the row budget too', () =>
      withDb(async (db) => {
        await seed(db);
        const out = await db.query(`SELECT i FROM ${sql.series(huge)}`, undefined, scoped(50));
        assert.equal(out.rowCount, 50);
        assert.equal(out.truncatedBy, 'rows');
        const fits = await db.query('SELECT * FROM users', undefined, scoped(2));
        assert.equal(fits.rowCount, 2);
        assert.equal(fits.truncated, false);
      }));

    test('ORDER BY, LIMIT and OFFSET keep their meaning under the cap', () =>
      withDb(async (db) => {
        await seed(db);
        const ordered = await db.query(`SELECT i AS n FROM ${sql.series(100)} ORDER BY n DESC`, undefined, scoped(3));
        assert.deepEqual(ordered.result, [{ n: 99 }, { n: 98 }, { n: 97 }]);
        assert.equal(ordered.truncatedBy, 'rows');
        const limited = await db.query(`SELECT i AS n FROM ${sql.series(100)} ORDER BY n LIMIT 2 OFFSET 5`, undefined, scoped(3));
        assert.deepEqual(limited.result, [{ n: 5 }, { n: 6 }]);
        assert.equal(limited.truncated, false);
        const limitParam = await db.query(`SELECT i AS n FROM ${sql.series(100)} LIMIT $1`, [10], scoped(4));
        assert.equal(limitParam.rowCount, 4);
        assert.equal(limitParam.truncatedBy, 'rows');
      }));
  });

  describe('result budget: find and table rows', () => {
    async function people(db: Database, count: number): Promise<void> {
      await db.insert('people', { id: 'seed', name: 'x' });
      await db.query(`INSERT INTO people SELECT 'p' || lpad(i::VARCHAR, 6, '0'), 'name ' || i FROM ${sql.series(count)}`, undefined, budget(10));
    }

    test('find stops at the row budget and says so', () =>
      withDb(async (db) => {
        await people(db, 500);
        const page = await db.find('people', { limit: 100_000 }, { budget: { maxRows: 120, maxBytes: MB } });
        assert.equal(page.length, 120);
        assert.equal(page.truncatedBy, 'rows');
      }));

    test('find stops at the byte budget and says so', () =>
      withDb(async (db) => {
        await people(db, 500);
        const page = await db.find('people', { limit: 1000 }, { budget: { maxRows: 10_000, maxBytes: 2048 } });
        assert.ok(page.length > 10 && page.length < 100, `${page.length} rows`);
        assert.equal(page.truncatedBy, 'bytes');
      }));

    test('table rows stop at the budget and say so', () =>
      withDb(async (db) => {
        await people(db, 500);
        const rows = await db.rows('people', 100_000, 0, undefined, { budget: { maxRows: 50, maxBytes: MB } });
        assert.equal(rows.length, 50);
        assert.equal(rows.truncatedBy, 'rows');
        const bytes = await db.rows('people', 400, 0, { exclude_fields: ['name'] }, { budget: { maxRows: 10_000, maxBytes: 1024 } });
        assert.equal(bytes.truncatedBy, 'bytes');
        assert.ok(bytes.length > 10 && bytes.length < 100);
      }));
  });
});

// DuckDB's guard and reader internals: PostgreSQL takes the row budget from its cursor, not a
// rewritten LIMIT, and reads whole values (src/data/postgres/reader.ts).
describe('result budget: DuckDB guard pushes the cap into the statement', () => {
  test('the cap is pushed into the statement: LIMIT budget+1, or the smaller of both', async () => {
      const instance = await DuckDBInstance.create(':memory:');
      const connection = await instance.connect();
      try {
        await connection.run('CREATE TABLE users (id VARCHAR, name VARCHAR)');
        const run: GuardRunner = async (sql, params) => {
          const prepared = await connection.prepare(sql);
          params.forEach((value, i) => prepared.bindVarchar(i + 1, value));
          return (await prepared.run()).getRows() as Promise<unknown[][]>;
        };
        const policy = { view: () => ({}) };
        const limits = { maxNodes: 2000, maxDepth: 1000, maxTableRefs: 32, maxRows: 11 };
        const cache = new GuardCache(() => 0);
        const plain = await guardSql(run, 'SELECT name FROM users ORDER BY name', policy, cache, limits);
        assert.match(plain.sql, /ORDER BY .*LIMIT 11\s*$/s);
        const smaller = await guardSql(run, 'SELECT name FROM users LIMIT 5', policy, cache, limits);
        assert.match(smaller.sql, /LIMIT least\(5, 11\)\s*$/);
        const offset = await guardSql(run, 'SELECT name FROM users OFFSET 3', policy, cache, limits);
        assert.match(offset.sql, /LIMIT 11 OFFSET 3\s*$/);
        const union = await guardSql(run, 'SELECT 1 UNION ALL SELECT 2', policy, cache, limits);
        assert.match(union.sql, /LIMIT 11\s*$/);
      } finally {
        connection.closeSync();
        instance.closeSync();
      }
  });

});

describe('result reader', () => {
  test('yields to the event loop inside a large chunk', async () => {
    const instance = await DuckDBInstance.create(':memory:');
    const connection = await instance.connect();
    try {
      // One materialised chunk of 40 × 1 MB: converting it in one go held the event loop.
      const result = await connection.run("SELECT repeat('x', 1048576) AS s FROM range(40)");
      let turns = 0;
      const tick = (): void => {
        turns++;
        if (turns < 1000) setImmediate(tick);
      };
      setImmediate(tick);
      const read = await readBudgeted(result, resultColumns(result), { maxRows: 100, maxBytes: 64 * MB }, false);
      assert.equal(read.rows.length, 40);
      assert.ok(turns >= 10, `the loop turned ${turns} times while 40 MB were converted`);
    } finally {
      connection.closeSync();
      instance.closeSync();
    }
  });

  test('stops at the deadline between slices', async () => {
    const instance = await DuckDBInstance.create(':memory:');
    const connection = await instance.connect();
    try {
      const result = await connection.run("SELECT repeat('x', 1048576) AS s FROM range(40)");
      await assert.rejects(
        readBudgeted(result, resultColumns(result), { maxRows: 100, maxBytes: 64 * MB, deadline: performance.now() - 1 }, false),
        apiError(408, 'query_timeout'),
      );
    } finally {
      connection.closeSync();
      instance.closeSync();
    }
  });
});
