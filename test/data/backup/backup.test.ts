import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { BackupService } from '../../../src/data/backup/service.js';
import { LocalBackupStorage } from '../../../src/data/backup/local-storage.js';
import { backupFileName, type BackupManifest } from '../../../src/data/backup/storage.js';
import type { DataEngine, JsonObject } from '../../../src/data/engine.js';
import { CachedEngine, RecordCache } from '../../../src/data/record-cache.js';
import { adminQuery } from '../../helpers/postgres.js';
import { ENGINES, type EngineName } from '../engines.js';
import { apiError, engineSuites, tempDataDir } from '../helpers.js';

function service(engine: DataEngine, dataDir: string, overrides: Partial<ConstructorParameters<typeof BackupService>[0]> = {}): BackupService {
  return new BackupService({
    engine,
    storage: new LocalBackupStorage(join(dataDir, 'backups')),
    dataDir,
    minFreeBytes: 1024 * 1024,
    retention: { keep: 0, maxAgeDays: 0 },
    ...overrides,
  });
}

const admin = { timeoutMs: 60_000 };

/** The same tables in each engine's SQL: DECIMAL, TIMESTAMP, JSON, BLOB, NULLs, a composite key. */
const SQL: Record<EngineName, { orders: (rows: number) => string[]; batch: (n: number) => string }> = {
  duckdb: {
    orders: (rows) => [
      `CREATE TABLE orders (region VARCHAR, id INTEGER, amount DECIMAL(12,2), placed TIMESTAMP, doc JSON, raw BLOB, note VARCHAR, PRIMARY KEY (region, id))`,
      `INSERT INTO orders SELECT CASE WHEN i % 2 = 0 THEN 'eu' ELSE 'us' END, i, i * 1.25, TIMESTAMP '2024-01-01' + INTERVAL (i) MINUTE,
        '{"n":' || i || '}', ('b' || i)::BLOB, CASE WHEN i % 3 = 0 THEN NULL ELSE 'note ' || i END FROM range(${rows}) r(i)`,
    ],
    batch: (n) => `INSERT INTO t SELECT ${n}, i FROM range(1000) r(i)`,
  },
  postgres: {
    orders: (rows) => [
      `CREATE TABLE orders (region text, id integer, amount numeric(12,2), placed timestamp, doc json, raw bytea, note text, PRIMARY KEY (region, id))`,
      `INSERT INTO orders SELECT CASE WHEN i % 2 = 0 THEN 'eu' ELSE 'us' END, i, i * 1.25, TIMESTAMP '2024-01-01' + make_interval(mins => i),
        ('{"n":' || i || '}')::json, convert_to('b' || i, 'UTF8'), CASE WHEN i % 3 = 0 THEN NULL ELSE 'note ' || i END FROM generate_series(0, ${rows} - 1) i`,
    ],
    batch: (n) => `INSERT INTO t SELECT ${n}, i FROM generate_series(0, 999) i`,
  },
};

/** Admin-SQL tables plus record-route collections, in database `name` (made if missing). */
async function seed(kind: EngineName, engine: DataEngine, name: string, rows = 5000): Promise<void> {
  if (!engine.listDatabases().includes(name)) await engine.createDatabase(name);
  const db = engine.database(name);
  for (const sql of SQL[kind].orders(rows)) await db.query(sql, undefined, admin);
  await db.insert('people', { name: 'Ada', age: 36 });
  await db.insert('people', { name: 'Grace', age: 45, tags: ['navy'] });
}

async function tableState(engine: DataEngine, name: string): Promise<Record<string, unknown>> {
  const db = engine.database(name);
  const { result } = await db.query(`SELECT (SELECT count(*) FROM orders)::INTEGER AS orders, (SELECT sum(amount) FROM orders)::VARCHAR AS amount,
    (SELECT count(*) FROM people)::INTEGER AS people, (SELECT string_agg(name, ',' ORDER BY name) FROM people) AS names`, undefined, admin);
  return result[0]!;
}

function storedFile(dataDir: string, backup: BackupManifest): string {
  return join(dataDir, 'backups', backup.id, backupFileName(backup.method));
}

/** Rewrites a backup's manifest (as if file and manifest were swapped together). */
function editManifest(dataDir: string, id: string, edit: (manifest: BackupManifest) => void): void {
  const file = join(dataDir, 'backups', id, 'manifest.json');
  const manifest = JSON.parse(readFileSync(file, 'utf8')) as BackupManifest;
  edit(manifest);
  writeFileSync(file, JSON.stringify(manifest));
}

