/**
 * The reader role (DATA_READER_URL, `src/data/postgres/scoped-role.ts`): scoped SQL runs as a role
 * that can read duckgate's tables and nothing else. These tests talk to PostgreSQL as that role
 * directly, with no guard in front and no read-only transaction, so what they show holds even if
 * the guard had a hole: no write, no other schema (nor the control store's tables), no function
 * the main role owns. A teeth check shows the probes do see a broader grant, and the start-up
 * check refuses reader roles that could do more than read.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import type { DataEngine } from '../../src/data/engine.js';
import { openPostgresEngine, type PostgresEngineOptions } from '../../src/data/postgres/index.js';
import { readerProblems } from '../../src/data/postgres/scoped-role.js';
import { PostgresDatabase as StoreDatabase } from '../../src/store/postgres/database.js';
import { isApiError } from '../../src/errors.js';
import { freshPostgresData, type FreshPostgresData } from './engines.js';
import { guarded } from './sql-guard-fixture.js';
import { adminQuery, createTestSchema, postgresUnavailable, type TestSchema } from '../helpers/postgres.js';

const skip = await postgresUnavailable();
const ADMIN = { timeoutMs: 10_000 };

/** 'ok', or the SQLSTATE PostgreSQL refused with (42501: insufficient privilege). */
async function probe(client: pg.Client, sql: string): Promise<string> {
  await client.query('SAVEPOINT probe');
  try {
    await client.query(sql);
    await client.query('RELEASE SAVEPOINT probe');
    return 'ok';
  } catch (error) {
    await client.query('ROLLBACK TO SAVEPOINT probe');
    return String((error as { code?: unknown }).code);
  }
}

async function connect(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => {});
  await client.connect();
  // A plain read-write transaction: the role alone decides what is refused.
  await client.query('BEGIN');
  return client;
}

function options(data: FreshPostgresData, readerUrl: string | null = data.readerUrl): PostgresEngineOptions {
  return { url: data.url, ...(readerUrl === null ? {} : { readerUrl }), schemaPrefix: data.schemaPrefix, poolSize: 2, statementTimeoutMs: 60_000 };
}

