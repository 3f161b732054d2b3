import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import type { Database, DataLimits, QueryResult } from '../../src/data/engine.js';
import { dialect } from './dialect.js';
import { seed as seedPostgres } from './postgres-sql-fixture.js';
import { parseLosslessJson, stringifyLosslessJson, RawNumber, visibleColumns, isForbiddenFunction } from '../../src/data/sql-guard.js';
import { apiError, engineSuites, withDb } from './helpers.js';
import { assertNoLeak, attempt, checksum, guarded, MARKER, seed } from './sql-guard-fixture.js';

const ADMIN = { timeoutMs: 10_000 };

function withSeeded(run: (db: Database) => Promise<void>): Promise<void> {
  return withDb(async (db) => {
    await seed(db);
    await run(db);
  });
}

async function rowsOf(db: Database, sql: string, params?: unknown[]): Promise<QueryResult> {
  const out = await db.query(sql, params as never, guarded());
  assertNoLeak(out, sql);
  return out;
}

const noReadSecret = apiError(403, 'forbidden', 'No read permission for collection secret');

// What every engine's guard does, in SQL both engines speak. The cases below this block are in
// DuckDB's dialect (EXCLUDE, COLUMNS, macros, range, ENUMs…); PostgreSQL's own escapes and
// spellings are test/data/postgres-sql.test.ts and the property suite.
engineSuites(({ engine, withDb: withDbOf, withEngine: withEngineOf }) => {
  const sql = dialect(engine);
  const seedOf = engine === 'duckdb' ? seed : seedPostgres;
  const withSeededOf = (run: (db: Database) => Promise<void>) => withDbOf(async (db) => {
    await seedOf(db);
    await run(db);
  });

  describe('sql guard: statements and errors', () => {
    test('a statement that is not a SELECT says so; several statements say so', () =>
      withSeededOf(async (db) => {
        await assert.rejects(db.query('DELETE FROM users', undefined, guarded()), apiError(403, 'forbidden', 'Only SELECT statements are allowed'));
        // DuckDB's guard refuses several statements as a policy (403); PostgreSQL's parser step as bad SQL (400).
        const several = engine === 'duckdb' ? apiError(403, 'forbidden', 'Exactly one SQL statement is allowed') : apiError(400, 'sql_error', 'Exactly one SQL statement is allowed');
        await assert.rejects(db.query('SELECT 1; SELECT 2', undefined, guarded()), several);
      }));

    test('syntax errors stay 400 sql_error with the engine’s message', () =>
      withSeededOf(async (db) => {
        await assert.rejects(db.query('SELEC 1', undefined, guarded()), apiError(400, 'sql_error', /syntax error/));
        await assert.rejects(db.query('SELECT FROM WHERE', undefined, guarded()), apiError(400, 'sql_error', /syntax error/));
        await assert.rejects(db.query('', undefined, guarded()), apiError(400, 'sql_error', 'Exactly one SQL statement is allowed'));
        await assert.rejects(db.query('SELECT * FROM missing_table', undefined, guarded()), apiError(403, 'forbidden'));
      }));

    test('allowedStatements without SELECT still wins', () =>
      withSeededOf(async (db) => {
        await assert.rejects(db.query('SELECT 1', undefined, { ...guarded(), allowedStatements: ['INSERT'] }), apiError(403, 'forbidden', 'Admin access required'));
      }));

    test('the timeout applies to guarded queries and the connection stays usable', () =>
      withSeededOf(async (db) => {
        await assert.rejects(db.query(sql.runawayRead, undefined, guarded(300)), apiError(408, 'query_timeout'));
        for (let i = 0; i < 4; i++) assert.deepEqual((await rowsOf(db, 'SELECT count(*) AS c FROM users')).result, [{ c: 2 }]);
      }));

    test('without readPolicy the guard is not involved (admin path unchanged)', () =>
      withSeededOf(async (db) => {
        const out = await db.query('SELECT ssn FROM users ORDER BY id LIMIT 1', undefined, ADMIN);
        assert.deepEqual(out.result, [{ ssn: MARKER }]);
      }));
  });

  describe('sql guard: bounded work', () => {
    const withLimits = (limits: Partial<DataLimits>, run: (db: Database) => Promise<void>) =>
      withEngineOf(async (opened) => {
        const db = opened.database('default');
        await seedOf(db);
        await run(db);
      }, { limits });
    const tooLarge = (pattern: RegExp) => apiError(400, 'statement_too_large', pattern);

    test('SQL text longer than MAX_SQL_LENGTH is refused before anything parses it, for everyone', () =>
      withLimits({ maxSqlLength: 1024 }, async (db) => {
        const long = `SELECT 1 AS x -- ${'y'.repeat(1100)}`;
        await assert.rejects(db.query(long, undefined, ADMIN), tooLarge(/MAX_SQL_LENGTH/));
        await assert.rejects(db.query(long, undefined, guarded()), tooLarge(/MAX_SQL_LENGTH/));
        // Bytes, not characters: 400 three-byte characters are 1200 bytes.
        await assert.rejects(db.query(`SELECT '${'€'.repeat(400)}' AS x`, undefined, ADMIN), tooLarge(/1214 bytes/));
        assert.equal((await db.query(`SELECT '${'y'.repeat(900)}' AS x`, undefined, ADMIN)).rowCount, 1);
      }));

    test('a scoped statement with more parse-tree nodes than MAX_SQL_NODES is refused', () =>
      withLimits({}, async (db) => {
        const inList = (n: number) => `SELECT id FROM users WHERE name IN (${Array.from({ length: n }, (_, i) => `'n${i}'`).join(',')})`;
        assert.equal((await db.query(inList(300), undefined, guarded())).rowCount, 0);
        await assert.rejects(db.query(inList(3000), undefined, guarded()), tooLarge(/more than 2000 nodes .*MAX_SQL_NODES/));
        // 50,000 list items (on DuckDB refused from the size of the tree's text, before it crosses into JS).
        const list = Array(50_000).fill('1').join(',');
        await assert.rejects(db.query(engine === 'duckdb' ? `SELECT [${list}] AS l` : `SELECT ARRAY[${list}] AS l`, undefined, guarded()), tooLarge(/MAX_SQL_NODES/));
        // Admins are not bound by it.
        assert.equal((await db.query(inList(3000), undefined, ADMIN)).rowCount, 0);
      }));

    test('a scoped statement with more table references than MAX_SQL_TABLE_REFS is refused', () =>
      withLimits({}, async (db) => {
        const join = (n: number) => `SELECT count(*) AS c FROM ${Array.from({ length: n }, (_, i) => sql.series(1, `t${i}`)).join(', ')}`;
        assert.deepEqual((await db.query(join(32), undefined, guarded())).result, [{ c: 1 }]);
        await assert.rejects(db.query(join(33), undefined, guarded()), tooLarge(/more than 32 table.*MAX_SQL_TABLE_REFS/));
        const subqueries = `SELECT (SELECT count(*) FROM users) ${'+ (SELECT count(*) FROM orders) '.repeat(32)} AS c`;
        await assert.rejects(db.query(subqueries, undefined, guarded()), tooLarge(/MAX_SQL_TABLE_REFS/));
      }));

    test('a scoped statement nesting deeper than MAX_SQL_DEPTH is refused', () =>
      withLimits({ maxSqlDepth: 100 }, async (db) => {
        const nested = (n: number) => `SELECT ${'('.repeat(n)}1${' + 1)'.repeat(n)} AS x`;
        assert.equal((await db.query(nested(5), undefined, guarded())).rowCount, 1);
        await assert.rejects(db.query(nested(60), undefined, guarded()), tooLarge(/deeper than 100 levels .*MAX_SQL_DEPTH/));
      }));

    test('a 200-way join of a 2-row series is answered at once (scoped) or at the deadline (admin), not after it', () =>
      withLimits({}, async (db) => {
        const join = `SELECT count(*) FROM ${Array.from({ length: 200 }, (_, i) => sql.series(2, `t${i}`)).join(', ')}`;
        let started = performance.now();
        await assert.rejects(db.query(join, undefined, guarded(1000)), tooLarge(/MAX_SQL_TABLE_REFS/));
        assert.ok(performance.now() - started < 1000);
        started = performance.now();
        await assert.rejects(db.query(join, undefined, { timeoutMs: 1000 }), apiError(408, 'query_timeout'));
        assert.ok(performance.now() - started < 2500, `answered after ${Math.round(performance.now() - started)} ms`);
      }));
  });
});

