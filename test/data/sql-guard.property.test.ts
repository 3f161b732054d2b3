/**
 * Property tests for the SQL guard: random queries built from every construct the guard walks
 * (subqueries, CTEs, set operations, LATERAL, scalar subqueries, EXISTS/IN, joins, aliases, case
 * and quoting variants) over a schema with hidden columns and forbidden tables. Whatever happens —
 * success or refusal — no marker value comes back and nothing changes.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { statement, tree } from './sql-guard-arbitraries.js';
import type { QueryResult } from '../../src/data/engine.js';
import { isApiError } from '../../src/errors.js';
import { withDb } from './helpers.js';
import { assertNoLeak, attempt, checksum, MARKER, seed } from './sql-guard-fixture.js';

const NUM_RUNS = 300;
const SEED = 20240611;

function describeOutcome(outcome: unknown): string {
  if (isApiError(outcome)) return `${outcome.status} ${outcome.code}`;
  return 'ok';
}

describe('sql guard: properties', () => {
  test(`${NUM_RUNS} random queries: no marker ever comes back and nothing changes`, (t) =>
    withDb(async (db) => {
      await seed(db);
      const before = await checksum(db);
      const outcomes = new Map<string, number>();
      await fc.assert(
        fc.asyncProperty(statement, async (sql) => {
          const outcome = await attempt(db, sql);
          if (outcome instanceof Error && !isApiError(outcome)) throw outcome;
          assertNoLeak(outcome, sql);
          // A 5xx or anything but 400/403 would mean the guard itself broke.
          if (isApiError(outcome)) assert.ok([400, 403].includes(outcome.status), `${sql}: ${outcome.status} ${outcome.message}`);
          outcomes.set(describeOutcome(outcome), (outcomes.get(describeOutcome(outcome)) ?? 0) + 1);
          assert.equal(await checksum(db), before, `changed something: ${sql}`);
        }),
        { numRuns: NUM_RUNS, seed: SEED, endOnFailure: true },
      );
      t.diagnostic(`outcomes: ${JSON.stringify([...outcomes])}`);
      // The generator must exercise all three outcomes, or the property says little.
      assert.ok((outcomes.get('ok') ?? 0) > 0, `no query succeeded: ${JSON.stringify([...outcomes])}`);
      assert.ok((outcomes.get('403 forbidden') ?? 0) > 0, `nothing refused: ${JSON.stringify([...outcomes])}`);
      assert.ok((outcomes.get('400 sql_error') ?? 0) > 0, `no bind errors: ${JSON.stringify([...outcomes])}`);
    }));

  test('the same generator does leak without the guard (the property has teeth)', (t) =>
    withDb(async (db) => {
      await seed(db);
      let leaked = 0;
      let ran = 0;
      for (const sql of fc.sample(tree.query, { numRuns: 150, seed: SEED })) {
        let out: QueryResult;
        try {
          out = await db.query(sql, undefined, { timeoutMs: 10_000, allowedStatements: ['SELECT'] });
        } catch {
          continue;
        }
        ran++;
        if (JSON.stringify(out).includes(MARKER)) leaked++;
      }
      t.diagnostic(`unguarded: ${ran} of 150 ran, ${leaked} exposed the marker`);
      assert.ok(ran > 0);
      assert.ok(leaked > 0, `expected unguarded queries to expose the marker (${ran} ran)`);
    }));

  test(`${NUM_RUNS / 3 | 0} random queries over visible data answer exactly as DuckDB does unguarded`, () =>
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
