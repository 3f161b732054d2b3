/**
 * SQL on the PostgreSQL data engine: admin statements run as DATA_URL's locked-down role, and a
 * scoped caller's SELECT passes PostgreSQL's own parser, the whole-tree allow lists and the
 * projection views (`src/data/postgres/guard.ts`). The PostgreSQL-specific escapes (pg_sleep,
 * set_config, lo_*, pg_ls_dir, query_to_xml, dblink, COPY, writing CTEs, catalog reads) are
 * refused or come back without a hidden value, and leave the data unchanged.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import type { Database } from '../../src/data/engine.js';
import { isApiError } from '../../src/errors.js';
import { ENGINES } from './engines.js';
import { assertNoLeak, attempt, guarded } from './sql-guard-fixture.js';
import { checksum, seed } from './postgres-sql-fixture.js';

const ADMIN = { timeoutMs: 10_000 };
const postgres = ENGINES.find((e) => e.name === 'postgres')!;

async function withPg(run: (db: Database) => Promise<void>): Promise<void> {
  const opened = await postgres.open();
  try {
    await run(opened.engine.database('default'));
  } finally {
    await opened.cleanup();
  }
}

describe('PostgreSQL SQL: scoped callers', { skip: postgres.skip }, () => {
  test('a readable table answers with its visible columns only, however "all columns" is spelled', () =>
    withPg(async (db) => {
      await seed(db);
      const cases: [string, unknown][] = [
        ['SELECT * FROM users ORDER BY id', [{ id: 'u1', name: 'Ada', dept: 'eng' }, { id: 'u2', name: 'Bob', dept: 'ops' }]],
        ['SELECT u.* FROM users u ORDER BY id LIMIT 1', [{ id: 'u1', name: 'Ada', dept: 'eng' }]],
        ['SELECT row_to_json(u) AS j FROM users u ORDER BY id LIMIT 1', [{ j: { id: 'u1', name: 'Ada', dept: 'eng' } }]],
        ['SELECT to_jsonb(u) AS j FROM "USERS" u ORDER BY id LIMIT 1', [{ j: { id: 'u1', name: 'Ada', dept: 'eng' } }]],
        ['WITH c AS (SELECT * FROM users) SELECT * FROM c ORDER BY id LIMIT 1', [{ id: 'u1', name: 'Ada', dept: 'eng' }]],
        ['TABLE notes', [{ id: 'n1', label: 'first' }]],
        ['SELECT o.total, u.name FROM orders o JOIN users u ON u.id = o.user_id ORDER BY o.id LIMIT 1', [{ total: 10, name: 'Ada' }]],
        ['SELECT count(*) AS n, sum(total) AS t FROM orders', [{ n: 3, t: 22 }]],
      ];
      for (const [sql, expected] of cases) {
        const out = await db.query(sql, undefined, guarded());
        assertNoLeak(out, sql);
        assert.deepEqual(out.result, expected, sql);
      }
    }));

  test('hidden columns do not exist; forbidden tables are refused by name', () =>
    withPg(async (db) => {
      await seed(db);
      for (const sql of ['SELECT salary FROM users', 'SELECT u.ssn FROM users u', 'SELECT note FROM notes', 'SELECT * FROM users WHERE salary > 0']) {
        const outcome = await attempt(db, sql);
        assert.ok(isApiError(outcome) && outcome.status === 400, `${sql}: ${String(outcome)}`);
        assertNoLeak(outcome, sql);
      }
      for (const sql of ['SELECT * FROM secret', 'SELECT * FROM secret_view', 'SELECT * FROM users, secret', 'SELECT (SELECT v FROM secret) FROM users']) {
        const outcome = await attempt(db, sql);
        assert.ok(isApiError(outcome) && outcome.status === 403, `${sql}: ${String(outcome)}`);
      }
    }));

  test('PostgreSQL-specific escapes are refused and change nothing', () =>
    withPg(async (db) => {
      await seed(db);
      const before = await checksum(db);
      const escapes = [
        'SELECT pg_sleep(5)',
        "SELECT set_config('search_path', 'public', false)",
        "SELECT current_setting('data_directory')",
        "SELECT lo_import('/etc/passwd')",
        'SELECT lo_get(1)',
        "SELECT pg_ls_dir('.')",
        "SELECT pg_read_file('/etc/passwd')",
        "SELECT query_to_xml('select * from secret', true, true, '')",
        "SELECT dblink('host=127.0.0.1', 'select 1')",
        'COPY users TO STDOUT',
        "COPY (SELECT 1) TO PROGRAM 'id'",
        'WITH d AS (DELETE FROM users RETURNING *) SELECT * FROM d',
        'WITH d AS (INSERT INTO orders VALUES (1, 2, 3) RETURNING *) SELECT 1',
        'SELECT * INTO stolen FROM users',
        'SELECT * FROM users FOR UPDATE',
        'SELECT * FROM pg_catalog.pg_class',
        'SELECT relname FROM pg_class',
        'SELECT * FROM information_schema.tables',
        'SELECT * FROM pg_authid',
        "SELECT 'secret'::regclass",
        'SELECT leak()',
        'SELECT public.leak()',
        'SELECT current_user',
        'SELECT current_schema',
        "SELECT * FROM generate_series(1, 2) g, LATERAL (SELECT v FROM secret) s",
        'WITH secret AS (SELECT 1 AS v) SELECT * FROM secret',
        'WITH pg_class AS (SELECT 1) SELECT 1',
        'SELECT txid_current()',
        "SELECT nextval('s')",
        'SELECT * FROM users; DROP TABLE users',
        'DELETE FROM users',
        'SELECT OPERATOR(pg_catalog.+)(1, 2)',
        "SELECT xmlparse(document '<a/>')",
        "SELECT json_table('[]', '$' COLUMNS (a int PATH '$'))",
      ];
      for (const sql of escapes) {
        const outcome = await attempt(db, sql);
        assert.ok(isApiError(outcome) && outcome.status >= 400 && outcome.status < 500, `not refused: ${sql}: ${JSON.stringify(outcome)}`);
        assertNoLeak(outcome, sql);
      }
      assert.equal(await checksum(db), before);
    }));

  test('a WITH inside any arm of a set operation is walked like the statement\'s own', () =>
    withPg(async (db) => {
      await seed(db);
      const before = await checksum(db);
      const answered = await db.query('SELECT name FROM users UNION ALL (WITH c AS (SELECT * FROM users) SELECT dept FROM c) ORDER BY 1', undefined, guarded());
      assert.deepEqual(answered.result, [{ name: 'Ada' }, { name: 'Bob' }, { name: 'eng' }, { name: 'ops' }]);
      assertNoLeak(answered, 'union arm with a CTE');
      for (const [sql, status] of [
        ['SELECT id FROM users UNION (WITH c AS (SELECT * FROM users) SELECT ssn FROM c)', 400],
        ['SELECT id FROM users UNION (WITH c AS (SELECT v FROM secret) SELECT v FROM c)', 403],
        ['SELECT id FROM users UNION (WITH d AS (DELETE FROM users RETURNING id) SELECT id FROM d)', 403],
        ["(WITH c AS (SELECT pg_sleep(1) AS x) SELECT x::text FROM c) UNION SELECT id FROM users", 403],
        ['SELECT 1 EXCEPT (WITH secret AS (SELECT 1) SELECT * FROM secret)', 403],
      ] as const) {
        const outcome = await attempt(db, sql);
        assert.ok(isApiError(outcome) && outcome.status === status, `${sql}: ${JSON.stringify(outcome)}`);
        assertNoLeak(outcome, sql);
      }
      // A full-data key (SELECT, INSERT, UPDATE, DELETE): a SELECT writing through an arm's WITH is not a SELECT.
      const full = { timeoutMs: 10_000, allowedStatements: ['SELECT', 'INSERT', 'UPDATE', 'DELETE'] as const };
      await assert.rejects(
        db.query('SELECT id FROM users UNION (WITH d AS (DELETE FROM users RETURNING id) SELECT id FROM d)', undefined, { ...full, allowedStatements: [...full.allowedStatements] }),
        (error: unknown) => isApiError(error) && error.status === 403,
      );
      assert.equal(await checksum(db), before);
    }));

  test('a function or operator defined in the database cannot stand in for a built-in', () =>
    withPg(async (db) => {
      await seed(db);
      await db.query('CREATE FUNCTION lower(integer) RETURNS text LANGUAGE sql AS $$ SELECT v FROM secret LIMIT 1 $$', undefined, ADMIN);
      await db.query('CREATE FUNCTION cat(text, integer) RETURNS text LANGUAGE sql AS $$ SELECT v FROM secret LIMIT 1 $$', undefined, ADMIN);
      await db.query('CREATE OPERATOR ||| (LEFTARG = text, RIGHTARG = integer, FUNCTION = cat)', undefined, ADMIN);
      for (const sql of ['SELECT lower(1) AS x', "SELECT name ||| 1 AS x FROM users"]) {
        const outcome = await attempt(db, sql);
        assert.ok(isApiError(outcome) && outcome.status === 403, `${sql}: ${JSON.stringify(outcome)}`);
        assertNoLeak(outcome, sql);
      }
      // Names nobody redefined still work.
      assert.deepEqual((await db.query("SELECT upper('ab') AS x", undefined, guarded())).result, [{ x: 'AB' }]);
    }));

  test('the statement runs read-only: a built-in that writes cannot', () =>
    withPg(async (db) => {
      await seed(db);
      // gen_random_uuid is allowed; nothing allowed writes, and the transaction is read-only anyway.
      const out = await db.query('SELECT length(gen_random_uuid()::text) AS n', undefined, guarded());
      assert.deepEqual(out.result, [{ n: 36 }]);
    }));

  test('the deadline cancels a scoped query and the row budget cuts it short', () =>
    withPg(async (db) => {
      await seed(db);
      const started = performance.now();
      await assert.rejects(
        db.query('SELECT count(*) FROM generate_series(1, 100000000000) a', undefined, guarded(300)),
        (error: unknown) => isApiError(error) && error.status === 408,
      );
      assert.ok(performance.now() - started < 5000);
      const out = await db.query('SELECT * FROM generate_series(1, 1000000) g', undefined, { ...guarded(), budget: { maxRows: 5, maxBytes: 1 << 20 } });
      assert.equal(out.rowCount, 5);
      assert.equal(out.truncatedBy, 'rows');
    }));
});

describe('PostgreSQL SQL: admins', { skip: postgres.skip }, () => {
  test('any data statement runs; connection state and server escapes are refused', () =>
    withPg(async (db) => {
      await seed(db);
      assert.deepEqual((await db.query('SELECT $1::int + 1 AS n', [41], ADMIN)).result, [{ n: 42 }]);
      for (const sql of ['SET search_path TO public', 'RESET ROLE', 'BEGIN', 'COPY users TO STDOUT', 'LISTEN x', 'SELECT 1; SELECT 2', 'DISCARD ALL']) {
        await assert.rejects(db.query(sql, undefined, ADMIN), (error: unknown) => isApiError(error) && error.status === 400, sql);
      }
      // The role is locked down: PostgreSQL itself refuses what would leave duckgate's schemas.
      for (const sql of ["SELECT pg_read_file('/etc/passwd')", "SELECT pg_ls_dir('.')", "SELECT lo_import('/etc/passwd')", 'CREATE EXTENSION dblink', "SELECT set_config('role', 'postgres', false)"]) {
        await assert.rejects(db.query(sql, undefined, ADMIN), (error: unknown) => isApiError(error) && error.status === 400, sql);
      }
    }));

  test('what a statement does to its session ends with it', () =>
    withPg(async (db) => {
      await seed(db);
      await db.query("SELECT set_config('search_path', 'pg_catalog', false)", undefined, ADMIN);
      await db.query("SELECT set_config('statement_timeout', '1', false)", undefined, ADMIN);
      // Every pooled connection still resolves duckgate's tables and has its timeout.
      for (let i = 0; i < 8; i++) assert.equal((await db.query('SELECT count(*) AS n FROM users', undefined, ADMIN)).result[0]?.n, 2);
      assert.equal((await db.find('users', {})).length, 2);
    }));

  test('named parameters are a clear 400 on PostgreSQL', () =>
    withPg(async (db) => {
      await assert.rejects(db.query('SELECT $1', { x: 1 }, ADMIN), (error: unknown) => isApiError(error) && error.code === 'sql_error' && /Named parameters/.test(error.message));
    }));
});
