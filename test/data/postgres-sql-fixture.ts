/** The SQL guard fixture's schema on PostgreSQL (`sql-guard-fixture.ts` has the policy and the markers). */
import type { Database } from '../../src/data/engine.js';
import { HIDDEN_NUMBER, MARKER } from './sql-guard-fixture.js';

const ADMIN = { timeoutMs: 10_000 };

export async function seed(db: Database): Promise<void> {
  const statements = [
    'CREATE TABLE users (id text PRIMARY KEY, name text, dept text, salary double precision, ssn text)',
    `INSERT INTO users VALUES ('u1', 'Ada', 'eng', ${HIDDEN_NUMBER}, '${MARKER}'), ('u2', 'Bob', 'ops', ${HIDDEN_NUMBER + 1}, '${MARKER}-2')`,
    'CREATE TABLE orders (id text PRIMARY KEY, user_id text, total double precision)',
    "INSERT INTO orders VALUES ('o1', 'u1', 10), ('o2', 'u1', 5), ('o3', 'u2', 7)",
    'CREATE TABLE notes (id text, label text, note text)',
    `INSERT INTO notes VALUES ('n1', 'first', '${MARKER}-note')`,
    'CREATE TABLE secret (id text, v text, n double precision)',
    `INSERT INTO secret VALUES ('s1', '${MARKER}', ${HIDDEN_NUMBER})`,
    'CREATE VIEW secret_view AS SELECT * FROM secret',
    `CREATE FUNCTION leak() RETURNS text LANGUAGE sql AS $$ SELECT v FROM secret LIMIT 1 $$`,
  ];
  for (const sql of statements) await db.query(sql, undefined, ADMIN);
}

export async function checksum(db: Database): Promise<string> {
  const out = await db.query(
    `SELECT (SELECT count(*) FROM users) AS u, (SELECT count(*) FROM orders) AS o, (SELECT count(*) FROM secret) AS s,
            (SELECT string_agg(relname, ',' ORDER BY relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema()) AS rels`,
    undefined, ADMIN);
  return JSON.stringify(out.result);
}
