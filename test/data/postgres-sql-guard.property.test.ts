/**
 * The SQL guard's property on PostgreSQL: the same generator as `sql-guard.property.test.ts`
 * (every construct the guard walks, hidden columns, forbidden tables, trap functions, writes), plus
 * PostgreSQL's own escapes (pg_sleep, set_config, lo_*, pg_ls_dir, query_to_xml, dblink, COPY,
 * writing CTEs, catalog reads, reg* casts) placed anywhere an expression or a table can stand. A
 * query that touches anything forbidden is refused, no marker ever comes back, nothing changes.
 * (The shared generator speaks DuckDB's dialect too, so a query of it touching nothing may still be
 * refused on PostgreSQL, say for a `main.` prefix: for it only the safety direction is asserted.)
 * The other direction has a generator of its own in PostgreSQL's dialect: queries over visible
 * columns only (CTEs in UNION arms, joins, aggregates, allowed functions), each of which must be
 * answered, with the rows an admin gets for the same text. Scoped SQL runs as the reader role
 * (DATA_READER_URL) here, as in production.
 *
 * Replay a failure with `FC_SEED=<seed> node --import tsx --test test/data/postgres-sql-guard.property.test.ts`.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { Database } from '../../src/data/engine.js';
import { isApiError } from '../../src/errors.js';
import { ENGINES } from './engines.js';
import { statement, type Sql } from './sql-guard-arbitraries.js';
import { assertNoLeak, attempt } from './sql-guard-fixture.js';
import { checksum, seed } from './postgres-sql-fixture.js';

const NUM_RUNS = 300;
const SEED = process.env.FC_SEED !== undefined ? Number(process.env.FC_SEED) : (Math.random() * 2 ** 31) | 0;
const REPLAY = `seed ${SEED}: replay with FC_SEED=${SEED}`;
const postgres = ENGINES.find((e) => e.name === 'postgres')!;

/** Expressions that reach beyond the visible data on PostgreSQL. */
const PG_SCALAR_ESCAPES = [
  'pg_sleep(0)',
  "set_config('search_path', 'public', false)",
  "current_setting('data_directory')",
  "lo_import('/etc/passwd')",
  'lo_get(1)',
  "lo_export(1, '/tmp/x')",
  "pg_ls_dir('.')",
  "pg_read_file('/etc/passwd')",
  "query_to_xml('select * from secret', true, true, '')",
  "table_to_xml('secret', true, true, '')",
  "dblink('host=127.0.0.1', 'select v from secret')",
  "'secret'::regclass",
  "to_regclass('secret')",
  "has_table_privilege('secret', 'SELECT')",
  'leak()',
  'public.leak()',
  'pg_catalog.version()',
  'current_user',
  'session_user',
  'current_schema',
  'inet_server_addr()',
  'pg_backend_pid()',
  'txid_current()',
  "nextval('s')",
  "(SELECT v FROM secret LIMIT 1)",
  "(SELECT relname FROM pg_class LIMIT 1)::text",
  "(SELECT count(*) FROM pg_catalog.pg_authid)",
  'OPERATOR(pg_catalog.||)(name, name)',
  "pg_read_binary_file('/etc/passwd')",
  "pg_stat_file('.')",
  'lo_create(0)',
  "lo_from_bytea(0, 'x')",
  'pg_advisory_lock(1)',
  'pg_terminate_backend(1)',
  'pg_cancel_backend(1)',
  "pg_notify('c', 'x')",
  "database_to_xml(true, true, '')",
  "cursor_to_xml('c', 1, true, true, '')",
  "pg_logical_emit_message(true, 'x', 'y')",
  "current_setting('role')",
  "set_config('role', 'postgres', true)",
  "(SELECT setting FROM pg_settings LIMIT 1)",
];

const PG_TABLE_ESCAPES = [
  'pg_class',
  'pg_catalog.pg_roles',
  'information_schema.columns',
  'pg_stat_activity',
  'secret',
  'secret_view',
  "pg_ls_dir('.') AS f(x)",
  "dblink('x', 'y') AS d(x text)",
];

