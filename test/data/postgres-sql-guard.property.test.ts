/**
 * The SQL guard's property on PostgreSQL: the same generator as `sql-guard.property.test.ts`
 * (every construct the guard walks, hidden columns, forbidden tables, trap functions, writes), plus
 * PostgreSQL's own escapes (pg_sleep, set_config, lo_*, pg_ls_dir, query_to_xml, dblink, COPY,
 * writing CTEs, catalog reads, reg* casts) placed anywhere an expression or a table can stand. A
 * query that touches anything forbidden is refused, no marker ever comes back, nothing changes.
 * (The generator speaks DuckDB's dialect too, so a query touching nothing may still be refused on
 * PostgreSQL, say for a `main.` prefix: only the safety direction is asserted here.)
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
];

const pick = <T>(list: readonly T[]): fc.Arbitrary<T> => fc.constantFrom(...list);

/** An escape placed in a random position of an otherwise readable query. */
const pgEscape: fc.Arbitrary<Sql> = fc.oneof(
  fc.tuple(pick(PG_SCALAR_ESCAPES), fc.integer({ min: 0, max: 5 })).map(([e, where]) => {
    const forms = [
      `SELECT ${e} FROM users`,
      `SELECT id FROM users WHERE ${e} IS NOT NULL`,
      `SELECT id FROM users ORDER BY ${e}`,
      `SELECT CASE WHEN id = 'u1' THEN ${e} END FROM users`,
      `WITH c AS (SELECT ${e} AS x) SELECT * FROM c`,
      `SELECT (SELECT ${e}) AS x FROM orders`,
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
});