/** Replaces a stored file and makes its manifest's SHA-256 and size match, so only the file's own checks remain. */
function replaceStored(dataDir: string, backup: BackupManifest, bytes: Buffer): void {
  writeFileSync(storedFile(dataDir, backup), bytes);
  editManifest(dataDir, backup.id, (m) => {
    m.sha256 = createHash('sha256').update(bytes).digest('hex');
    m.bytes = bytes.length;
  });
}

engineSuites(({ engine: kind, withEngine: withEngineOf }) => {
  /** A fresh engine and a directory for backups, both removed afterwards. */
  const withEngine = <T>(run: (engine: DataEngine, dataDir: string) => Promise<T>): Promise<T> => withEngineOf(async (engine) => {
    const dataDir = tempDataDir();
    try {
      return await run(engine, dataDir);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
  const seedOf = (engine: DataEngine, name: string, rows?: number): Promise<void> => seed(kind, engine, name, rows);

  describe('backups', () => {
    it('takes a consistent snapshot with a manifest of every table, and restores it into a new database that reads the same', () => withEngine(async (engine, dataDir) => {
      await seedOf(engine, 'sales');
      const backups = service(engine, dataDir);
      const before = await tableState(engine, 'sales');
      const backup = await backups.create('sales');
      assert.equal(backup.database, 'sales');
      assert.match(backup.id, /^sales-\d{8}T\d{6}Z-[0-9a-f]{6}$/);
      assert.deepEqual(backup.tables.map((t) => [t.table, t.rows]), [['orders', 5000], ['people', 2]]);
      assert.match(backup.sha256, /^[0-9a-f]{64}$/);
      assert.equal(backup.method, kind === 'duckdb' ? 'checkpoint-copy' : 'postgres-dump');
      const stored = storedFile(dataDir, backup);
      assert.equal(statSync(stored).size, backup.bytes);
      assert.equal(statSync(stored).mode & 0o777, 0o600);
      assert.equal(statSync(join(dataDir, 'backups', backup.id)).mode & 0o777, 0o700);
      assert.deepEqual((await backups.list('sales')).map((b) => b.id), [backup.id]);

      // Later writes are not in the backup.
      await engine.database('sales').insert('people', { name: 'Linus' });
      const restored = await backups.restore({ backupId: backup.id, target: 'sales_copy' });
      assert.equal(restored.database, 'sales_copy');
      assert.equal(restored.replaced, false);
      assert.deepEqual(await tableState(engine, 'sales_copy'), before);
      assert.equal((await tableState(engine, 'sales')).people, 3);
      assert.ok(engine.listDatabases().includes('sales_copy'));
      // Nothing staged is left behind.
      assert.deepEqual(readdirSync(join(dataDir, 'backups')).filter((f) => f.startsWith('.staging')).flatMap((f) => readdirSync(join(dataDir, 'backups', f))), []);
    }));

    it('never restores over a live database without replace: true; with it, replaces the data and tells cache holders', () => withEngine(async (engine, dataDir) => {
      await seedOf(engine, 'sales', 100);
      const backups = service(engine, dataDir);
      const backup = await backups.create('sales');
      await engine.database('sales').query(`DELETE FROM orders WHERE id < 50`, undefined, admin);
      await assert.rejects(backups.restore({ backupId: backup.id, target: 'sales' }), apiError(409, 'conflict', /replace: true/));
      assert.equal((await tableState(engine, 'sales')).orders, 50);

      const replaced: string[] = [];
      const unsubscribe = engine.onDatabaseReplaced((name) => replaced.push(name));
      const result = await backups.restore({ backupId: backup.id, target: 'sales', replace: true });
      unsubscribe();
      assert.equal(result.replaced, true);
      assert.deepEqual(replaced, ['sales']);
      assert.equal((await tableState(engine, 'sales')).orders, 100);
      // The replaced database takes writes again.
      await engine.database('sales').insert('people', { name: 'Linus' });
      assert.equal((await tableState(engine, 'sales')).people, 3);
    }));

    it('refuses a backup whose file was damaged (422), and creates nothing', () => withEngine(async (engine, dataDir) => {
      await seedOf(engine, 'sales', 100);
      const backups = service(engine, dataDir);
      const backup = await backups.create('sales');
      const stored = storedFile(dataDir, backup);
      const bytes = readFileSync(stored);
      bytes[bytes.length - 100] = bytes[bytes.length - 100]! ^ 0xff;
      writeFileSync(stored, bytes);
      await assert.rejects(backups.restore({ backupId: backup.id, target: 'broken' }), apiError(422, 'backup_verification_failed', /SHA-256/));
      assert.ok(!engine.listDatabases().includes('broken'));
    }));

    it('refuses a restore whose tables do not match the manifest (row counts and checksums)', () => withEngine(async (engine, dataDir) => {
      await seedOf(engine, 'sales', 100);
      const storage = new LocalBackupStorage(join(dataDir, 'backups'));
      const backups = service(engine, dataDir, { storage });
      const backup = await backups.create('sales');
      // A manifest that no longer matches its file (as if the file were swapped for another snapshot).
      const manifestFile = join(dataDir, 'backups', backup.id, 'manifest.json');
      const manifest = JSON.parse(readFileSync(manifestFile, 'utf8'));
      manifest.tables[0].checksum = '12345';
      writeFileSync(manifestFile, JSON.stringify(manifest));
      await assert.rejects(backups.restore({ backupId: backup.id, target: 'other' }), (error: unknown) => {
        apiError(422, 'backup_verification_failed', /orders: checksum differs/)(error);
        return true;
      });
      manifest.tables[0].checksum = backup.tables[0]!.checksum;
      manifest.tables[1].rows = 3;
      writeFileSync(manifestFile, JSON.stringify(manifest));
      await assert.rejects(backups.restore({ backupId: backup.id, target: 'other' }), apiError(422, 'backup_verification_failed', /people: 2 rows, expected 3/));
      assert.ok(!engine.listDatabases().includes('other'));
    }));

    it('is consistent while writes go on: the snapshot holds whole transactions only', () => withEngine(async (engine, dataDir) => {
      await engine.createDatabase('busy');
      const db = engine.database('busy');
      await db.query(`CREATE TABLE t (batch INTEGER, i INTEGER)`, undefined, admin);
      let stop = false;
      let batches = 0;
      const writer = (async () => {
        while (!stop) {
          // One statement, one transaction: 1000 rows or none.
          await db.query(SQL[kind].batch(batches), undefined, admin);
          batches++;
        }
      })();
      while (batches < 3) await new Promise((resolve) => setTimeout(resolve, 5));
      const backups = service(engine, dataDir);
      const taken = [await backups.create('busy'), await backups.create('busy')];
      stop = true;
      await writer;
      for (const backup of taken) {
        const rows = backup.tables.find((t) => t.table === 't')!.rows;
        assert.ok(rows > 0 && rows % 1000 === 0, `rows ${rows}`);
        const restored = await backups.restore({ backupId: backup.id });
        assert.match(restored.database, /^busy_restored_\d{8}t\d{6}z$/);
        const { result } = await engine.database(restored.database).query(`SELECT count(*)::INTEGER AS n, count(DISTINCT batch)::INTEGER AS b FROM t`, undefined, admin);
        assert.deepEqual(result[0], { n: rows, b: rows / 1000 });
        await engine.dropDatabase(restored.database);
      }
    }));

    it('runs one backup per database at a time (409) and refuses below the free-space floor (507)', () => withEngine(async (engine, dataDir) => {
      await seedOf(engine, 'sales', 20_000);
      const backups = service(engine, dataDir);
      const first = backups.create('sales');
      await assert.rejects(backups.create('sales'), apiError(409, 'conflict', /already running/));
      await first;
      const starved = service(engine, dataDir, { minFreeBytes: Number.MAX_SAFE_INTEGER });
      await assert.rejects(starved.create('sales'), apiError(507, 'insufficient_storage', /BACKUP_MIN_FREE/));
      await assert.rejects(starved.restore({ backupId: (await first).id, target: 'x' }), apiError(507, 'insufficient_storage', kind === 'duckdb' ? /DATA_DIR/ : /BACKUP_DIR/));
      await assert.rejects(backups.create('nope'), apiError(404, 'not_found'));
      await assert.rejects(backups.create('../etc'), apiError(400, 'invalid_name'));
      await assert.rejects(backups.restore({ backupId: '../../etc/passwd' }), apiError(400, 'invalid_backup_id'));
      await assert.rejects(backups.restore({ backupId: 'sales-20200101T000000Z-abcdef' }), apiError(404, 'not_found'));
    }));

    it('keeps the newest N and drops those older than the maximum age, never the newest one', () => withEngine(async (engine, dataDir) => {
      await seedOf(engine, 'sales', 10);
      let clock = Date.parse('2026-01-01T00:00:00Z');
      const backups = service(engine, dataDir, { now: () => new Date(clock), retention: { keep: 2, maxAgeDays: 0 } });
      const ids: string[] = [];
      for (let i = 0; i < 4; i++) {
        const result = await backups.create('sales');
        ids.push(result.id);
        clock += 3_600_000;
      }
      assert.deepEqual((await backups.list('sales')).map((b) => b.id), [ids[3], ids[2]]);
      clock += 10 * 86_400_000;
      assert.deepEqual(await backups.prune('sales', { keep: 0, maxAgeDays: 7 }), [ids[2]]);
      assert.deepEqual((await backups.list('sales')).map((b) => b.id), [ids[3]]);
    }));

    it('gives back the same JSON after a restore: json fields, booleans, nulls, unicode, big and small numbers', () => withEngine(async (engine, dataDir) => {
      const db = engine.database('default');
      const records: JsonObject[] = [
        { id: 'a', text: 'plain', flag: true, n: 1, doc: { nested: [1, 'two', null, { deep: false }], empty: {} } },
        { id: 'b', text: 'ünïcödé ✓ 𝄞 😀 中文', flag: false, n: -0.1, doc: [] },
        { id: 'c', text: 'quotes " \' back\\slash\nnew line\ttab', n: 12345678901234567, doc: { big: 9007199254740993, tiny: 1e-300 } },
        { id: 'd', text: '', n: 1.7976931348623157e308, flag: null, doc: null },
        { id: 'e', n: -9007199254740991, doc: 'a json string' },
      ];
      for (const record of records) await db.insert('things', record);
      const before = await db.find('things', {});
      const backups = service(engine, dataDir);
      const backup = await backups.create('default');
      await backups.restore({ backupId: backup.id, target: 'copy' });
      assert.deepEqual(await engine.database('copy').find('things', {}), before);
      assert.deepEqual(await engine.database('copy').findById('things', 'c'), await db.findById('things', 'c'));
      assert.deepEqual(await engine.database('copy').schema('things'), await db.schema('things'));
      // The restored collection takes new fields and records like any other.
      await engine.database('copy').insert('things', { id: 'f', added: 'later' });
      assert.equal(await engine.database('copy').count('things'), 6);
    }));

    it('through the record cache: a restore drops what the cache held of the database, so point reads answer the restored records', () => withEngine(async (inner, dataDir) => {
      const engine = new CachedEngine(inner, new RecordCache(1 << 20));
      const db = engine.database('default');
      await db.insert('things', { id: 'a', v: 'backed up' });
      const backups = service(engine, dataDir);
      const backup = await backups.create('default');
      assert.equal(backup.method, inner.dumpMethod);
      await db.update('things', 'a', { v: 'later' });
      assert.equal((await db.findById('things', 'a')).v, 'later');
      assert.equal((await engine.database('default').findById('things', 'a')).v, 'later');
      await backups.restore({ backupId: backup.id, target: 'default', replace: true });
      assert.equal((await engine.database('default').findById('things', 'a')).v, 'backed up');
    }));

    it('serves readers all through a replacing restore: each read sees the old data or the new, never an error of the swap', () => withEngine(async (engine, dataDir) => {
      await seedOf(engine, 'sales', 2000);
      const backups = service(engine, dataDir);
      const backup = await backups.create('sales');
      await engine.database('sales').query(`DELETE FROM orders WHERE id >= 1000`, undefined, admin);
      let reading = true;
      const seen = new Set<number>();
      let refused = 0;
      let reads = 0;
      const readers = [0, 1].map(async () => {
        while (reading) {
          try {
            seen.add(await engine.database('sales').count('orders'));
            reads++;
          } catch (error) {
            // DuckDB unlists the database while its file is swapped: 404 for that instant.
            if (kind !== 'duckdb') throw error;
            apiError(404, 'not_found')(error);
            refused++;
          }
          await new Promise((resolve) => setImmediate(resolve));
        }
      });
      await new Promise((resolve) => setTimeout(resolve, 50));
      await backups.restore({ backupId: backup.id, target: 'sales', replace: true });
      await new Promise((resolve) => setTimeout(resolve, 50));
      reading = false;
      await Promise.all(readers);
      assert.ok(reads > 0);
      assert.deepEqual([...seen].filter((n) => n !== 1000 && n !== 2000), []);
      assert.ok(seen.has(2000), `reads after the restore see the restored rows (${[...seen].join(', ')}; ${refused} refused)`);
    }));
  });
});

/** A file of the other engine's backups, in one storage directory both engines' services use. */
describe('backups across engines', { skip: ENGINES.find((e) => e.name === 'postgres')!.skip }, () => {
  it('refuses a DuckDB backup on PostgreSQL and a PostgreSQL dump on DuckDB (400 backup_unsupported), restoring nothing', async () => {
    const [duck, pg] = [await ENGINES[0]!.open(), await ENGINES[1]!.open()];
    const dataDir = tempDataDir();
    try {
      await seed('duckdb', duck.engine, 'sales', 10);
      await seed('postgres', pg.engine, 'sales', 10);
      const duckBackup = await service(duck.engine, dataDir).create('sales');
      const pgBackup = await service(pg.engine, dataDir).create('sales');
      await assert.rejects(service(pg.engine, dataDir).restore({ backupId: duckBackup.id, target: 'copy' }), apiError(400, 'backup_unsupported', /checkpoint-copy/));
      await assert.rejects(service(duck.engine, dataDir).restore({ backupId: pgBackup.id, target: 'copy' }), apiError(400, 'backup_unsupported', /postgres-dump/));
      assert.ok(!pg.engine.listDatabases().includes('copy'));
      assert.ok(!duck.engine.listDatabases().includes('copy'));
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
      await duck.cleanup();
      await pg.cleanup();
    }
  });
});

describe('PostgreSQL dumps', { skip: ENGINES.find((e) => e.name === 'postgres')!.skip }, () => {
  const withPostgres = async (run: (engine: DataEngine, dataDir: string, schemaOf: (db: string) => string) => Promise<void>): Promise<void> => {
    const opened = await ENGINES.find((e) => e.name === 'postgres')!.open();
    const dataDir = tempDataDir();
    try {
      await run(opened.engine, dataDir, (db) => `${opened.postgres!.schemaPrefix}${db}`);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
      await opened.cleanup();
    }
  };
  const scratchSchemas = async (): Promise<number> =>
    Number((await adminQuery<{ n: string }>(`SELECT count(*) AS n FROM pg_namespace WHERE nspname LIKE '%.load-%'`))[0]!.n);

  it('refuses a cut-short or altered dump whose manifest was made to match, and leaves the replaced database as it was', () => withPostgres(async (engine, dataDir) => {
    await seed('postgres', engine, 'sales', 3000);
    const backups = service(engine, dataDir);
    const backup = await backups.create('sales');
    await engine.database('sales').query(`DELETE FROM orders WHERE id < 100`, undefined, admin);
    const before = await tableState(engine, 'sales');
    const original = readFileSync(storedFile(dataDir, backup));

    replaceStored(dataDir, backup, original.subarray(0, Math.floor(original.length / 2)));
    await assert.rejects(backups.restore({ backupId: backup.id, target: 'sales', replace: true }), apiError(422, 'backup_verification_failed', /gzip|cut short/));
    assert.deepEqual(await tableState(engine, 'sales'), before);

    // Whole lines cut off after a table's rows: valid gzip, but no end line.
    const text = gunzipSync(original).toString('utf8');
    const cut = text.slice(0, text.indexOf('{"end":"orders"'));
    replaceStored(dataDir, backup, gzipSync(cut));
    await assert.rejects(backups.restore({ backupId: backup.id, target: 'sales', replace: true }), apiError(422, 'backup_verification_failed', /cut short/));

    // One value changed: the table's own checksum no longer matches.
    replaceStored(dataDir, backup, gzipSync(text.replace('"note 1"', '"note X"')));
    await assert.rejects(backups.restore({ backupId: backup.id, target: 'sales', replace: true }), apiError(422, 'backup_verification_failed', /orders: its rows do not match/));

    // A value PostgreSQL will not take back, with the checksums made to match: still all or nothing.
    const lines = text.split('\n');
    const bad = lines.findIndex((line) => line.startsWith('["eu","2",'));
    lines[bad] = lines[bad]!.replace('"2"', '"not a number"');
    replaceStored(dataDir, backup, gzipSync(lines.join('\n')));
    await assert.rejects(backups.restore({ backupId: backup.id, target: 'sales', replace: true }), apiError(422, 'backup_verification_failed'));

    assert.deepEqual(await tableState(engine, 'sales'), before);
    assert.equal(await scratchSchemas(), 0);
    replaceStored(dataDir, backup, original);
    await backups.restore({ backupId: backup.id, target: 'sales', replace: true });
    assert.equal((await tableState(engine, 'sales')).orders, 3000);
  }));

  it('round-trips PostgreSQL types through admin SQL: bigints, numerics, time, uuid, arrays, jsonb, bytea, NaN; constraints, indexes, views, identity', () => withPostgres(async (engine, dataDir, schemaOf) => {
    const db = engine.database('default');
    await db.query(`CREATE TABLE kinds (
      n bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, big numeric(40,10), f double precision, ts timestamptz, d date, span interval,
      u uuid, huge bigint, tags text[], j jsonb, b bytea, flag boolean NOT NULL DEFAULT true, code text UNIQUE CHECK (code <> ''), twice bigint GENERATED ALWAYS AS (n * 2) STORED)`, undefined, admin);
    await db.query(`CREATE INDEX kinds_ts ON kinds (ts DESC)`, undefined, admin);
    await db.query(`CREATE TABLE child (id integer PRIMARY KEY, kind bigint REFERENCES kinds (n))`, undefined, admin);
    // `flagged` ends up reading a view made after it: the restore makes them in an order that works.
    await db.query(`CREATE VIEW flagged AS SELECT n, code FROM kinds WHERE flag`, undefined, admin);
    await db.query(`CREATE VIEW later AS SELECT n, code FROM kinds WHERE flag`, undefined, admin);
    await db.query(`CREATE OR REPLACE VIEW flagged AS SELECT n, code FROM later`, undefined, admin);
    await db.query(`INSERT INTO kinds (big, f, ts, d, span, u, huge, tags, j, b, flag, code) VALUES
      (123456789012345678901234567890.0123456789, 'NaN', '2024-02-29 23:59:59.123456+05:30', '0001-01-01', '1 year 2 mons 3 days 04:05:06.7', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 9223372036854775807,
       ARRAY['a', NULL, 'c "q"'], '{"k": [1, 2.5, null, "ü"], "big": 123456789012345678901234567890}', '\\x00ff10', false, 'one'),
      (-1, 'Infinity', 'infinity', '2024-01-01', '-1 day', NULL, -9223372036854775808, '{}', 'null', '', true, 'two'),
      (NULL, 0.1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, true, NULL)`, undefined, admin);
    await db.query(`INSERT INTO kinds (n, code) VALUES (1000, 'max')`, undefined, admin);
    await db.query(`INSERT INTO child VALUES (1, 1)`, undefined, admin);
    const everything = async (name: string): Promise<unknown> => (await engine.database(name).query(
      `SELECT k.*, k.b::text AS b_text, k.f::text AS f_text, (SELECT json_agg(v ORDER BY v.n) FROM flagged v) AS view FROM kinds k ORDER BY n`, undefined, admin)).result;
    const before = await everything('default');
    const backups = service(engine, dataDir);
    const backup = await backups.create('default');
    await backups.restore({ backupId: backup.id, target: 'copy' });
    assert.deepEqual(await everything('copy'), before);
    const copy = engine.database('copy');
    // Constraints, the index and identity came back with the rows.
    await assert.rejects(copy.query(`INSERT INTO child VALUES (2, 12345)`, undefined, admin), apiError(400, 'sql_error', /foreign key/));
    await assert.rejects(copy.query(`INSERT INTO kinds (code) VALUES ('one')`, undefined, admin), apiError(400, 'sql_error', /unique/));
    const indexes = await adminQuery<{ indexname: string }>(`SELECT indexname FROM pg_indexes WHERE schemaname = $1 ORDER BY 1`, [schemaOf('copy')]);
    assert.deepEqual(indexes.map((i) => i.indexname), ['child_pkey', 'kinds_code_key', 'kinds_pkey', 'kinds_ts']);
    // The identity goes on after the highest loaded value, not from 1.
    await copy.query(`INSERT INTO kinds (code) VALUES ('next')`, undefined, admin);
    assert.deepEqual((await copy.query(`SELECT n > 1000 AS after, twice = n * 2 AS computed FROM kinds WHERE code = 'next'`, undefined, admin)).result, [{ after: true, computed: true }]);
  }));

  it('refuses (400 backup_unsupported) a database its dump cannot hold whole: a sequence default, a type of its own', () => withPostgres(async (engine, dataDir) => {
    const db = engine.database('default');
    const backups = service(engine, dataDir);
    await db.query(`CREATE TABLE counted (n serial PRIMARY KEY)`, undefined, admin);
    await assert.rejects(backups.create('default'), apiError(400, 'backup_unsupported', /counted\.n takes its default from a sequence/));
    await db.query(`DROP TABLE counted`, undefined, admin);
    await db.query(`CREATE TYPE mood AS ENUM ('ok', 'meh')`, undefined, admin);
    await db.query(`CREATE TABLE moods (m mood)`, undefined, admin);
    await assert.rejects(backups.create('default'), apiError(400, 'backup_unsupported', /moods\.m has type mood/));
    assert.deepEqual(await backups.list(), []);
  }));

  it('a database restored under a new name is readable by scoped SQL (the reader role) from its first moment', () => withPostgres(async (engine, dataDir) => {
    await seed('postgres', engine, 'sales', 10);
    const backups = service(engine, dataDir);
    const backup = await backups.create('sales');
    await backups.restore({ backupId: backup.id, target: 'copy' });
    const scoped = { timeoutMs: 10_000, readPolicy: { view: () => ({}) } };
    const { result } = await engine.database('copy').query('SELECT name FROM people ORDER BY name', undefined, scoped);
    assert.deepEqual(result, [{ name: 'Ada' }, { name: 'Grace' }]);
  }));

  it('keeps the replaced schema\'s grants: schema usage, table privileges and default privileges', () => withPostgres(async (engine, dataDir, schemaOf) => {
    await seed('postgres', engine, 'sales', 10);
    const backups = service(engine, dataDir);
    const backup = await backups.create('sales');
    const role = `dgt_reader_${Math.random().toString(16).slice(2, 10)}`;
    const schema = schemaOf('sales');
    const owner = (await adminQuery<{ owner: string }>(`SELECT pg_get_userbyid(nspowner) AS owner FROM pg_namespace WHERE nspname = $1`, [schema]))[0]!.owner;
    await adminQuery(`CREATE ROLE ${role} NOLOGIN`);
    try {
      await adminQuery(`GRANT USAGE ON SCHEMA "${schema}" TO ${role}`);
      await adminQuery(`GRANT SELECT ON "${schema}".orders TO ${role}`);
      await adminQuery(`ALTER DEFAULT PRIVILEGES FOR ROLE ${owner} IN SCHEMA "${schema}" GRANT SELECT ON TABLES TO ${role}`);
      await backups.restore({ backupId: backup.id, target: 'sales', replace: true });
      const [check] = await adminQuery<{ usage: boolean; orders: boolean; people: boolean; defaults: string }>(`SELECT
        has_schema_privilege($1, $2, 'USAGE') AS usage, has_table_privilege($1, format('%I.orders', $2::text), 'SELECT') AS orders,
        has_table_privilege($1, format('%I.people', $2::text), 'SELECT') AS people,
        (SELECT count(*) FROM pg_default_acl d JOIN pg_namespace n ON n.oid = d.defaclnamespace WHERE n.nspname = $2)::text AS defaults`, [role, schema]);
      assert.deepEqual(check, { usage: true, orders: true, people: false, defaults: '1' });
      // The default privileges work on tables made after the restore.
      await engine.database('sales').insert('later', { a: 1 });
      const [later] = await adminQuery<{ ok: boolean }>(`SELECT has_table_privilege($1, format('%I.later', $2::text), 'SELECT') AS ok`, [role, schema]);
      assert.equal(later!.ok, true);
    } finally {
      await adminQuery(`DROP OWNED BY ${role} CASCADE`).catch(() => undefined);
      await adminQuery(`DROP ROLE IF EXISTS ${role}`).catch(() => undefined);
    }
  }));
});
