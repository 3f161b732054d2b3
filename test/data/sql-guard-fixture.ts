/**
 * A schema for the SQL guard tests: a readable table with hidden columns, a fully readable one,
 * and forbidden ones, seeded with marker values that must never come back to a scoped caller.
 */
import assert from 'node:assert/strict';
import type { Database, FieldView, QueryOptions, QueryResult, ReadPolicy } from '../../src/data/engine.js';
import { isApiError } from '../../src/errors.js';

/** In hidden columns and forbidden tables only. */
export const MARKER = 'SECRET-MARKER-123';
/** A hidden number, distinctive enough to search for. */
export const HIDDEN_NUMBER = 987654321;

const ADMIN = { timeoutMs: 10_000 };

export const VIEWS: Record<string, FieldView> = {
  // Mixed case on purpose: field names compare case-insensitively.
  users: { exclude_fields: ['salary', 'SSN'] },
  orders: {},
  // select_fields: only `label` (and `id`) are visible, `note` is not.
  notes: { select_fields: ['LABEL'] },
};

export const policy: ReadPolicy = {
  view(table: string): FieldView | null {
    return VIEWS[table.toLowerCase()] ?? null;
  },
};

export function guarded(timeoutMs = 10_000): QueryOptions {
  return { timeoutMs, readPolicy: policy };
}

export async function seed(db: Database): Promise<void> {
  const statements = [
    'CREATE TABLE users (id VARCHAR PRIMARY KEY, name VARCHAR, dept VARCHAR, salary DOUBLE, ssn VARCHAR)',
    `INSERT INTO users VALUES ('u1', 'Ada', 'eng', ${HIDDEN_NUMBER}, '${MARKER}'), ('u2', 'Bob', 'ops', ${HIDDEN_NUMBER + 1}, '${MARKER}-2')`,
    'CREATE TABLE orders (id VARCHAR PRIMARY KEY, user_id VARCHAR, total DOUBLE)',
    "INSERT INTO orders VALUES ('o1', 'u1', 10), ('o2', 'u1', 5), ('o3', 'u2', 7)",
    'CREATE TABLE notes (id VARCHAR, label VARCHAR, note VARCHAR)',
    `INSERT INTO notes VALUES ('n1', 'first', '${MARKER}-note')`,
    'CREATE TABLE secret (id VARCHAR, v VARCHAR, n DOUBLE)',
    `INSERT INTO secret VALUES ('s1', '${MARKER}', ${HIDDEN_NUMBER})`,
    'CREATE VIEW secret_view AS SELECT * FROM secret',
    'CREATE SEQUENCE s',
    'CREATE MACRO leak() AS (SELECT v FROM secret LIMIT 1)',
    'CREATE MACRO leak_table() AS TABLE SELECT * FROM secret',
    // An ENUM built from forbidden data: naming the type would read it back.
    'CREATE TYPE leaky AS ENUM (SELECT v FROM secret)',
  ];
  for (const sql of statements) await db.query(sql, undefined, ADMIN);
}

/** Everything a scoped query could change, in one comparable string. */
export async function checksum(db: Database): Promise<string> {
  const parts: unknown[] = [];
  for (const table of ['users', 'orders', 'notes', 'secret']) {
    parts.push((await db.query(`SELECT count(*) AS c, bit_xor(hash(t)) AS h FROM ${table} t`, undefined, ADMIN)).result);
  }
  parts.push((await db.query('SELECT list(table_name ORDER BY table_name) AS t FROM duckdb_tables()', undefined, ADMIN)).result);
  parts.push((await db.query('SELECT list(view_name ORDER BY view_name) AS v FROM duckdb_views() WHERE NOT internal', undefined, ADMIN)).result);
  parts.push((await db.query('SELECT list(database_name ORDER BY database_name) AS d FROM duckdb_databases()', undefined, ADMIN)).result);
  parts.push((await db.query("SELECT last_value FROM duckdb_sequences() WHERE sequence_name = 's'", undefined, ADMIN)).result);
  return JSON.stringify(parts);
}

const LEAKS = [MARKER, 'SECRET-MARKER', String(HIDDEN_NUMBER), String(HIDDEN_NUMBER + 1), '9.87654321e', '987654322'];

/** Whatever came back (rows, column names or an error message) holds no hidden value. */
export function assertNoLeak(outcome: QueryResult | unknown, sql: string): void {
  let text: string;
  if (isApiError(outcome)) text = outcome.message;
  else if (outcome instanceof Error) throw outcome;
  else text = JSON.stringify(outcome);
  for (const leak of LEAKS) assert.ok(!text.includes(leak), `leaked ${leak} through: ${sql}\n${text.slice(0, 500)}`);
  if (!isApiError(outcome)) {
    const columns = (outcome as QueryResult).columns.map((c) => c.toLowerCase());
    for (const hidden of ['salary', 'ssn', 'note', 'v']) assert.ok(!columns.includes(hidden), `hidden column ${hidden} in result of: ${sql}`);
  }
}

/** Runs `sql` as the scoped caller; a failure is returned, not thrown, so both can be checked. */
export async function attempt(db: Database, sql: string, params?: unknown[]): Promise<QueryResult | unknown> {
  try {
    return await db.query(sql, params as never, guarded());
  } catch (error) {
    return error;
  }
}