describe('sql guard: what a scoped caller may read', () => {
  test('a readable table answers with its visible columns only', () =>
    withSeeded(async (db) => {
      const out = await rowsOf(db, 'SELECT * FROM users ORDER BY id');
      assert.deepEqual(out.columns, ['id', 'name', 'dept']);
      assert.deepEqual(out.result, [
        { id: 'u1', name: 'Ada', dept: 'eng' },
        { id: 'u2', name: 'Bob', dept: 'ops' },
      ]);
      // A fully readable table keeps every column; select_fields keeps only those plus `id`.
      assert.deepEqual((await rowsOf(db, 'SELECT * FROM orders ORDER BY id LIMIT 1')).result, [{ id: 'o1', user_id: 'u1', total: 10 }]);
      assert.deepEqual((await rowsOf(db, 'SELECT * FROM notes')).result, [{ id: 'n1', label: 'first' }]);
    }));

  test('hidden columns stay hidden through every way of spelling "all columns"', () =>
    withSeeded(async (db) => {
      const cases: [string, unknown][] = [
        ['SELECT users.* FROM users ORDER BY id LIMIT 1', [{ id: 'u1', name: 'Ada', dept: 'eng' }]],
        ['SELECT u.* FROM users u ORDER BY id LIMIT 1', [{ id: 'u1', name: 'Ada', dept: 'eng' }]],
        ['SELECT * EXCLUDE (dept) FROM users ORDER BY id LIMIT 1', [{ id: 'u1', name: 'Ada' }]],
        ['SELECT * REPLACE (upper(name) AS name) FROM users ORDER BY id LIMIT 1', [{ id: 'u1', name: 'ADA', dept: 'eng' }]],
        ["SELECT COLUMNS('.*') FROM users ORDER BY id LIMIT 1", [{ id: 'u1', name: 'Ada', dept: 'eng' }]],
        ["SELECT COLUMNS(c -> c NOT LIKE 'x%') FROM users ORDER BY id LIMIT 1", [{ id: 'u1', name: 'Ada', dept: 'eng' }]],
        ['SELECT u FROM users u ORDER BY id LIMIT 1', [{ u: { id: 'u1', name: 'Ada', dept: 'eng' } }]],
        ['SELECT to_json(u) AS j FROM users u ORDER BY id LIMIT 1', [{ j: { id: 'u1', name: 'Ada', dept: 'eng' } }]],
        ['SELECT u::VARCHAR AS s FROM users u ORDER BY id LIMIT 1', [{ s: "{'id': u1, 'name': Ada, 'dept': eng}" }]],
        ['SELECT struct_pack(*COLUMNS(*)) AS s FROM users ORDER BY id LIMIT 1', [{ s: { id: 'u1', name: 'Ada', dept: 'eng' } }]],
        ['SELECT [*COLUMNS(*)] AS l FROM users ORDER BY id LIMIT 1', [{ l: ['u1', 'Ada', 'eng'] }]],
        ['SELECT * FROM (SELECT * FROM users) sub ORDER BY id LIMIT 1', [{ id: 'u1', name: 'Ada', dept: 'eng' }]],
        ['WITH c AS (SELECT * FROM users) SELECT c FROM c ORDER BY id LIMIT 1', [{ c: { id: 'u1', name: 'Ada', dept: 'eng' } }]],
        ['SELECT * FROM users NATURAL JOIN users u2 ORDER BY id LIMIT 1', [{ id: 'u1', name: 'Ada', dept: 'eng' }]],
        ['FROM users SELECT * ORDER BY id LIMIT 1', [{ id: 'u1', name: 'Ada', dept: 'eng' }]],
        ['TABLE users ORDER BY id LIMIT 1', [{ id: 'u1', name: 'Ada', dept: 'eng' }]],
        ["FROM notes UNPIVOT (val FOR k IN (COLUMNS(* EXCLUDE (id))))", [{ id: 'n1', k: 'label', val: 'first' }]],
      ];
      for (const [sql, expected] of cases) assert.deepEqual((await rowsOf(db, sql)).result, expected, sql);
    }));

  test('a hidden column cannot be named anywhere: DuckDB answers column-not-found (400)', () =>
    withSeeded(async (db) => {
      for (const sql of [
        'SELECT salary FROM users',
        'SELECT id FROM users WHERE salary > 0',
        'SELECT id FROM users ORDER BY salary',
        'SELECT count(*) FROM users GROUP BY salary',
        'SELECT id FROM users GROUP BY id HAVING max(salary) > 0',
        'SELECT users.ssn FROM users',
        'SELECT u.SSN FROM users u',
        'SELECT "Salary" FROM users',
        'SELECT id FROM users QUALIFY row_number() OVER (ORDER BY salary) = 1',
        'SELECT (SELECT max(salary) FROM users) AS m',
        'SELECT id FROM users u WHERE EXISTS (SELECT 1 FROM users v WHERE v.salary = u.salary)',
        'SELECT note FROM notes',
        'SELECT id FROM notes WHERE note IS NOT NULL',
        'SELECT * FROM users JOIN users u2 USING (salary)',
        "SELECT u.name FROM users u WHERE u['salary'] > 0",
        'SELECT struct_extract(u, \'ssn\') FROM users u',
      ]) {
        const outcome = await attempt(db, sql);
        assertNoLeak(outcome, sql);
        assert.ok(apiError(400, 'sql_error')(outcome), sql);
      }
    }));

  test('joins, subqueries, CTEs, set operations, windows and aggregates over readable tables work', () =>
    withSeeded(async (db) => {
      const cases: [string, unknown][] = [
        ['SELECT u.name, sum(o.total) AS t FROM users u JOIN orders o ON o.user_id = u.id GROUP BY u.name ORDER BY u.name', [{ name: 'Ada', t: 15 }, { name: 'Bob', t: 7 }]],
        ['SELECT users.name FROM users WHERE users.id IN (SELECT user_id FROM orders WHERE total > 8)', [{ name: 'Ada' }]],
        ['SELECT name FROM users u WHERE EXISTS (SELECT 1 FROM orders o WHERE o.user_id = u.id AND o.total = 7)', [{ name: 'Bob' }]],
        ['SELECT name, (SELECT count(*) FROM orders o WHERE o.user_id = u.id) AS n FROM users u ORDER BY name', [{ name: 'Ada', n: 2 }, { name: 'Bob', n: 1 }]],
        ['SELECT u.name, x.m FROM users u, LATERAL (SELECT max(total) AS m FROM orders o WHERE o.user_id = u.id) x ORDER BY 1', [{ name: 'Ada', m: 10 }, { name: 'Bob', m: 7 }]],
        ['WITH big AS (SELECT * FROM orders WHERE total > 6), n AS (SELECT count(*) AS c FROM big) SELECT c FROM n', [{ c: 2 }]],
        ['WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 3) SELECT sum(n) AS s FROM r', [{ s: 6 }]],
        ["SELECT name FROM users WHERE id = 'u1' UNION ALL SELECT id FROM orders WHERE id = 'o3'", [{ name: 'Ada' }, { name: 'o3' }]],
        ['SELECT id FROM users EXCEPT SELECT user_id FROM orders WHERE total < 6', [{ id: 'u2' }]],
        ['SELECT user_id FROM orders INTERSECT SELECT id FROM users ORDER BY 1', [{ user_id: 'u1' }, { user_id: 'u2' }]],
        ['SELECT id, row_number() OVER (PARTITION BY user_id ORDER BY total DESC) AS r FROM orders QUALIFY r = 1 ORDER BY id', [{ id: 'o1', r: 1 }, { id: 'o3', r: 1 }]],
        ["FROM orders PIVOT (sum(total) FOR user_id IN ('u1', 'u2')) SELECT * EXCLUDE (id) ORDER BY ALL", [{ u1: 5, u2: null }, { u1: 10, u2: null }, { u1: null, u2: 7 }]],
        ['SELECT * FROM (VALUES (1, 2)) v(a, b)', [{ a: 1, b: 2 }]],
        ['SELECT sum(range) AS s FROM range(4)', [{ s: 6 }]],
        ['SELECT count(*) AS c FROM generate_series(1, 3)', [{ c: 3 }]],
        ['SELECT x FROM unnest([7, 8]) t(x) ORDER BY x DESC LIMIT 1', [{ x: 8 }]],
        ["SELECT list_transform([1, 2], x -> x * 2) AS l, [y FOR y IN [1, 2] IF y > 1] AS c, {'a': 1}.a AS s", [{ l: [2, 4], c: [2], s: 1 }]],
        ["SELECT DISTINCT ON (user_id) user_id FROM orders ORDER BY user_id", [{ user_id: 'u1' }, { user_id: 'u2' }]],
        ['SELECT string_agg(name, \',\' ORDER BY name DESC) FILTER (WHERE dept <> \'x\') AS s FROM users', [{ s: 'Bob,Ada' }]],
        ['SELECT 9007199254740993 AS big, 170141183460469231731687303715884105727 AS huge, 0.1 AS d', [{ big: '9007199254740993', huge: '170141183460469231731687303715884105727', d: 0.1 }]],
        ["SELECT 'it''s' AS q, 1 AS \"we\"\"ird\"", [{ q: "it's", 'we"ird': 1 }]],
      ];
      for (const [sql, expected] of cases) assert.deepEqual((await rowsOf(db, sql)).result, expected, sql);
    }));

  test('built-in types may be cast to, JSON and parameterised types included', () =>
    withSeeded(async (db) => {
      const out = await rowsOf(db, "SELECT '{\"a\":1}'::JSON AS j, 1.5::DECIMAL(4,2) AS d, [1]::INTEGER[] AS l, {'a': 1}::STRUCT(a VARCHAR) AS s, 'x'::VARCHAR(3) AS vc");
      assert.deepEqual(out.result, [{ j: { a: 1 }, d: 1.5, l: [1], s: { a: '1' }, vc: 'x' }]);
    }));

  test('parameters survive the rewrite: positional, ? and named', () =>
    withSeeded(async (db) => {
      assert.deepEqual((await rowsOf(db, 'SELECT name FROM users WHERE id = $1 AND $2 > 0', ['u2', 1])).result, [{ name: 'Bob' }]);
      assert.deepEqual((await rowsOf(db, 'SELECT name FROM users WHERE id = ? OR id = ? ORDER BY name', ['u1', 'u2'])).result, [{ name: 'Ada' }, { name: 'Bob' }]);
      const named = await db.query('SELECT name FROM users WHERE id = $who LIMIT $n', { who: 'u1', n: 1 }, guarded());
      assert.deepEqual(named.result, [{ name: 'Ada' }]);
      await assert.rejects(db.query('SELECT name FROM users WHERE id = $1', [], guarded()), apiError(400, 'sql_error'));
    }));

  test('table names are case-insensitive and may be qualified with main or the database itself', () =>
    withSeeded(async (db) => {
      for (const sql of ['SELECT id FROM USERS', 'SELECT id FROM "Users"', 'SELECT id FROM main.users', 'SELECT id FROM "default".main.users', 'SELECT users.id FROM main.users']) {
        assert.equal((await rowsOf(db, `${sql} ORDER BY 1 LIMIT 1`)).result.length, 1, sql);
      }
    }));

  test('catalog changes made through the server reach the guard (its cache follows DDL)', () =>
    withSeeded(async (db) => {
      assert.deepEqual((await rowsOf(db, 'SELECT * FROM orders ORDER BY id LIMIT 1')).columns, ['id', 'user_id', 'total']);
      await db.query("ALTER TABLE orders ADD COLUMN extra VARCHAR DEFAULT 'e'", undefined, ADMIN);
      await db.query("ALTER TABLE users ADD COLUMN salary_band VARCHAR DEFAULT 'b'", undefined, ADMIN);
      assert.deepEqual((await rowsOf(db, 'SELECT * FROM orders ORDER BY id LIMIT 1')).result, [{ id: 'o1', user_id: 'u1', total: 10, extra: 'e' }]);
      assert.deepEqual((await rowsOf(db, 'SELECT salary_band FROM users LIMIT 1')).result, [{ salary_band: 'b' }]);
      await db.query('CREATE MACRO sneaky() AS (SELECT max(v) FROM secret)', undefined, ADMIN);
      await assert.rejects(db.query('SELECT sneaky() AS s', undefined, guarded()), apiError(403, 'forbidden', /sneaky/));
      await db.query('CREATE TABLE later (id VARCHAR, v VARCHAR)', undefined, ADMIN);
      await assert.rejects(db.query('SELECT * FROM later', undefined, guarded()), apiError(403, 'forbidden', 'No read permission for collection later'));
    }));

  test('a CTE named like a forbidden table shadows nothing', () =>
    withSeeded(async (db) => {
      // The CTE is what the name means inside the query…
      assert.deepEqual((await rowsOf(db, 'WITH secret AS (SELECT 1 AS a) SELECT * FROM secret')).result, [{ a: 1 }]);
      assert.deepEqual((await rowsOf(db, 'WITH secret AS (SELECT name FROM users) SELECT secret.name FROM secret ORDER BY 1')).result, [{ name: 'Ada' }, { name: 'Bob' }]);
      // …but it never lets the real table through.
      for (const sql of [
        'WITH secret AS (SELECT * FROM secret) SELECT * FROM secret',
        'WITH x AS (SELECT 1 AS a) SELECT * FROM secret',
        'WITH secret AS (SELECT 1 AS a) SELECT * FROM main.secret',
        'WITH secret AS (SELECT 1 AS a) SELECT * FROM "default".main.secret',
        'WITH a AS (SELECT * FROM b), b AS (SELECT 1 AS x) SELECT * FROM a',
        'WITH users AS (SELECT * FROM secret) SELECT * FROM users',
        'SELECT * FROM (WITH secret AS (SELECT 1 AS a) SELECT * FROM secret) s, secret',
        'WITH RECURSIVE secret(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM secret WHERE n < 2) SELECT * FROM secret, main.secret',
      ]) {
        const outcome = await attempt(db, sql);
        assertNoLeak(outcome, sql);
        assert.ok(isRefusal(outcome), `${sql} → ${JSON.stringify(outcome)}`);
      }
    }));
});