const PG_STATEMENTS = [
  'COPY secret TO STDOUT',
  "COPY (SELECT 1) TO PROGRAM 'id'",
  'WITH d AS (DELETE FROM users RETURNING *) SELECT * FROM d',
  "WITH i AS (INSERT INTO orders VALUES ('x', 'y', 1) RETURNING *) SELECT 1",
  'SELECT * INTO stolen FROM users',
  'SELECT * FROM users FOR UPDATE',
  "SET search_path TO public",
  'RESET ROLE',
  'BEGIN',
  "PREPARE p AS SELECT v FROM secret",
  'LISTEN x',
  'DISCARD ALL',
  // A writing CTE inside a UNION arm: each arm's WITH is walked (it once was not).
  'SELECT id FROM users UNION ALL (WITH d AS (DELETE FROM users RETURNING id) SELECT id FROM d)',
  "(WITH i AS (INSERT INTO orders VALUES ('x', 'y', 1) RETURNING id) SELECT id FROM i) UNION SELECT id FROM orders",
  'SELECT id FROM orders EXCEPT (WITH u AS (UPDATE users SET name = 1 RETURNING id) SELECT id FROM u)',
  'MERGE INTO users u USING orders o ON u.id = o.user_id WHEN MATCHED THEN DELETE',
  "DO $$ BEGIN DELETE FROM users; END $$",
  'CALL p()',
  'CREATE TEMP TABLE t AS SELECT * FROM users',
  'EXPLAIN ANALYZE DELETE FROM users',
  'VACUUM users',
  'TRUNCATE users',
  "SET ROLE postgres",
  "SET SESSION AUTHORIZATION postgres",
];

const pick = <T>(list: readonly T[]): fc.Arbitrary<T> => fc.constantFrom(...list);

/** An escape placed in a random position of an otherwise readable query. */
const pgEscape: fc.Arbitrary<Sql> = fc.oneof(
  fc.tuple(pick(PG_SCALAR_ESCAPES), fc.integer({ min: 0, max: 7 })).map(([e, where]) => {
    const forms = [
      `SELECT ${e} FROM users`,
      `SELECT id FROM users WHERE ${e} IS NOT NULL`,
      `SELECT id FROM users ORDER BY ${e}`,
      `SELECT CASE WHEN id = 'u1' THEN ${e} END FROM users`,
      `WITH c AS (SELECT ${e} AS x) SELECT * FROM c`,
      `SELECT (SELECT ${e}) AS x FROM orders`,
      `SELECT id FROM users UNION ALL (WITH c AS (SELECT ${e} AS x) SELECT x::text FROM c)`,
      `(WITH c AS (SELECT ${e} AS x FROM orders) SELECT x::text FROM c) INTERSECT SELECT id FROM orders`,
    ];
    return { sql: forms[where]!, touches: [`escape ${e}`] };
  }),
  fc.tuple(pick(PG_TABLE_ESCAPES), fc.integer({ min: 0, max: 3 })).map(([t, where]) => {
    const forms = [
      `SELECT * FROM ${t}`,
      `SELECT u.id FROM users u JOIN ${t} ON true`,
      `SELECT * FROM users u, LATERAL (SELECT * FROM ${t}) z`,
      `SELECT id FROM users WHERE EXISTS (SELECT 1 FROM ${t})`,
    ];
    return { sql: forms[where]!, touches: [`table ${t}`] };
  }),
  pick(PG_STATEMENTS).map((s) => ({ sql: s, touches: [`statement ${s}`] })),
);

/** What a scoped caller of the fixture policy sees: users without salary/ssn, orders, notes' label. */
const VISIBLE: Record<string, string[]> = { users: ['id', 'name', 'dept'], orders: ['id', 'user_id', 'total'], notes: ['id', 'label'] };
const textOf: Record<string, (c: string) => string> = {
  id: (c) => c, name: (c) => `upper(${c})`, dept: (c) => `coalesce(${c}, '-')`, user_id: (c) => c, total: (c) => `round(${c})::text`, label: (c) => `lower(${c})`,
};

