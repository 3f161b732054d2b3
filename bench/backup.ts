/**
 * Backup and restore of a ~1M-row database (issue 15 item 5): duckgate's checkpointed copy against
 * DuckDB's `EXPORT DATABASE … (FORMAT parquet)` on the same data, and how long point reads wait
 * while a backup runs. Usage: `npm run bench:backup -- --rows 1000000`.
 * With `--engine postgres` (issue 14): the same table in PostgreSQL (POSTGRES_BENCH_URL, else the
 * local test database, under a fresh locked-down role): the snapshot dump, a restore into a new
 * name and a replacing one, this process's peak RSS, and `pg_dump -Fc` of the schema when a
 * pg_dump of the server's major version is installed.
 * Prints one JSON object; progress goes to stderr.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DuckDBInstance } from '@duckdb/node-api';
import { LocalBackupStorage } from '../src/data/backup/local-storage.js';
import { BackupService } from '../src/data/backup/service.js';
import { openDuckDBEngine } from '../src/data/duckdb/index.js';
import { openPostgresEngine } from '../src/data/postgres/index.js';

const { values } = parseArgs({ options: { rows: { type: 'string', default: '1000000' }, engine: { type: 'string', default: 'duckdb' } } });
const rows = Number(values.rows);
const say = (line: string) => process.stderr.write(`${line}\n`);
const dir = mkdtempSync(join(tmpdir(), 'duckgate-bench-backup-'));
const ms = (since: number) => Math.round(performance.now() - since);
const dirBytes = (path: string): number => readdirSync(path).reduce((n, f) => n + statSync(join(path, f)).size, 0);

async function duckdb(): Promise<void> {
  try {
    const engine = await openDuckDBEngine({ dataDir: dir, memoryLimit: '1GB', threads: 1, readConnections: 2 });
    const db = engine.database('default');
    const admin = { timeoutMs: 600_000 };
    say(`seeding ${rows} rows`);
    await db.query(`CREATE TABLE orders (id BIGINT PRIMARY KEY, customer VARCHAR, amount DECIMAL(12,2), placed TIMESTAMP, status VARCHAR, note VARCHAR)`, undefined, admin);
    await db.query(`INSERT INTO orders SELECT i, 'customer-' || (i % 50000), (i % 100000) / 100.0, TIMESTAMP '2020-01-01' + INTERVAL (i) SECOND,
      CASE i % 4 WHEN 0 THEN 'new' WHEN 1 THEN 'paid' WHEN 2 THEN 'shipped' ELSE 'returned' END,
      CASE WHEN i % 7 = 0 THEN NULL ELSE 'note ' || md5(i::VARCHAR) END FROM range(${rows}) r(i)`, undefined, admin);
    await db.insert('people', { name: 'Ada' });
    const backups = new BackupService({
      engine, storage: new LocalBackupStorage(join(dir, 'backups')), dataDir: dir, minFreeBytes: 0,
      retention: { keep: 0, maxAgeDays: 0 },
    });

    // Point reads while the backup runs: the longest one shows whether reads waited on it.
    let reading = true;
    const readLatencies: number[] = [];
    const reads = (async () => {
      while (reading) {
        const start = performance.now();
        await db.query('SELECT amount FROM orders WHERE id = $1', [Math.floor(Math.random() * rows)], { timeoutMs: 60_000 });
        readLatencies.push(performance.now() - start);
      }
    })();
    say('backup (checkpointed copy)');
    let start = performance.now();
    const backup = await backups.create('default');
    const backupMs = ms(start);
    reading = false;
    await reads;
    readLatencies.sort((a, b) => a - b);

    say('restore (verified, into a new name)');
    start = performance.now();
    const restored = await backups.restore({ backupId: backup.id, target: 'restored' });
    const restoreMs = ms(start);

    // The alternative: EXPORT DATABASE to Parquet. duckgate's own instances have file access locked
    // off, so it runs in an instance of its own on the snapshot file (what a backup would have to do).
    say('EXPORT DATABASE (FORMAT parquet) on the snapshot');
    const snapshot = join(dir, 'backups', backup.id, 'database.duckdb');
    const exporter = await DuckDBInstance.create(snapshot, { access_mode: 'READ_ONLY', threads: '1', memory_limit: '1GB' });
    const connection = await exporter.connect();
    start = performance.now();
    await connection.run(`EXPORT DATABASE '${join(dir, 'export')}' (FORMAT parquet)`);
    const exportMs = ms(start);
    connection.closeSync();
    exporter.closeSync();
    say('IMPORT DATABASE of that export');
    const importer = await DuckDBInstance.create(join(dir, 'imported.duckdb'), { threads: '1', memory_limit: '1GB' });
    const importConnection = await importer.connect();
    start = performance.now();
    await importConnection.run(`IMPORT DATABASE '${join(dir, 'export')}'`);
    const importMs = ms(start);
    importConnection.closeSync();
    importer.closeSync();

    await engine.close();
    process.stdout.write(`${JSON.stringify({
      rows,
      load: loadavg().map((n) => n.toFixed(2)).join(' '),
      checkpointCopy: {
        backupMs, writerHeldMs: backup.writerHeldMs, bytes: backup.bytes, restoreMs: restoreMs, restoredTables: restored.tables.length,
        readsDuringBackup: readLatencies.length, readP50Ms: +(readLatencies[Math.floor(readLatencies.length / 2)] ?? 0).toFixed(2),
        readMaxMs: +(readLatencies[readLatencies.length - 1] ?? 0).toFixed(2),
      },
      exportParquet: { exportMs, bytes: dirBytes(join(dir, 'export')), importMs },
    }, null, 2)}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Point reads of random ids until `until()` is false: their latencies, sorted. */