/** A 403 or a 400: either way nothing was read. */
function isRefusal(outcome: unknown): boolean {
  const e = outcome as { status?: number };
  return e.status === 403 || e.status === 400;
}

describe('sql guard: forbidden tables', () => {
  test('are refused wherever they appear in the tree, with the collection permission error', () =>
    withSeeded(async (db) => {
      for (const sql of [
        'SELECT * FROM secret',
        'SELECT v FROM secret',
        'SELECT * FROM (SELECT * FROM secret) s',
        'WITH c AS (SELECT * FROM secret) SELECT * FROM c',
        'WITH c AS (SELECT 1), d AS (SELECT * FROM c, secret) SELECT 1',
        'SELECT name FROM users UNION SELECT v FROM secret',
        'SELECT name FROM users UNION BY NAME SELECT v AS name FROM secret',
        'SELECT id FROM users EXCEPT SELECT id FROM secret',
        'SELECT id FROM users INTERSECT (SELECT id FROM users UNION SELECT id FROM secret)',
        'SELECT * FROM users u, LATERAL (SELECT v FROM secret WHERE secret.id <> u.id) x',
        'SELECT * FROM users u LEFT JOIN LATERAL (SELECT v FROM secret) x ON true',
        'SELECT (SELECT v FROM secret LIMIT 1) AS leaked',
        'SELECT name FROM users WHERE EXISTS (SELECT 1 FROM secret)',
        'SELECT name FROM users WHERE id IN (SELECT id FROM secret)',
        'SELECT name FROM users WHERE id = ANY (SELECT id FROM secret)',
        'SELECT name FROM users ORDER BY (SELECT v FROM secret LIMIT 1)',
        'SELECT name FROM users GROUP BY name HAVING count(*) > (SELECT count(*) FROM secret)',
        'SELECT name FROM users LIMIT (SELECT count(*) FROM secret)',
        'SELECT sum(1) OVER (PARTITION BY (SELECT v FROM secret)) FROM users',
        'SELECT list_transform([1], x -> (SELECT v FROM secret)) AS l',
        'SELECT * FROM users JOIN secret ON true',
        'SELECT * FROM users NATURAL JOIN secret',
        'SELECT * FROM users ASOF JOIN secret ON users.id >= secret.id',
        'SELECT * FROM users POSITIONAL JOIN secret',
        'SELECT * FROM users ANTI JOIN secret USING (id)',
        'SELECT * FROM "SeCrEt"',
        'SELECT * FROM SECRET',
        'SELECT * FROM main.secret',
        'SELECT * FROM main."SECRET"',
        'SELECT * FROM "default".main.secret',
        'FROM secret',
        'TABLE secret',
        'FROM secret PIVOT (count(*) FOR v IN (1))',
        'FROM secret UNPIVOT (x FOR k IN (v))',
        'SELECT * FROM range((SELECT count(*) FROM secret))',
        'SELECT * FROM unnest((SELECT list(v) FROM secret))',
        'SELECT * FROM (VALUES ((SELECT v FROM secret))) t(x)',
        'SELECT * FROM users WHERE id IN (FROM secret SELECT id) USING SAMPLE 1',
      ]) {
        const outcome = await attempt(db, sql);
        assertNoLeak(outcome, sql);
        assert.ok(noReadSecret(outcome), sql);
      }
    }));

  test('views and names that are not tables are judged by the policy too', () =>
    withSeeded(async (db) => {
      await assert.rejects(db.query('SELECT * FROM secret_view', undefined, guarded()), apiError(403, 'forbidden', 'No read permission for collection secret_view'));
      await assert.rejects(db.query('SELECT * FROM duckdb_tables', undefined, guarded()), apiError(403, 'forbidden', 'No read permission for collection duckdb_tables'));
      await assert.rejects(db.query('SELECT * FROM nope', undefined, guarded()), apiError(403, 'forbidden', 'No read permission for collection nope'));
    }));
});