describe('PostgreSQL reader role (DATA_READER_URL)', { skip }, () => {
  let data: FreshPostgresData;
  let engine: DataEngine;
  let reader: pg.Client;
  let store: TestSchema;
  let storeDb: StoreDatabase;
  let storeTable: string;
  const other = `dgt_other_${process.pid}`;
  const defaultSchema = (): string => `${data.schemaPrefix}default`;

  before(async () => {
    data = await freshPostgresData();
    // A function the main role owns from before the first start: start-up takes PUBLIC's EXECUTE away.
    const main = await connect(data.url);
    await main.query(`CREATE SCHEMA "${data.schemaPrefix}default"`);
    await main.query(`CREATE FUNCTION "${data.schemaPrefix}default".early() RETURNS int LANGUAGE sql SECURITY DEFINER AS 'SELECT 1'`);
    await main.query('COMMIT');
    await main.end();
    engine = await openPostgresEngine(options(data));
    const db = engine.database('default');
    await db.query('CREATE TABLE early (id text PRIMARY KEY, v text)', undefined, ADMIN);
    await db.query("INSERT INTO early VALUES ('e1', 'one')", undefined, ADMIN);
    await db.query(`CREATE FUNCTION bump() RETURNS int LANGUAGE sql SECURITY DEFINER AS $$ INSERT INTO early VALUES ('x', 'x') RETURNING 1 $$`, undefined, ADMIN);
    await db.query(`CREATE PROCEDURE wipe() LANGUAGE sql SECURITY DEFINER AS $$ DELETE FROM early $$`, undefined, ADMIN);
    await adminQuery(`CREATE SCHEMA ${other}`);
    await adminQuery(`CREATE TABLE ${other}.t (v text)`);
    await adminQuery(`INSERT INTO ${other}.t VALUES ('elsewhere')`);
    store = await createTestSchema('reader');
    storeDb = await StoreDatabase.open({ url: store.url });
    storeTable = (await adminQuery<{ tablename: string }>('SELECT tablename FROM pg_tables WHERE schemaname = $1 ORDER BY tablename LIMIT 1', [store.schema]))[0]!.tablename;
    reader = await connect(data.readerUrl);
  });

  after(async () => {
    await reader?.end().catch(() => undefined);
    await engine?.close();
    await storeDb?.release();
    await store?.drop();
    await adminQuery(`DROP SCHEMA IF EXISTS ${other} CASCADE`);
    await data?.drop();
  });

  test('reads the tables of every duckgate schema, including collections and databases made after start', async () => {
    assert.deepEqual((await reader.query(`SELECT v FROM "${defaultSchema()}".early`)).rows, [{ v: 'one' }]);
    await engine.database('default').insert('later', { id: 'l1', n: 1 });
    await engine.createDatabase('second');
    await engine.database('second').insert('notes', { id: 'n1', text: 'hi' });
    assert.deepEqual((await reader.query(`SELECT id FROM "${data.schemaPrefix}default".later`)).rows, [{ id: 'l1' }]);
    assert.deepEqual((await reader.query(`SELECT text FROM "${data.schemaPrefix}second".notes`)).rows, [{ text: 'hi' }]);
  });

  test('guard off: cannot write: no INSERT, UPDATE, DELETE, TRUNCATE, CREATE or DROP, even outside a read-only transaction', async () => {
    const s = `"${defaultSchema()}"`;
    for (const sql of [
      `INSERT INTO ${s}.early VALUES ('w', 'w')`,
      `UPDATE ${s}.early SET v = 'changed'`,
      `DELETE FROM ${s}.early`,
      `TRUNCATE ${s}.early`,
      `CREATE TABLE ${s}.planted (x int)`,
      `DROP TABLE ${s}.early`,
      `ALTER TABLE ${s}.early ADD COLUMN z int`,
      `CREATE SCHEMA ${other}_reader`,
      `CREATE TABLE public.planted (x int)`,
    ]) {
      assert.equal(await probe(reader, sql), '42501', sql);
    }
    assert.deepEqual((await adminQuery(`SELECT count(*)::int AS n FROM "${defaultSchema()}".early`))[0], { n: 1 });
  });

  test("guard off: cannot read another schema's table, nor the control store's", async () => {
    assert.equal(await probe(reader, `SELECT * FROM ${other}.t`), '42501');
    assert.equal(await probe(reader, `SELECT * FROM "${store.schema}"."${storeTable}"`), '42501');
  });

  test('guard off: cannot execute a function the main role owns, made before or after start', async () => {
    assert.equal(await probe(reader, `SELECT "${defaultSchema()}".early()`), '42501');
    assert.equal(await probe(reader, `SELECT "${defaultSchema()}".bump()`), '42501');
    assert.equal(await probe(reader, `CALL "${defaultSchema()}".wipe()`), '42501');
    assert.deepEqual((await adminQuery(`SELECT count(*)::int AS n FROM "${defaultSchema()}".early`))[0], { n: 1 });
  });

  test('teeth: a broader grant is seen by the same probes and refused by the start-up check', async () => {
    await adminQuery(`GRANT USAGE ON SCHEMA ${other} TO ${data.readerRole}`);
    await adminQuery(`GRANT SELECT, INSERT ON ${other}.t TO ${data.readerRole}`);
    try {
      assert.equal(await probe(reader, `SELECT * FROM ${other}.t`), 'ok', 'the read probe would have caught this grant');
      assert.equal(await probe(reader, `INSERT INTO ${other}.t VALUES ('w')`), 'ok', 'the write probe would have caught this grant');
      const main = (await adminQuery<{ r: string }>('SELECT $1::text AS r', [data.role]))[0]!.r;
      const problems = await readerProblems(reader as unknown as Parameters<typeof readerProblems>[0], data.schemaPrefix, main);
      assert.ok(problems.some((p) => p.includes(`can read ${other}.t`)), problems.join('; '));
      assert.ok(problems.some((p) => p.includes(`may write ${other}.t`)), problems.join('; '));
      await assert.rejects(openPostgresEngine(options(data)), /DATA_READER_URL its role must only be able to read duckgate's tables.*may write/);
    } finally {
      await adminQuery(`REVOKE ALL ON ${other}.t FROM ${data.readerRole}`);
      await adminQuery(`REVOKE ALL ON SCHEMA ${other} FROM ${data.readerRole}`);
    }
  });

  test('scoped SQL through the engine runs as the reader role', async () => {
    const out = await engine.database('default').query('SELECT current_user AS who', undefined, { ...guarded(), readPolicy: { view: () => ({}) } })
      .catch((error: unknown) => error);
    // current_user is not an allowed function: the guard refuses it before PostgreSQL is asked.
    assert.ok(isApiError(out) && out.status === 403, String(out));
    const rows = await engine.database('default').query('SELECT v FROM early', undefined, { timeoutMs: 10_000, readPolicy: { view: () => ({}) } });
    assert.deepEqual(rows.result, [{ v: 'one' }]);
    const sessions = await adminQuery<{ usename: string }>(
      `SELECT DISTINCT usename FROM pg_stat_activity WHERE usename = ANY($1::text[]) AND application_name = 'duckgate-data'`, [[data.role, data.readerRole]]);
    assert.ok(sessions.some((s) => s.usename === data.readerRole), 'a reader connection is open in the pool');
  });
});

describe('PostgreSQL reader role: replicas starting together', { skip }, () => {
  test('three engines opened at once on one DATA_URL all grant, under the advisory lock, and the reader reads', async () => {
    const data = await freshPostgresData();
    const engines: DataEngine[] = [];
    try {
      const opened = await Promise.allSettled([0, 1, 2].map(() => openPostgresEngine(options(data))));
      for (const result of opened) if (result.status === 'fulfilled') engines.push(result.value);
      assert.deepEqual(opened.map((result) => result.status), ['fulfilled', 'fulfilled', 'fulfilled'], JSON.stringify(opened.map((r) => (r.status === 'rejected' ? String(r.reason) : 'ok'))));
      await engines[0]!.database('default').insert('shared', { id: 's1' });
      const out = await engines[2]!.database('default').query('SELECT id FROM shared', undefined, { timeoutMs: 10_000, readPolicy: { view: () => ({}) } });
      assert.deepEqual(out.result, [{ id: 's1' }]);
    } finally {
      for (const engine of engines) await engine.close();
      await data.drop();
    }
  });
});

describe('PostgreSQL reader role: start-up refuses a role that can do more than read', { skip }, () => {
  test('the main role itself, a member of it, a superuser, CREATE on the database or a schema, pg_read_all_data, owning a table', async () => {
    const data = await freshPostgresData();
    const database = new URL(data.url).pathname.slice(1);
    try {
      await assert.rejects(openPostgresEngine(options(data, data.url)), /DATA_READER_URL .*same role as DATA_URL's/);
      await adminQuery(`GRANT ${data.role} TO ${data.readerRole}`);
      await assert.rejects(openPostgresEngine(options(data)), /DATA_READER_URL .*member of DATA_URL's role/);
      await adminQuery(`REVOKE ${data.role} FROM ${data.readerRole}`);
      await adminQuery(`GRANT CREATE ON DATABASE ${database} TO ${data.readerRole}`);
      await assert.rejects(openPostgresEngine(options(data)), /DATA_READER_URL .*has CREATE on the database/);
      await adminQuery(`REVOKE CREATE ON DATABASE ${database} FROM ${data.readerRole}`);
      const schema = `${data.schemaPrefix}default`;
      await adminQuery(`GRANT CREATE ON SCHEMA "${schema}" TO ${data.readerRole}`);
      await assert.rejects(openPostgresEngine(options(data)), new RegExp(`DATA_READER_URL .*has CREATE on schema ${schema}`));
      await adminQuery(`REVOKE CREATE ON SCHEMA "${schema}" FROM ${data.readerRole}`);
      await adminQuery(`GRANT pg_read_all_data TO ${data.readerRole}`);
      await assert.rejects(openPostgresEngine(options(data)), /DATA_READER_URL .*member of pg_read_all_data/);
      await adminQuery(`REVOKE pg_read_all_data FROM ${data.readerRole}`);
      await adminQuery(`CREATE TABLE "${schema}".planted (x int)`);
      await adminQuery(`ALTER TABLE "${schema}".planted OWNER TO ${data.readerRole}`);
      await assert.rejects(openPostgresEngine(options(data)), new RegExp(`DATA_READER_URL .*owns ${schema}\\.planted`));
      await adminQuery(`DROP TABLE "${schema}".planted`);
      const superuser = new URL(data.readerUrl);
      superuser.username = 'postgres';
      await assert.rejects(openPostgresEngine(options(data, superuser.toString())), /DATA_READER_URL .*superuser/);
      // With every problem gone it starts.
      const engine = await openPostgresEngine(options(data));
      await engine.close();
    } finally {
      await data.drop();
    }
  });

  test('without DATA_READER_URL scoped SQL is refused with 403 naming it; admin SQL still runs', async () => {
    const data = await freshPostgresData();
    const engine = await openPostgresEngine(options(data, null));
    try {
      const db = engine.database('default');
      await db.query('CREATE TABLE t (id text)', undefined, ADMIN);
      const refused = await db.query('SELECT * FROM t', undefined, { timeoutMs: 10_000, readPolicy: { view: () => ({}) } }).catch((error: unknown) => error);
      assert.ok(isApiError(refused) && refused.status === 403 && refused.code === 'forbidden' && /DATA_READER_URL/.test(refused.message), JSON.stringify(refused));
      assert.deepEqual((await db.query('SELECT count(*)::int AS n FROM t', undefined, ADMIN)).result, [{ n: 0 }]);
    } finally {
      await engine.close();
      await data.drop();
    }
  });
});

describe('PostgreSQL reader role: only databases\' schemas', { skip }, () => {
  test('a sync staging schema (`<schema>#sync`) the main role owns gets no grant at start', async () => {
    const data = await freshPostgresData();
    try {
      const first = await openPostgresEngine(options(data));
      await first.close();
      const staging = `${data.schemaPrefix}default#sync`;
      await adminQuery(`CREATE SCHEMA "${staging}" AUTHORIZATION ${data.role}`);
      await adminQuery(`CREATE TABLE "${staging}".state (k text)`);
      await adminQuery(`ALTER TABLE "${staging}".state OWNER TO ${data.role}`);
      const engine = await openPostgresEngine(options(data));
      try {
        const [check] = await adminQuery<{ usage: boolean; main: boolean }>(
          `SELECT has_schema_privilege($1, $2, 'USAGE') AS usage, has_schema_privilege($1, $3, 'USAGE') AS main`, [data.readerRole, staging, `${data.schemaPrefix}default`]);
        assert.deepEqual(check, { usage: false, main: true });
      } finally {
        await engine.close();
      }
    } finally {
      await data.drop();
    }
  });
});
