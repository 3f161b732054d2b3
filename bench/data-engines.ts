/**
 * The data plane on PostgreSQL (DATA_URL) against DuckDB, 1 and 3 replicas, in one run:
 *
 * - the authenticated point read (`GET /api/find/bench_items/:id`, admin key) for DURATION s with
 *   CONNECTIONS connections split over the replicas (autocannon): req/s, p50, p99;
 * - a 1,000-record batch (`POST /api/batch/insert`): BATCHES batches one after another on one
 *   replica, then BATCHES rounds of one batch on each of three replicas at once: median ms per
 *   batch and records/s over all replicas.
 *
 * DuckDB replicas each have their own DATA_DIR (nothing shared: each is seeded on its own);
 * PostgreSQL replicas share one DATA_URL under a fresh locked-down role, dropped afterwards. The
 * record cache is off on every replica (RECORD_CACHE_BYTES=0; it must be with DATA_URL), so both
 * engines answer every read themselves.
 *
 *   node --import tsx bench/data-engines.ts [--duration 10] [--connections 30] [--batches 5]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { benchDataRole } from './postgres-role.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: { duration: { type: 'string', default: '10' }, connections: { type: 'string', default: '30' }, batches: { type: 'string', default: '5' } },
});
const DURATION = Number(values.duration);
const CONNECTIONS = Number(values.connections);
const BATCHES = Number(values.batches);
const PG_URL = process.env.POSTGRES_BENCH_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const KEY = randomBytes(24).toString('base64url');
const ROWS = 1000;

interface Replica {
  child: ChildProcess;
  url: string;
  dataDir: string;
}

async function start(env: Record<string, string>): Promise<Replica> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'duckgate-bench-data-'));
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/cli/main.ts'), 'serve'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', PORT: '0', LOG_LEVEL: 'error', DATA_DIR: dataDir, ADMIN_API_KEY: KEY, ADMIN_PASSWORD: 'bench-data-password-1', API_RATE_LIMIT: '0', RECORD_CACHE_BYTES: '0', MAX_IN_FLIGHT_PER_CLIENT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening on (http:\/\/\S+)/.exec(output);
      if (match) resolve(match[1]!);
    });
    child.once('exit', (code) => reject(new Error(`replica exited with ${code}: ${output}`)));
  });
  return { child, url, dataDir };
}

async function stop(replicas: Replica[]): Promise<void> {
  for (const replica of replicas) {
    const exited = once(replica.child, 'exit');
    replica.child.kill('SIGTERM');
    await exited;
    rmSync(replica.dataDir, { recursive: true, force: true });
  }
}

async function call(replica: Replica, method: string, route: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const response = await fetch(`${replica.url}${route}`, {
    method,
    headers: { 'x-api-key': KEY, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, json: text ? (JSON.parse(text) as unknown) : undefined };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

async function pointRead(targets: Replica[]): Promise<{ reqPerSec: number; p50: number; p99: number }> {
  const latencies: number[] = [];
  const per = Math.max(1, Math.floor(CONNECTIONS / targets.length));
  const results = await Promise.all(targets.map((replica) => {
    const instance = autocannon({
      url: replica.url,
      connections: per,
      duration: DURATION,
      requests: [{ method: 'GET', headers: { 'x-api-key': KEY }, setupRequest: (request) => ({ ...request, path: `/api/find/bench_items/item-${Math.floor(Math.random() * ROWS)}` }) }],
    });
    instance.on('response', (_client: unknown, _status: number, _bytes: number, ms: number) => latencies.push(ms));
    return instance;
  }));
  const failed = results.reduce((n, r) => n + r.errors + r.timeouts + r.non2xx, 0);
  if (failed > 0) throw new Error(`point read: ${failed} failed requests`);
  latencies.sort((a, b) => a - b);
  return { reqPerSec: results.reduce((n, r) => n + r.requests.total, 0) / DURATION, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}

let batchNumber = 0;
async function batch(replica: Replica): Promise<number> {
  const tag = batchNumber++;
  const inserts = Array.from({ length: 1000 }, (_, i) => ({ data: { id: `b${tag}-${i}`, name: `record ${i}`, score: i, active: i % 2 === 0 } }));
  const started = performance.now();
  const answer = await call(replica, 'POST', '/api/batch/insert/bench_batches', { inserts });
  const ms = performance.now() - started;
  const failed = (answer.json as { failed?: unknown[] } | undefined)?.failed?.length ?? -1;
  if (answer.status !== 200 || failed !== 0) throw new Error(`batch: ${answer.status} ${JSON.stringify(answer.json).slice(0, 300)}`);
  return ms;
}

const median = (list: number[]): number => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)]!;

async function measure(replicas: Replica[], seedEach: boolean): Promise<{ read: Awaited<ReturnType<typeof pointRead>>; batchMs: number; recordsPerSec: number }> {
  const records = Array.from({ length: ROWS }, (_, i) => ({ data: { id: `item-${i}`, name: `item ${i}`, score: i } }));
  for (const replica of seedEach ? replicas : replicas.slice(0, 1)) {
    const seeded = await call(replica, 'POST', '/api/batch/insert/bench_items', { inserts: records });
    if (seeded.status !== 200) throw new Error(`seeding: ${seeded.status}`);
  }
  await pointRead(replicas); // warm-up
  const read = await pointRead(replicas);
  await Promise.all(replicas.map((r) => batch(r))); // warm-up (creates the collection)
  const times: number[] = [];
  let wall = 0;
  for (let i = 0; i < BATCHES; i++) {
    const started = performance.now();
    times.push(...(await Promise.all(replicas.map((r) => batch(r)))));
    wall += performance.now() - started;
  }
  return { read, batchMs: median(times), recordsPerSec: (BATCHES * replicas.length * 1000) / (wall / 1000) };
}

const plane = await benchDataRole(PG_URL);
const rows: string[] = [];
try {
  for (const engine of ['duckdb', 'postgres'] as const) {
    for (const count of [1, 3]) {
      const env: Record<string, string> = engine === 'postgres' ? { DATA_URL: plane.url, DATA_SCHEMA_PREFIX: `${plane.role}_${count}_` } : {};
      process.stderr.write(`${engine}, ${count} replica(s)...\n`);
      const replicas: Replica[] = [];
      try {
        for (let i = 0; i < count; i++) replicas.push(await start(env));
        const m = await measure(replicas, engine === 'duckdb');
        rows.push(`| ${engine} | ${count} | ${m.read.reqPerSec.toFixed(0)} req/s, p50 ${m.read.p50.toFixed(2)} ms, p99 ${m.read.p99.toFixed(2)} ms | ${m.batchMs.toFixed(0)} ms | ${m.recordsPerSec.toFixed(0)} |`);
      } finally {
        await stop(replicas);
        // The role may read only its own prefix's schemas (the engine checks at start): clear this run's.
        if (engine === 'postgres') await plane.dropSchemas(`${plane.role}_`);
      }
    }
  }
  process.stdout.write(`\ndata engines bench (${DURATION} s point reads, ${CONNECTIONS} connections, ${BATCHES} rounds of 1,000-record batches)\n\n`);
  process.stdout.write('| engine | replicas | authenticated point read | 1,000-record batch (median) | batch records/s, all replicas |\n|---|---|---|---|---|\n');
  process.stdout.write(`${rows.join('\n')}\n`);
} finally {
  await plane.drop();
}