describe('sql guard: everything else that could read around the policy is 403 forbidden', () => {
  test('other catalogs and schemas', () =>
    withSeeded(async (db) => {
      for (const sql of [
        'SELECT * FROM memory.main.secret',
        'SELECT * FROM memory.main.users',
        'SELECT * FROM system.main.users',
        'SELECT * FROM temp.main.users',
        'SELECT * FROM temp.users',
        'SELECT * FROM information_schema.tables',
        'SELECT * FROM information_schema.columns',
        'SELECT * FROM pg_catalog.pg_tables',
        'SELECT * FROM "default".information_schema.tables',
        'SELECT * FROM "default".users',
      ]) {
        const outcome = await attempt(db, sql);
        assertNoLeak(outcome, sql);
        assert.ok(apiError(403, 'forbidden')(outcome), sql);
      }
    }));

  test('table functions off the allow list, files, and catalog-reading functions', () =>
    withSeeded(async (db) => {
      for (const sql of [
        'SELECT * FROM duckdb_tables()',
        'SELECT * FROM duckdb_columns()',
        'SELECT * FROM duckdb_functions()',
        "SELECT * FROM pragma_table_info('secret')",
        'SELECT * FROM pragma_database_size()',
        "SELECT * FROM query('select * from secret')",
        "SELECT * FROM query_table('secret')",
        "SELECT * FROM query_table(['secret'])",
        "SELECT * FROM json_execute_serialized_sql(json_serialize_sql('SELECT * FROM secret'))",
        "SELECT json_execute_serialized_sql(json_serialize_sql('SELECT * FROM secret'))",
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM read_text('/etc/passwd')",
        "SELECT * FROM read_parquet('x.parquet')",
        "SELECT * FROM '/etc/passwd'",
        'SELECT * FROM "/etc/passwd"',
        "SELECT * FROM 'data.csv'",
        "SELECT * FROM 'https://example.com/x.csv'",
        "SELECT * FROM glob('*')",
        "SELECT * FROM sniff_csv('/etc/passwd')",
        'SELECT * FROM leak_table()',
        'SELECT * FROM test_all_types()',
        'SELECT * FROM repeat(1, 3)',
        "SELECT current_setting('threads')",
        "SELECT getvariable('x')",
        "SELECT nextval('s')",
        "SELECT currval('s')",
        "SELECT query('select 1')",
        "SELECT json_serialize_sql('SELECT 1')",
        "SELECT json_deserialize_sql('{}')",
        'SELECT leak()',
        'SELECT main.leak()',
        "SELECT pg_get_viewdef(1)",
        'SELECT get_block_size(current_database())',
        "SELECT setseed(0.5)",
        "SELECT name FROM users WHERE name = current_setting('threads')",
        "SELECT sum(length(getvariable('x'))) OVER () FROM users",
        "SELECT * FROM users ORDER BY nextval('s')",
        "SELECT list_transform([1], x -> nextval('s')) AS l",
        'SELECT system.main.abs(1)',
        'SELECT pg_catalog.abs(1)',
        'DESCRIBE users',
        'SUMMARIZE users',
        'SHOW TABLES',
        'SELECT * FROM (DESCRIBE secret)',
        'SELECT * FROM users AT (VERSION => 1)',
        'SELECT sum(total) EXPORT_STATE FROM orders',
        'SELECT enum_range(NULL::leaky) AS r',
        'SELECT enum_range(NULL::main.leaky) AS r',
        "SELECT 'x'::LEAKY AS r",
        'SELECT CAST(NULL AS STRUCT(a leaky)) AS r',
        'SELECT TRY_CAST(name AS leaky[]) AS r FROM users',
        'SELECT * FROM (VALUES (1)) v(a) WHERE a::VARCHAR::leaky IS NULL',
      ]) {
        const outcome = await attempt(db, sql);
        assertNoLeak(outcome, sql);
        assert.ok(apiError(403, 'forbidden')(outcome), sql);
      }
    }));

  test('nothing changes data or connection state: only a single SELECT is admitted', () =>
    withSeeded(async (db) => {
      const before = await checksum(db);
      for (const sql of [
        "INSERT INTO users (id) VALUES ('x')",
        "INSERT INTO users SELECT * FROM users",
        "UPDATE users SET name = 'x'",
        'DELETE FROM users',
        'DELETE FROM secret',
        'CREATE TABLE x (a INT)',
        'CREATE TABLE x AS SELECT * FROM secret',
        'CREATE VIEW x AS SELECT * FROM secret',
        'CREATE MACRO m() AS 1',
        'DROP TABLE secret',
        'DROP TABLE users',
        'ALTER TABLE users DROP COLUMN salary',
        "COPY users TO '/tmp/duckgate-guard-out.csv'",
        "COPY (SELECT * FROM secret) TO '/tmp/duckgate-guard-out.csv'",
        "ATTACH ':memory:' AS m",
        'DETACH "default"',
        'USE memory',
        "SET threads = 1",
        'SET VARIABLE x = 1',
        'PRAGMA table_info(secret)',
        'CALL pragma_table_info(\'secret\')',
        'EXPLAIN SELECT * FROM users',
        'BEGIN TRANSACTION',
        'CHECKPOINT',
        'EXPORT DATABASE \'/tmp/duckgate-guard-export\'',
        'INSTALL httpfs',
        'LOAD httpfs',
        'PREPARE p AS SELECT 1',
        'VACUUM',
        'SELECT 1; DELETE FROM users',
        'SELECT 1; SELECT 2',
        'SELECT * FROM users; DROP TABLE secret',
      ]) {
        const outcome = await attempt(db, sql);
        assertNoLeak(outcome, sql);
        assert.ok(apiError(403, 'forbidden')(outcome), `${sql} → ${JSON.stringify(outcome)}`);
      }
      assert.equal(await checksum(db), before);
    }));

});

