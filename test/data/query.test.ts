import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { apiError, engineSuites } from './helpers.js';
import { dialect } from './dialect.js';

const OPTS = { timeoutMs: 10_000 };

engineSuites(({ engine, withDb }) => {
  const sql = dialect(engine);

  describe('query', () => {
    test('a SELECT returns rows, columns, rowCount and elapsedMs', () =>
      withDb(async (db) => {
        const out = await db.query('SELECT 1 AS one, $1 AS two', ['x'], OPTS);
        assert.deepEqual(out.result, [{ one: 1, two: 'x' }]);
        assert.deepEqual(out.columns, ['one', 'two']);
        assert.equal(out.rowCount, 1);
        assert.ok(out.elapsedMs >= 0);
      }));

    test('positional params bind as $1..$n and named params by name (PostgreSQL: positional only)', () =>
      withDb(async (db) => {
        await db.insert('t', { id: 'a', n: 1 });
        await db.insert('t', { id: 'b', n: 2 });
        assert.deepEqual((await db.query('SELECT id FROM t WHERE n > $1 AND id <> $2', [0, 'a'], OPTS)).result, [{ id: 'b' }]);
        if (engine === 'duckdb') assert.deepEqual((await db.query('SELECT id FROM t WHERE id = $which', { which: 'a' }, OPTS)).result, [{ id: 'a' }]);
        // PostgreSQL has positional parameters only (README, What differs from DuckDB).
        else await assert.rejects(db.query('SELECT id FROM t WHERE id = $1', { which: 'a' }, OPTS), apiError(400, 'sql_error', /Named parameters/));
        assert.deepEqual((await db.query('SELECT $1 + 1 AS x LIMIT $2', [41, 1], OPTS)).result, [{ x: 42 }]);
      }));

    test('collections are real tables: SQL can join them', () =>
      withDb(async (db) => {
        await db.insert('users', { id: 'u1', name: 'Ada' });
        await db.insert('orders', { id: 'o1', user_id: 'u1', total: 9.5 });
        const out = await db.query('SELECT u.name, o.total FROM orders o JOIN users u ON u.id = o.user_id', undefined, OPTS);
        assert.deepEqual(out.result, [{ name: 'Ada', total: 9.5 }]);
      }));

    test('more than one statement, or none, is refused', () =>
      withDb(async (db) => {
        const refused = apiError(400, 'sql_error', 'Exactly one SQL statement is allowed');
        await assert.rejects(db.query('SELECT 1; SELECT 2', undefined, OPTS), refused);
        await assert.rejects(db.query('', undefined, OPTS), refused);
        await assert.rejects(db.query('-- just a comment', undefined, OPTS), refused);
      }));

    test('engine errors are a 400 sql_error carrying the engine’s message; a wrong parameter count too', () =>
      withDb(async (db) => {
        await assert.rejects(db.query('SELEC 1', undefined, OPTS), apiError(400, 'sql_error', /syntax error/));
        await assert.rejects(db.query('SELECT * FROM missing_table', undefined, OPTS), apiError(400, 'sql_error', /missing_table/));
        await assert.rejects(db.query('SELECT $1', [], OPTS), apiError(400, 'sql_error'));
        await assert.rejects(db.query('SELECT $1::int AS x', [1, 2], OPTS), apiError(400, 'sql_error'));
        assert.deepEqual((await db.query('SELECT 1 AS ok', undefined, OPTS)).result, [{ ok: 1 }], 'the connection is fine afterwards');
      }));

    test('allowedStatements restricts kinds; anything else is 403 forbidden', () =>
      withDb(async (db) => {
        await db.insert('t', { id: 'a' });
        const selectOnly = { ...OPTS, allowedStatements: ['SELECT'] as const };
        assert.equal((await db.query('SELECT count(*) AS c FROM t', undefined, selectOnly)).result[0]?.c, 1);
        for (const sql of ["INSERT INTO t (id) VALUES ('b')", "UPDATE t SET id = 'z'", 'DELETE FROM t', 'DROP TABLE t', 'CREATE TABLE x (a INT)']) {
          await assert.rejects(db.query(sql, undefined, selectOnly), apiError(403, 'forbidden', 'Admin access required'));
        }
        assert.equal(await db.count('t'), 1);
      }));

    test('writes run on the writer and are visible to later reads', () =>
      withDb(async (db) => {
        await db.query('CREATE TABLE plain (a INTEGER, b VARCHAR)', undefined, OPTS);
        const ins = await db.query('INSERT INTO plain VALUES (1, $1), (2, $2)', ['x', 'y'], OPTS);
        // A write without RETURNING answers its count as a row, on both engines.
        assert.deepEqual(ins.result, [{ Count: 2 }]);
        assert.deepEqual(ins.columns, ['Count']);
        assert.deepEqual((await db.query("UPDATE plain SET b = 'z' WHERE a = 2", undefined, OPTS)).result, [{ Count: 1 }]);
        assert.deepEqual((await db.query('DELETE FROM plain WHERE a > 5', undefined, OPTS)).result, [{ Count: 0 }]);
        assert.equal(await db.count('plain'), 2);
      }));

    test('DDL through raw SQL retires cached schemas: a later insert sees the new column', () =>
      withDb(async (db) => {
        await db.insert('t', { id: 'a', v: 1 });
        assert.deepEqual(await db.findById('t', 'a'), { id: 'a', v: 1 });
        await db.query('ALTER TABLE t ADD COLUMN extra VARCHAR', undefined, OPTS);
        await db.query("UPDATE t SET extra = 'x'", undefined, OPTS);
        assert.deepEqual(await db.findById('t', 'a'), { id: 'a', v: 1, extra: 'x' });
        await assert.rejects(db.insert('t', { id: 'b', extra: 5 }), apiError(400, 'invalid_record', "Field 'extra' expects string"));
        await db.query('DROP TABLE t', undefined, OPTS);
        await assert.rejects(db.findById('t', 'a'), apiError(404, 'not_found'));
      }));

    test('statements that change connection state are refused', () =>
      withDb(async (db) => {
        const own = engine === 'duckdb' ? ["ATTACH ':memory:' AS m", 'USE memory'] : ['LISTEN x', 'DISCARD ALL', "COPY t TO '/tmp/duckgate-query-out.csv'"];
        for (const statement of ['BEGIN TRANSACTION', 'COMMIT', "SET search_path = 'x'", 'PREPARE p AS SELECT 1', ...own]) {
          await assert.rejects(db.query(statement, undefined, OPTS), apiError(400, 'sql_error'), statement);
        }
        // The writer is still in autocommit: a normal write lands and survives.
        assert.equal((await db.insert('t', { id: 'a' })).id, 'a');
      }));

    test('a runaway cross join is cancelled after timeoutMs and the connection stays usable', () =>
      withDb(async (db) => {
        const started = Date.now();
        await assert.rejects(
          db.query(sql.runawayRead, undefined, { timeoutMs: 300 }),
          apiError(408, 'query_timeout'),
        );
        assert.ok(Date.now() - started < 5_000, 'cancelled promptly');
        // Every read connection must still answer (the pool has two; run enough to touch both).
        for (let i = 0; i < 4; i++) assert.deepEqual((await db.query('SELECT 42 AS x', undefined, OPTS)).result, [{ x: 42 }]);
      }));

    test('a runaway write is cancelled too and the writer stays usable', () =>
      withDb(async (db) => {
        await db.query('CREATE TABLE big (n BIGINT)', undefined, OPTS);
        await assert.rejects(
          db.query(sql.runawayWrite, undefined, { timeoutMs: 300 }),
          apiError(408, 'query_timeout'),
        );
        assert.equal(await db.count('big'), 0);
        assert.equal((await db.insert('t', { id: 'a' })).id, 'a');
      }));
  });

  describe('value conversion for SQL results', () => {
    test('every column is present, NULL included', () =>
      withDb(async (db) => {
        assert.deepEqual((await db.query('SELECT NULL AS n, 1 AS one', undefined, OPTS)).result, [{ n: null, one: 1 }]);
      }));

    test('BIGINT/HUGEINT are numbers when safe and strings beyond 2^53 (PostgreSQL NUMERIC: a double)', () =>
      withDb(async (db) => {
        const wide = engine === 'duckdb' ? 'HUGEINT' : 'NUMERIC';
        const out = await db.query(`SELECT 42::BIGINT a, 9007199254740993::BIGINT b, 170141183460469231731687303715884105727::${wide} c, -5::${wide} d`, undefined, OPTS);
        const c = engine === 'duckdb' ? '170141183460469231731687303715884105727' : 1.7014118346046923e38;
        assert.deepEqual(out.result, [{ a: 42, b: '9007199254740993', c, d: -5 }]);
      }));

    test('DECIMAL is a number, DATE and TIMESTAMP are ISO strings', () =>
      withDb(async (db) => {
        const out = await db.query(
          "SELECT 12.34::DECIMAL(10,2) d, DATE '2024-02-29' dt, TIMESTAMP '2024-02-29 13:14:15.123456' ts, TIMESTAMPTZ '2024-02-29 13:14:15+00' tz",
          undefined,
          OPTS,
        );
        assert.deepEqual(out.result, [{ d: 12.34, dt: '2024-02-29', ts: '2024-02-29T13:14:15.123456', tz: '2024-02-29T13:14:15.000Z' }]);
      }));

    test('JSON is parsed, BLOB is base64, LIST/STRUCT/MAP are JSON', () =>
      withDb(async (db) => {
        const statement = engine === 'duckdb'
          ? `SELECT '{"a":[1,2]}'::JSON j, 'hi'::BLOB b, [1, 2, 3] l, {'x': 1, 'y': 'z'} s, MAP {'k': 1} m, [{'a': [1]}] nested`
          : `SELECT '{"a":[1,2]}'::JSON j, 'hi'::bytea b, ARRAY[1, 2, 3] l, json_build_object('x', 1, 'y', 'z') s, '{"k": 1}'::jsonb m, ARRAY[json_build_object('a', ARRAY[1])] nested`;
        const out = await db.query(statement, undefined, OPTS);
        assert.deepEqual(out.result, [{ j: { a: [1, 2] }, b: Buffer.from('hi').toString('base64'), l: [1, 2, 3], s: { x: 1, y: 'z' }, m: { k: 1 }, nested: [{ a: [1] }] }]);
      }));

    test('duplicate column names are kept apart', () =>
      withDb(async (db) => {
        const out = await db.query('SELECT 1 a, 2 a', undefined, OPTS);
        assert.deepEqual(out.columns, ['a', 'a:1']);
        assert.deepEqual(out.result, [{ a: 1, 'a:1': 2 }]);
      }));
  });

  describe('tables', () => {
    test('schema has the Duckling shape from DESCRIBE', () =>
      withDb(async (db) => {
        await db.query("CREATE TABLE items (id INTEGER PRIMARY KEY, name VARCHAR NOT NULL, price DOUBLE PRECISION DEFAULT 0)", undefined, OPTS);
        assert.deepEqual(await db.schema('items'), [
          { column_name: 'id', column_type: 'INTEGER', null: 'NO', key: 'PRI', default_value: null },
          { column_name: 'name', column_type: 'VARCHAR', null: 'NO', key: null, default_value: null },
          { column_name: 'price', column_type: 'DOUBLE', null: 'YES', key: null, default_value: '0' },
        ]);
      }));

    test('count, countAll and rows work on any table in main, views included for rows', () =>
      withDb(async (db) => {
        await db.insert('a', { id: '1' });
        await db.insert('a', { id: '2', x: null, y: 3 });
        await db.query('CREATE TABLE b (n INTEGER)', undefined, OPTS);
        await db.query('CREATE VIEW v AS SELECT * FROM a', undefined, OPTS);
        assert.equal(await db.count('a'), 2);
        assert.deepEqual(await db.countAll(), { a: 2, b: 0 });
        assert.deepEqual(await db.rows('a', 10, 0), [
          { id: '1', x: null, y: null },
          { id: '2', x: null, y: 3 },
        ]);
        assert.deepEqual(await db.rows('v', 1, 1), [{ id: '2', x: null, y: 3 }]);
        assert.deepEqual(await db.listCollections(), ['a', 'b']);
      }));

    test('an unknown table is a 404', () =>
      withDb(async (db) => {
        await assert.rejects(db.schema('nope'), apiError(404, 'not_found', "Table 'nope' not found"));
        await assert.rejects(db.count('nope'), apiError(404, 'not_found'));
        await assert.rejects(db.rows('x"; DROP TABLE y; --', 1, 0), apiError(404, 'not_found'));
      }));
  });
});
