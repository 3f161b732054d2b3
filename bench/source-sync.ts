/**
 * Source sync figures (issue 15), against the MariaDB at MARIADB_URL (default root@127.0.0.1:3306):
 *  1. full sync of a `--rows`-row table (default 1 000 000): rows/s and the sync process's peak RSS;
 *  2. incremental sync after 1 000 changed rows: its latency;
 *  3. API point-read p99 (GET /api/find/people/:id, 8 connections) while a full sync runs vs idle.
 * Rows 1-2 run `duckgate sync` as a separate process (peak RSS = its VmHWM); row 3 a `duckgate
 * serve` child and autocannon here. Each engine of `--engines` (default duckdb) gets the same
 * source: DuckDB in a temp DATA_DIR, PostgreSQL (POSTGRES_BENCH_URL, default postgres@127.0.0.1/test)
 * through DATA_URL under a fresh locked-down role, as the engine demands.
 * Usage: node --import tsx bench/source-sync.ts [--rows N] [--duration S] [--engines duckdb,postgres]
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync, mkdtempSync } from 'node:fs';
import { tmpdir, loadavg } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import mysql from 'mysql2/promise';
import { benchDataRole } from './postgres-role.js';
import type { SyncRun } from '../src/data/sync/types.js';

const { values } = parseArgs({
  options: { rows: { type: 'string', default: '1000000' }, duration: { type: 'string', default: '10' }, engines: { type: 'string', default: 'duckdb' } },
});
const ROWS = Number(values.rows);
const DURATION = Number(values.duration);
const ENGINES = values.engines.split(',').map((e) => e.trim()) as ('duckdb' | 'postgres')[];
for (const engine of ENGINES) if (engine !== 'duckdb' && engine !== 'postgres') throw new Error(`--engines: unknown engine '${engine}'`);
const PG_URL = process.env.POSTGRES_BENCH_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const MARIADB_URL = process.env.MARIADB_URL ?? 'mysql://root@127.0.0.1:3306/test';
const ROOT = path.resolve(import.meta.dirname, '..');
const CLI = path.join(ROOT, 'src/cli/main.ts');
const ADMIN_KEY = `bench-admin-${randomBytes(12).toString('hex')}`;
const say = (line: string) => process.stderr.write(`${line}\n`);

async function createSource(): Promise<{ name: string; url: string; db: mysql.Connection; drop(): Promise<void> }> {
  const name = `dg_bench_${randomBytes(4).toString('hex')}`;
  const admin = await mysql.createConnection({ uri: MARIADB_URL });
  await admin.query(`CREATE DATABASE \`${name}\``);
  await admin.end();
  const url = new URL(MARIADB_URL);
  url.pathname = `/${name}`;
  const db = await mysql.createConnection({ uri: url.toString(), multipleStatements: true });
  await db.query(`CREATE TABLE orders (
      id INT NOT NULL PRIMARY KEY, customer VARCHAR(64) NOT NULL, total DECIMAL(12,2) NULL, ratio DOUBLE NULL,
      placed_on DATE NULL, updated_at DATETIME(6) NOT NULL, meta JSON NULL, thumb BLOB NULL, note TEXT NULL, KEY (updated_at))`);
  for (let from = 1; from <= ROWS; from += 250_000) {
    const to = Math.min(ROWS, from + 249_999);
    await db.query(`INSERT INTO orders SELECT seq, CONCAT('customer-', seq % 997), IF(seq % 11 = 0, NULL, (seq * 37 % 100000) / 100), seq / 7,
      DATE('2025-01-01') + INTERVAL (seq % 365) DAY, TIMESTAMP('2026-01-01') + INTERVAL seq SECOND,
      IF(seq % 29 = 0, NULL, JSON_OBJECT('n', seq, 'vip', seq % 3 = 0)), IF(seq % 31 = 0, NULL, UNHEX('00FF10')), REPEAT('x', seq % 40)
      FROM seq_${from}_to_${to}`);
  }
  return {
    name, url: url.toString(), db,
    drop: async () => {
      await db.end();
      const again = await mysql.createConnection({ uri: MARIADB_URL });
      await again.query(`DROP DATABASE IF EXISTS \`${name}\``);
      await again.end();
    },
  };
}

/** DATA_URL and DATA_SCHEMA_PREFIX of the engine being measured (none for DuckDB). */
let dataPlane: Record<string, string> = {};

function env(dataDir: string): Record<string, string> {
  return { PATH: process.env.PATH ?? '', DATA_DIR: dataDir, ADMIN_API_KEY: ADMIN_KEY, LOG_LEVEL: 'warn', ...dataPlane };
}

/** A fresh locked-down role for the PostgreSQL data plane; `drop` removes its schemas and itself. */
async function postgresPlane(): Promise<{ env: Record<string, string>; drop(): Promise<void> }> {
  const plane = await benchDataRole(PG_URL);
  return { env: { DATA_URL: plane.url, DATA_SCHEMA_PREFIX: `${plane.role}_` }, drop: plane.drop };
}

/** Runs the CLI, sampling its peak resident set (VmHWM) until it exits. */
async function runMeasured(args: string[], dataDir: string): Promise<{ stdout: string; peakRssMb: number }> {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], { cwd: ROOT, env: env(dataDir), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let peakKb = 0;
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const sample = setInterval(() => {
    try {
      const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      if (match) peakKb = Math.max(peakKb, Number(match[1]));
    } catch { /* exited */ }
  }, 100);
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  clearInterval(sample);
  if (code !== 0) throw new Error(`duckgate ${args.join(' ')} exited ${code}:\n${stderr}`);
  return { stdout, peakRssMb: peakKb / 1024 };
}