describe('sql guard: building blocks', () => {
  test('lossless JSON keeps 64-bit and larger integers exactly', () => {
    const text = '{"a":18446744073709551615,"b":[-9223372036854775808,1.5e-7,0],"c":"x\\"y\\u00e9","d":null,"e":true,"f":{}}';
    const parsed = parseLosslessJson(text) as Record<string, unknown>;
    assert.ok(parsed.a instanceof RawNumber);
    assert.equal((parsed.a as RawNumber).text, '18446744073709551615');
    assert.equal(parsed.c, 'x"yé');
    assert.equal(stringifyLosslessJson(parseLosslessJson(text)), text.replace('\\u00e9', 'é'));
    assert.throws(() => parseLosslessJson('{"a":1,"a":2}'));
    assert.throws(() => parseLosslessJson('{"a":1} x'));
    assert.throws(() => parseLosslessJson('[1,]'));
  });

  test('visibleColumns: id always, names case-insensitive, unknown names ignored', () => {
    const cols = ['id', 'Name', 'salary', 'ssn'];
    assert.deepEqual(visibleColumns(cols, {}), cols);
    assert.deepEqual(visibleColumns(cols, { exclude_fields: ['SALARY', 'nope', 'id'] }), ['id', 'Name', 'ssn']);
    assert.deepEqual(visibleColumns(cols, { select_fields: ['name', 'ghost'] }), ['id', 'Name']);
    assert.deepEqual(visibleColumns(cols, { select_fields: ['name', 'ssn'], exclude_fields: ['ssn'] }), ['id', 'Name']);
  });

  test('forbidden function names', () => {
    for (const name of ['query', 'QUERY_TABLE', 'duckdb_tables', 'pragma_table_info', 'read_csv_auto', 'glob', 'current_setting', 'nextval', 'getvariable', 'json_execute_serialized_sql']) {
      assert.ok(isForbiddenFunction(name), name);
    }
    for (const name of ['abs', 'sum', 'list_transform', 'upper']) assert.ok(!isForbiddenFunction(name), name);
  });
});

describe('sql guard: lossless JSON', () => {
  test('lossless JSON handles keys such as __proto__ as plain data', () => {
    const parsed = parseLosslessJson('{"__proto__":{"polluted":1},"constructor":2}') as Record<string, unknown>;
    assert.deepEqual(Object.keys(parsed), ['__proto__', 'constructor']);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.equal(stringifyLosslessJson(parseLosslessJson('{"__proto__":{"a":[1,2.50,-3e5]}}')), '{"__proto__":{"a":[1,2.50,-3e5]}}');
  });
});