/** One readable SELECT producing a single text column `v`. */
const readableArm: fc.Arbitrary<string> = fc
  .tuple(pick(Object.keys(VISIBLE)), fc.nat(), fc.boolean(), fc.integer({ min: 0, max: 3 }))
  .map(([table, n, filter, form]) => {
    const column = VISIBLE[table]![n % VISIBLE[table]!.length]!;
    const value = textOf[column]!(column);
    const where = filter ? ` WHERE ${column} IS NOT NULL` : '';
    const forms = [
      `SELECT ${value} AS v FROM ${table}${where}`,
      `(WITH c AS (SELECT * FROM ${table}${where}) SELECT ${value} AS v FROM c)`,
      `SELECT count(*)::text AS v FROM ${table}${where}`,
      `SELECT ${value} AS v FROM ${table} t${where} AND EXISTS (SELECT 1 FROM orders o WHERE o.user_id IS NOT NULL)`.replace(`t AND`, 't WHERE'),
    ];
    return forms[form]!;
  });

/** Readable queries: single arms, set operations whose arms may carry their own WITH, joins. */
const readable: fc.Arbitrary<string> = fc.oneof(
  readableArm,
  fc.tuple(readableArm, readableArm, pick(['UNION', 'UNION ALL', 'INTERSECT', 'EXCEPT'])).map(([a, b, op]) => `${a} ${op} ${b}`),
  fc.tuple(readableArm, readableArm).map(([a, b]) => `WITH x AS (${a}) SELECT v FROM x UNION ALL (WITH y AS (${b}) SELECT v FROM y)`),
  pick([
    'SELECT u.name AS v FROM users u JOIN orders o ON o.user_id = u.id',
    'SELECT string_agg(label, \',\' ORDER BY label) AS v FROM notes',
    'SELECT dept AS v FROM users GROUP BY dept HAVING count(*) > 0',
    'SELECT json_build_object(\'n\', name)::text AS v FROM users',
  ]),
);

const sorted = (rows: unknown[]): string[] => rows.map((row) => JSON.stringify(row)).sort();

async function withPg(run: (db: Database) => Promise<void>): Promise<void> {
  const opened = await postgres.open();
  try {
    await run(opened.engine.database('default'));
  } finally {
    await opened.cleanup();
  }
}

describe('sql guard on PostgreSQL: properties', { skip: postgres.skip }, () => {
  test(`${NUM_RUNS} random queries and PostgreSQL escapes: every one touching something forbidden is refused, no marker comes back, nothing changes (${REPLAY})`, (t) =>
    withPg(async (db) => {
      t.diagnostic(REPLAY);
      await seed(db);
      const before = await checksum(db);
      let answered = 0;
      let touching = 0;
      await fc.assert(
        fc.asyncProperty(fc.oneof({ weight: 2, arbitrary: statement }, { weight: 1, arbitrary: pgEscape }), async ({ sql, touches }) => {
          const outcome = await attempt(db, sql);
          if (outcome instanceof Error && !isApiError(outcome)) throw outcome;
          assertNoLeak(outcome, sql);
          if (isApiError(outcome)) assert.ok([400, 403].includes(outcome.status), `${sql}: ${outcome.status} ${outcome.message}`);
          else answered++;
          if (touches.length > 0) {
            touching++;
            assert.ok(isApiError(outcome), `answered although it touches ${touches.join(', ')}:\n${sql}`);
          }
          assert.equal(await checksum(db), before, `changed something: ${sql}`);
        }),
        { numRuns: NUM_RUNS, seed: SEED, endOnFailure: true },
      );
      t.diagnostic(`${answered} answered, ${touching} touched something forbidden`);
      assert.ok(answered > 0, 'no query was answered: the property says little');
      assert.ok(touching > NUM_RUNS / 10, `${touching} of ${NUM_RUNS} touched something forbidden`);
    }));

  test(`${NUM_RUNS / 2} random readable queries (visible columns only): every one is answered, with the rows an admin gets (${REPLAY})`, (t) =>
    withPg(async (db) => {
      t.diagnostic(REPLAY);
      await seed(db);
      await fc.assert(
        fc.asyncProperty(readable, async (sql) => {
          const outcome = await attempt(db, sql);
          assert.ok(!(outcome instanceof Error), `refused although it reads visible columns only:\n${sql}\n${String(outcome)}`);
          const admin = await db.query(sql, undefined, { timeoutMs: 10_000 });
          assert.deepEqual(sorted((outcome as { result: unknown[] }).result), sorted(admin.result), sql);
        }),
        { numRuns: NUM_RUNS / 2, seed: SEED, endOnFailure: true },
      );
    }));
});