async function readWhile(read: (id: number) => Promise<unknown>, running: () => boolean): Promise<number[]> {
  const latencies: number[] = [];
  while (running()) {
    const start = performance.now();
    await read(Math.floor(Math.random() * rows));
    latencies.push(performance.now() - start);
  }
  return latencies.sort((a, b) => a - b);
}

const mb = (kb: number): number => Math.round(kb / 1024);

async function postgres(): Promise<void> {
  const { freshPostgresData } = await import('../test/data/engines.js');
  const data = await freshPostgresData();
  const loadBefore = loadavg().map((n) => n.toFixed(2)).join(' ');
  try {
    const engine = await openPostgresEngine({ url: data.url, schemaPrefix: data.schemaPrefix, poolSize: 4, statementTimeoutMs: 600_000 });
    const db = engine.database('default');
    const admin = { timeoutMs: 600_000 };
    say(`seeding ${rows} rows`);
    await db.query(`CREATE TABLE orders (id bigint PRIMARY KEY, customer text, amount numeric(12,2), placed timestamp, status text, note text)`, undefined, admin);
    await db.query(`INSERT INTO orders SELECT i, 'customer-' || (i % 50000), (i % 100000) / 100.0, TIMESTAMP '2020-01-01' + make_interval(secs => i),
      CASE i % 4 WHEN 0 THEN 'new' WHEN 1 THEN 'paid' WHEN 2 THEN 'shipped' ELSE 'returned' END,
      CASE WHEN i % 7 = 0 THEN NULL ELSE 'note ' || md5(i::text) END FROM generate_series(0, ${rows} - 1) i`, undefined, admin);
    await db.query('ANALYZE orders', undefined, admin);
    await db.insert('people', { name: 'Ada' });
    const backups = new BackupService({
      engine, storage: new LocalBackupStorage(join(dir, 'backups')), dataDir: dir, minFreeBytes: 0, retention: { keep: 0, maxAgeDays: 0 },
    });
    const rssBefore = process.resourceUsage().maxRSS;

    say('backup (snapshot dump)');
    let reading = true;
    const reads = readWhile((id) => db.query('SELECT amount FROM orders WHERE id = $1', [id], { timeoutMs: 60_000 }), () => reading);
    let start = performance.now();
    const backup = await backups.create('default');
    const backupMs = ms(start);
    reading = false;
    const readLatencies = await reads;
    const rssAfterBackup = process.resourceUsage().maxRSS;

    say('restore into a new name');
    start = performance.now();
    await backups.restore({ backupId: backup.id, target: 'restored' });
    const restoreMs = ms(start);
    say('restore over the live database (replace)');
    reading = true;
    const replaceReads = readWhile((id) => engine.database('default').query('SELECT amount FROM orders WHERE id = $1', [id], { timeoutMs: 60_000 }), () => reading);
    start = performance.now();
    await backups.restore({ backupId: backup.id, target: 'default', replace: true });
    const replaceMs = ms(start);
    reading = false;
    const replaceLatencies = await replaceReads;
    const rssAfterRestore = process.resourceUsage().maxRSS;
    await engine.close();

    let pgDump: Record<string, unknown> = { skipped: 'no pg_dump of the server major version' };
    try {
      const version = execFileSync('pg_dump', ['--version'], { encoding: 'utf8' });
      say(`pg_dump -Fc of the schema (${version.trim()})`);
      const file = join(dir, 'pg_dump.custom');
      start = performance.now();
      execFileSync('pg_dump', ['-Fc', '-n', `${data.schemaPrefix}default`, '-f', file, data.url]);
      pgDump = { version: version.trim(), dumpMs: ms(start), bytes: statSync(file).size };
    } catch (error) {
      pgDump = { skipped: error instanceof Error ? error.message.split('\n')[0] : String(error) };
    }
    const p = (sorted: number[], q: number): number => +(sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))] ?? 0).toFixed(2);
    process.stdout.write(`${JSON.stringify({
      rows,
      engine: 'postgres',
      load: { before: loadBefore, after: loadavg().map((n) => n.toFixed(2)).join(' ') },
      postgresDump: {
        backupMs, bytes: backup.bytes, restoreNewMs: restoreMs, restoreReplaceMs: replaceMs,
        readsDuringBackup: readLatencies.length, readP50Ms: p(readLatencies, 0.5), readMaxMs: p(readLatencies, 1),
        readsDuringReplace: replaceLatencies.length, replaceReadP50Ms: p(replaceLatencies, 0.5), replaceReadMaxMs: p(replaceLatencies, 1),
        peakRssMb: { beforeBackup: mb(rssBefore), afterBackup: mb(rssAfterBackup), afterRestores: mb(rssAfterRestore) },
      },
      pgDump,
    }, null, 2)}\n`);
  } finally {
    await data.drop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (values.engine === 'postgres') {
  await postgres();
} else {
  await duckdb();
}
