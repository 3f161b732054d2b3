import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { BackupService } from '../../../src/data/backup/service.js';
import { LocalBackupStorage } from '../../../src/data/backup/local-storage.js';
import type { DataEngine } from '../../../src/data/engine.js';
import { apiError, withEngine } from '../helpers.js';

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

/** Tables of several types (DECIMAL, TIMESTAMP, JSON, BLOB, NULLs, a composite key) through admin SQL. */
async function seed(engine: DataEngine, name: string, rows = 5000): Promise<void> {
  if (!engine.listDatabases().includes(name)) await engine.createDatabase(name);
  const db = engine.database(name);
  const admin = { timeoutMs: 60_000 };
  await db.query(`CREATE TABLE orders (region VARCHAR, id INTEGER, amount DECIMAL(12,2), placed TIMESTAMP, doc JSON, raw BLOB, note VARCHAR, PRIMARY KEY (region, id))`, undefined, admin);
  await db.query(`INSERT INTO orders SELECT CASE WHEN i % 2 = 0 THEN 'eu' ELSE 'us' END, i, i * 1.25, TIMESTAMP '2024-01-01' + INTERVAL (i) MINUTE,
    '{"n":' || i || '}', ('b' || i)::BLOB, CASE WHEN i % 3 = 0 THEN NULL ELSE 'note ' || i END FROM range(${rows}) r(i)`, undefined, admin);
  await db.insert('people', { name: 'Ada', age: 36 });
  await db.insert('people', { name: 'Grace', age: 45, tags: ['navy'] });
}

async function tableState(engine: DataEngine, name: string): Promise<Record<string, unknown>> {
  const db = engine.database(name);
  const { result } = await db.query(`SELECT (SELECT count(*) FROM orders)::INTEGER AS orders, (SELECT sum(amount) FROM orders)::VARCHAR AS amount,
    (SELECT count(*) FROM people)::INTEGER AS people, (SELECT string_agg(name, ',' ORDER BY name) FROM people) AS names`, undefined, { timeoutMs: 60_000 });
  return result[0]!;
}

describe('backups', () => {
  it('takes a checkpointed snapshot with a manifest of every table, and restores it into a new database that reads the same', () => withEngine(async (engine, dataDir) => {
    await seed(engine, 'sales');
    const backups = service(engine, dataDir);
    const before = await tableState(engine, 'sales');
    const backup = await backups.create('sales');
    assert.equal(backup.database, 'sales');
    assert.match(backup.id, /^sales-\d{8}T\d{6}Z-[0-9a-f]{6}$/);
    assert.deepEqual(backup.tables.map((t) => [t.table, t.rows]), [['orders', 5000], ['people', 2]]);
    assert.match(backup.sha256, /^[0-9a-f]{64}$/);
    const stored = join(dataDir, 'backups', backup.id, 'database.duckdb');
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
    assert.deepEqual(readdirSync(dataDir).filter((f) => f.startsWith('.staging')), []);
  }));

  it('never restores over a live database without replace: true; with it, replaces the data and tells cache holders', () => withEngine(async (engine, dataDir) => {
    await seed(engine, 'sales', 100);
    const backups = service(engine, dataDir);
    const backup = await backups.create('sales');
    await engine.database('sales').query(`DELETE FROM orders WHERE id < 50`, undefined, { timeoutMs: 10_000 });
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
    await seed(engine, 'sales', 100);
    const backups = service(engine, dataDir);
    const backup = await backups.create('sales');
    const stored = join(dataDir, 'backups', backup.id, 'database.duckdb');
    const bytes = readFileSync(stored);
    bytes[bytes.length - 100] = bytes[bytes.length - 100]! ^ 0xff;
    writeFileSync(stored, bytes);
    await assert.rejects(backups.restore({ backupId: backup.id, target: 'broken' }), apiError(422, 'backup_verification_failed', /SHA-256/));
    assert.ok(!engine.listDatabases().includes('broken'));
    assert.deepEqual(readdirSync(dataDir).filter((f) => f.startsWith('.staging') || f.startsWith('broken')), []);
  }));

  it('refuses a restore whose tables do not match the manifest (row counts and checksums)', () => withEngine(async (engine, dataDir) => {
    await seed(engine, 'sales', 100);
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
    await db.query(`CREATE TABLE t (batch INTEGER, i INTEGER)`, undefined, { timeoutMs: 10_000 });
    let stop = false;
    let batches = 0;
    const writer = (async () => {
      while (!stop) {
        // One statement, one transaction: 1000 rows or none.
        await db.query(`INSERT INTO t SELECT ${batches}, i FROM range(1000) r(i)`, undefined, { timeoutMs: 10_000 });
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
      const { result } = await engine.database(restored.database).query(`SELECT count(*)::INTEGER AS n, count(DISTINCT batch)::INTEGER AS b FROM t`, undefined, { timeoutMs: 10_000 });
      assert.deepEqual(result[0], { n: rows, b: rows / 1000 });
      await engine.dropDatabase(restored.database);
    }
  }));

  it('runs one backup per database at a time (409) and refuses below the free-space floor (507)', () => withEngine(async (engine, dataDir) => {
    await seed(engine, 'sales', 20_000);
    const backups = service(engine, dataDir);
    const first = backups.create('sales');
    await assert.rejects(backups.create('sales'), apiError(409, 'conflict', /already running/));
    await first;
    const starved = service(engine, dataDir, { minFreeBytes: Number.MAX_SAFE_INTEGER });
    await assert.rejects(starved.create('sales'), apiError(507, 'insufficient_storage', /BACKUP_MIN_FREE/));
    await assert.rejects(starved.restore({ backupId: (await first).id, target: 'x' }), apiError(507, 'insufficient_storage', /DATA_DIR/));
    await assert.rejects(backups.create('nope'), apiError(404, 'not_found'));
    await assert.rejects(backups.create('../etc'), apiError(400, 'invalid_name'));
    await assert.rejects(backups.restore({ backupId: '../../etc/passwd' }), apiError(400, 'invalid_backup_id'));
    await assert.rejects(backups.restore({ backupId: 'sales-20200101T000000Z-abcdef' }), apiError(404, 'not_found'));
  }));

  it('keeps the newest N and drops those older than the maximum age, never the newest one', () => withEngine(async (engine, dataDir) => {
    await seed(engine, 'sales', 10);
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
});
