/**
 * findById through the engine on a 100k-row collection, against the raw DuckDB floor measured in
 * the same run (prepared `SELECT 1`, and the bare prepared point query the engine wraps).
 * Run: node --import tsx bench/engine-findbyid.ts [threads] [readConnections]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { openDuckDBEngine } from '../src/data/duckdb/index.js';

const ROWS = 100_000;
const ITER = Number(process.env.ITER ?? 3000);
const threads = Number(process.argv[2] ?? 1);
const readConnections = Number(process.argv[3] ?? 4);
const id = (i: number): string => `id-${(i * 7919) % ROWS}`;

async function perOp(label: string, fn: (i: number) => Promise<unknown>, baseline?: number): Promise<number> {
  for (let i = 0; i < 300; i++) await fn(i);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < ITER; i++) await fn(i);
  const us = Number(process.hrtime.bigint() - t0) / 1000 / ITER;
  console.log(`${label.padEnd(52)} ${us.toFixed(0).padStart(6)} µs/op${baseline ? `  ×${(us / baseline).toFixed(2)}` : ''}`);
  return us;
}

async function throughput(label: string, inflight: number, fn: (i: number) => Promise<unknown>): Promise<void> {
  const total = ITER * 2;
  let next = 0;
  const t0 = process.hrtime.bigint();
  await Promise.all(Array.from({ length: inflight }, async () => { while (next < total) await fn(next++); }));
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(`${label.padEnd(52)} ${(total / s).toFixed(0).padStart(6)} ops/s`);
}

const dir = mkdtempSync(join(tmpdir(), 'duckgate-bench-'));
try {
  const engine = await openDuckDBEngine({ dataDir: dir, memoryLimit: '1GB', threads, readConnections });
  const db = engine.database('default');
  await db.insert('people', { id: 'seed', name: 'x', age: 1, tags: ['a'], active: true });
  await db.query(`INSERT INTO people SELECT 'id-' || i, 'name ' || i, i::DOUBLE, '["a","b"]', i % 2 = 0 FROM range(${ROWS}) r(i)`, undefined, { timeoutMs: 60_000 });
  await db.query('CHECKPOINT', undefined, { timeoutMs: 60_000 });
  await engine.close();

  // The raw floor on the same file, same settings.
  const instance = await DuckDBInstance.create(join(dir, 'default.duckdb'), { threads: String(threads) });
  const conn = await instance.connect();
  const one = await conn.prepare('SELECT 1');
  const point = await conn.prepare('SELECT * FROM people WHERE id = $1');
  console.log(`threads=${threads} readConnections=${readConnections} rows=${ROWS} iter=${ITER} UV_THREADPOOL_SIZE=${process.env.UV_THREADPOOL_SIZE ?? 4}`);
  const base = await perOp('raw: prepared SELECT 1, run() + getChunk', async () => (await one.run()).getChunk(0));
  await perOp('raw: prepared point query, run() + getChunk rows', async (i) => {
    point.bindVarchar(1, id(i));
    const r = await point.run();
    return r.chunkCount > 0 ? r.getChunk(0).getRows() : [];
  }, base);
  await perOp('raw: prepared point query, runAndReadAll + RowObjectsJS', async (i) => {
    point.bindVarchar(1, id(i));
    return (await point.runAndReadAll()).getRowObjectsJS();
  }, base);
  await perOp('raw: unprepared runAndReadAll(sql, [id])', async (i) => (await conn.runAndReadAll('SELECT * FROM people WHERE id = $1', [id(i)])).getRowObjectsJS(), base);
  conn.closeSync();
  instance.closeSync();

  const engine2 = await openDuckDBEngine({ dataDir: dir, memoryLimit: '1GB', threads, readConnections });
  const db2 = engine2.database('default');
  await perOp('engine: findById', (i) => db2.findById('people', id(i)), base);
  await perOp('engine: findById with select_fields', (i) => db2.findById('people', id(i), { select_fields: ['name'] }), base);
  await perOp('engine: find Eq on unindexed field, limit 1', (i) => db2.find('people', { filter: { type: 'Condition', content: { field: 'name', operator: 'Eq', value: `name ${(i * 7919) % ROWS}` } }, limit: 1 }), base);
  for (const inflight of [1, 2, 4, 8, 16]) await throughput(`engine: findById throughput, ${inflight} in flight`, inflight, (i) => db2.findById('people', id(i)));
  await engine2.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
