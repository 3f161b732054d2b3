/**
 * Property tests for the SQL guard: random queries built from every construct the guard walks
 * (subqueries, CTEs, set operations, LATERAL, scalar subqueries, EXISTS/IN, joins, aliases, case
 * and quoting variants) over a schema with hidden columns and forbidden tables. The generator
 * labels what each query touches (`sql-guard-arbitraries.ts`): a query that touches something
 * forbidden (a hidden column through any construct, a forbidden table, a file, another catalog, a
 * trap function, a write, a table that does not exist) must be refused, one that touches nothing
 * must not be refused as forbidden, and whatever happens, no marker value comes back and nothing
 * changes.
 *
 * Each run draws a new seed, printed in the test names; replay a failure with
 * `FC_SEED=<seed> [FC_PATH=<path>] node --import tsx --test test/data/sql-guard.property.test.ts`.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { query, statement } from './sql-guard-arbitraries.js';
import type { QueryResult } from '../../src/data/engine.js';
import { isApiError } from '../../src/errors.js';
import { withDb } from './helpers.js';
import { assertNoLeak, attempt, checksum, MARKER, seed } from './sql-guard-fixture.js';

const NUM_RUNS = 500;
const SEED = process.env.FC_SEED !== undefined ? Number(process.env.FC_SEED) : (Math.random() * 2 ** 31) | 0;
const REPLAY = `seed ${SEED}: replay with FC_SEED=${SEED}`;
if (!Number.isInteger(SEED)) throw new Error(`FC_SEED must be an integer (got ${process.env.FC_SEED})`);

function describeOutcome(outcome: unknown): string {
  if (isApiError(outcome)) return `${outcome.status} ${outcome.code}`;
  return 'ok';
}

describe('sql guard: properties', () => {
  test(`${NUM_RUNS} random queries: every one touching a forbidden source is refused, no marker ever comes back, nothing changes (${REPLAY})`, (t) =>
    withDb(async (db) => {
      t.diagnostic(REPLAY);
      await seed(db);
      const before = await checksum(db);
      const outcomes = new Map<string, number>();
      let touching = 0;
      await fc.assert(
        fc.asyncProperty(statement, async ({ sql, touches }) => {
          const outcome = await attempt(db, sql);
          if (outcome instanceof Error && !isApiError(outcome)) throw outcome;
          assertNoLeak(outcome, sql);
          // A 5xx or anything but 400/403 would mean the guard itself broke.
          if (isApiError(outcome)) assert.ok([400, 403].includes(outcome.status), `${sql}: ${outcome.status} ${outcome.message}`);
          if (touches.length > 0) {
            touching++;
            assert.ok(isApiError(outcome), `answered although it touches ${touches.join(', ')}:\n${sql}`);
          } else {
            // And the other way round: what touches nothing forbidden is never refused as forbidden
            // (it may still fail to bind, e.g. an ambiguous column).
            assert.ok(!(isApiError(outcome) && outcome.status === 403), `refused although it touches nothing forbidden: ${sql}\n${(outcome as Error).message}`);
          }
          outcomes.set(describeOutcome(outcome), (outcomes.get(describeOutcome(outcome)) ?? 0) + 1);
          assert.equal(await checksum(db), before, `changed something: ${sql}`);
        }),
        { numRuns: NUM_RUNS, seed: SEED, endOnFailure: true, ...(process.env.FC_PATH ? { path: process.env.FC_PATH } : {}) },
      );
      t.diagnostic(`outcomes: ${JSON.stringify([...outcomes])}; ${touching} touched something forbidden`);
      // The generator must exercise all three outcomes and both kinds of query, or the property says little.
      assert.ok((outcomes.get('ok') ?? 0) > 0, `no query succeeded: ${JSON.stringify([...outcomes])}`);
      assert.ok((outcomes.get('403 forbidden') ?? 0) > 0, `nothing refused: ${JSON.stringify([...outcomes])}`);
      assert.ok((outcomes.get('400 sql_error') ?? 0) > 0, `no bind errors: ${JSON.stringify([...outcomes])}`);
      assert.ok(touching > NUM_RUNS / 10 && NUM_RUNS - touching > NUM_RUNS / 20, `${touching} of ${NUM_RUNS} touched something forbidden`);
    }));

  test(`the same generator leaks and answers forbidden queries without the guard: the property has teeth (${REPLAY})`, (t) =>
    withDb(async (db) => {
      await seed(db);
      let leaked = 0;
      let ran = 0;
      let answeredForbidden = 0;
      for (const { sql, touches } of fc.sample(query, { numRuns: 150, seed: SEED })) {
        let out: QueryResult;
        try {
          out = await db.query(sql, undefined, { timeoutMs: 10_000, allowedStatements: ['SELECT'] });
        } catch {
          continue;
        }
        ran++;
        if (JSON.stringify(out).includes(MARKER)) leaked++;
        if (touches.length > 0) answeredForbidden++;
      }
      t.diagnostic(`unguarded: ${ran} of 150 ran, ${leaked} exposed the marker, ${answeredForbidden} touched something forbidden and answered`);
      assert.ok(ran > 0);
      assert.ok(leaked > 0, `expected unguarded queries to expose the marker (${ran} ran)`);
      // More than the marker check sees: a forbidden read that returns no marker (a count, a hidden
      // number, a column name) is still caught by the refusal requirement.
      assert.ok(answeredForbidden > leaked, `${answeredForbidden} forbidden queries answered unguarded, ${leaked} showed the marker`);
    }));

  test(`${NUM_RUNS / 3 | 0} random queries over visible data answer exactly as DuckDB does unguarded (${REPLAY})`, () =>
    withDb(async (db) => {
      await seed(db);
      // Only readable tables, only visible columns, always aliased and fully ordered.
      const visible = fc.constantFrom('id', 'name', 'dept');
      const src = fc.letrec<{ q: string; from: string }>((tie) => ({
        q: fc.oneof(
          { maxDepth: 2, depthIdentifier: 'eq' },
          fc.tuple(visible, tie('from'), fc.option(visible, { nil: undefined })).map(([c, from, w]) => `SELECT ${c} AS a FROM ${from}${w ? ` WHERE ${w} IS NOT NULL` : ''}`),
          fc.tuple(tie('q'), fc.constantFrom('UNION', 'UNION ALL', 'EXCEPT', 'INTERSECT'), tie('q')).map(([a, op, b]) => `(${a}) ${op} (${b})`),
          fc.tuple(tie('q'), fc.constantFrom('users', 'c', 'secret')).map(([body, name]) => `WITH ${name} AS (SELECT id, name, dept FROM users) SELECT a FROM (${body}) z`),
        ),
        from: fc.oneof(
          { maxDepth: 2, depthIdentifier: 'ef' },
          fc.constantFrom('users', 'USERS u', 'main.users AS x', '"default".main.users'),
          tie('q').map((q) => `(SELECT a AS id, a AS name, a AS dept FROM (${q}) w) s`),
          fc.constant('users u JOIN orders o ON o.user_id = u.id'),
          fc.constant('users u, LATERAL (SELECT count(*) AS k FROM orders o WHERE o.user_id = u.id) l'),
        ),
      }));
      const queries = fc.sample(src.q, { numRuns: (NUM_RUNS / 3) | 0, seed: SEED });
      let compared = 0;
      for (const body of queries) {
        const sql = `SELECT * FROM (${body}) final ORDER BY ALL`;
        const plain = await db.query(sql, undefined, { timeoutMs: 10_000 }).catch((e: unknown) => e);
        const scoped = await attempt(db, sql);
        assertNoLeak(scoped, sql);
        if (isApiError(plain)) {
          assert.ok(isApiError(scoped), `${sql}: unguarded failed (${plain.message}) but guarded did not`);
          continue;
        }
        assert.ok(!isApiError(scoped), `${sql}: ${(scoped as Error).message}`);
        assert.deepEqual((scoped as QueryResult).result, (plain as QueryResult).result, sql);
        assert.deepEqual((scoped as QueryResult).columns, (plain as QueryResult).columns, sql);
        compared++;
      }
      assert.ok(compared > queries.length / 2, `only ${compared} of ${queries.length} compared`);
    }));
});