async function startServer(dataDir: string): Promise<{ url: string; stop(): Promise<void> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'serve'], { cwd: ROOT, env: { ...env(dataDir), PORT: '0' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (c: Buffer) => {
      output += c.toString();
      const match = /listening on (http:\/\/\S+)/.exec(output);
      if (match) resolve(match[1]!);
    });
    child.once('exit', (code) => reject(new Error(`server exited ${code}: ${output}`)));
  });
  return { url, stop: async () => { child.kill('SIGTERM'); await new Promise((r) => child.once('exit', r)); } };
}

async function p99(url: string, seconds: number): Promise<{ p50: number; p99: number; requests: number; non2xx: number }> {
  const latencies: number[] = [];
  const instance = autocannon({
    url, connections: 8, duration: seconds,
    requests: [{ method: 'GET', headers: { 'x-api-key': ADMIN_KEY }, setupRequest: (r) => ({ ...r, path: `/api/find/people/p-${Math.floor(Math.random() * 1000)}?db=shop` }) }],
  });
  instance.on('response', (_c: unknown, _s: number, _b: number, ms: number) => latencies.push(ms));
  const result = await instance;
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
  return { p50: at(0.5), p99: at(0.99), requests: latencies.length, non2xx: result.non2xx + result.errors };
}

async function measureEngine(engine: 'duckdb' | 'postgres'): Promise<unknown> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'duckgate-bench-sync-'));
  const plane = engine === 'postgres' ? await postgresPlane() : undefined;
  dataPlane = plane?.env ?? {};
  try {
    say(`${engine}: load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    // The database and its source, through the API as a user would.
    const setup = await startServer(dataDir);
    const post = (p: string, body: unknown) => fetch(`${setup.url}${p}`, { method: 'POST', headers: { 'x-api-key': ADMIN_KEY, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const created = await post('/api/databases/shop', { source: source.url });
    if (created.status !== 201) throw new Error(await created.text());
    await setup.stop();

    // 1. Full sync.
    const loadBefore = loadavg()[0]!;
    const full = await runMeasured(['sync', 'full', '--db', 'shop', '--json', '--quiet'], dataDir);
    const fullRun = JSON.parse(full.stdout) as SyncRun;
    const orders = fullRun.tables.find((t) => t.table === 'orders')!;
    say(`${engine} full: ${orders.recordsProcessed} rows in ${orders.duration} ms, peak RSS ${full.peakRssMb.toFixed(0)} MB`);

    // 2. Incremental after 1 000 changed rows (the source is put back afterwards for the next engine).
    await source.db.query(`UPDATE orders SET note = 'changed', updated_at = '2027-01-01 00:00:00' WHERE id % ${Math.floor(ROWS / 1000)} = 0 LIMIT 1000`);
    const incremental = await runMeasured(['sync', 'incremental', '--db', 'shop', '--json', '--quiet'], dataDir);
    const incRun = JSON.parse(incremental.stdout) as SyncRun;
    say(`${engine} incremental: ${incRun.totalRecords} rows in ${incRun.duration} ms`);

    // 3. Point reads, idle and during a full sync.
    const server = await startServer(dataDir);
    const batch = Array.from({ length: 1000 }, (_, i) => ({ data: { id: `p-${i}`, name: `person ${i}`, score: i } }));
    await fetch(`${server.url}/api/batch/insert/people?db=shop`, { method: 'POST', headers: { 'x-api-key': ADMIN_KEY, 'content-type': 'application/json' }, body: JSON.stringify({ inserts: batch }) });
    await p99(server.url, 2);
    const idle = await p99(server.url, DURATION);
    const started = await fetch(`${server.url}/sync/full?db=shop&wait=false`, { method: 'POST', headers: { 'x-api-key': ADMIN_KEY } });
    if (started.status !== 202) throw new Error(await started.text());
    const during = await p99(server.url, DURATION);
    const progress = await (await fetch(`${server.url}/sync/progress?db=shop`, { headers: { 'x-api-key': ADMIN_KEY } })).json() as { inProgress: boolean; recordsProcessed: number };
    // The background sync must end before its data goes.
    while ((await (await fetch(`${server.url}/sync/progress?db=shop`, { headers: { 'x-api-key': ADMIN_KEY } })).json() as { inProgress: boolean }).inProgress) {
      await new Promise((r) => setTimeout(r, 500));
    }
    await server.stop();
    return {
      engine,
      rows: ROWS,
      fullSync: { ms: orders.duration, rowsPerSecond: Math.round(orders.recordsProcessed / (orders.duration / 1000)), peakRssMb: Math.round(full.peakRssMb), loadBefore: Number(loadBefore.toFixed(2)) },
      incremental: { changedRows: 1000, rowsRead: incRun.totalRecords, ms: incRun.duration },
      pointRead: { idle, duringSync: during, syncStillRunningAtEnd: progress.inProgress, rowsSyncedDuringMeasure: progress.recordsProcessed },
      load: loadavg().map((l) => Number(l.toFixed(2))),
    };
  } finally {
    await source.db.query(`UPDATE orders SET note = REPEAT('x', id % 40), updated_at = TIMESTAMP('2026-01-01') + INTERVAL id SECOND WHERE note = 'changed'`);
    rmSync(dataDir, { recursive: true, force: true });
    await plane?.drop();
  }
}

const source = await createSource();
try {
  say(`source: ${ROWS} rows in ${source.name}.orders; engines ${ENGINES.join(', ')}`);
  const reports = [];
  for (const engine of ENGINES) reports.push(await measureEngine(engine));
  process.stdout.write(`${JSON.stringify(reports, null, 2)}\n`);
} finally {
  await source.drop();
}
