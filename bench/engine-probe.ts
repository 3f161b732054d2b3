/**
 * Where does a DuckDB point read's millisecond go? Variants of "read one row by primary key from a
 * 100k-row table" run interleaved (one op of each per round), so machine noise hits all alike;
 * medians and p90 are reported with the ratio to a prepared `SELECT 1` measured in the same run.
 * Run: node --import tsx bench/engine-probe.ts [threads] [rounds]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance, type DuckDBMaterializedResult } from '@duckdb/node-api';
import { openDuckDBEngine } from '../src/data/duckdb/index.js';
import { instanceConfig } from '../src/data/duckdb/database.js';

const ROWS = 100_000;
const threads = Number(process.argv[2] ?? 1);
const ROUNDS = Number(process.argv[3] ?? 2000);
const id = (i: number): string => `id-${(i * 7919) % ROWS}`;

type Variant = { label: string; run: (i: number) => Promise<unknown>; samples: number[] };

const dir = mkdtempSync(join(tmpdir(), 'duckgate-probe-'));
try {
  // Build the table through the engine so the file has exactly the engine's column types.
  const setup = await openDuckDBEngine({ dataDir: dir, memoryLimit: '1GB', threads, readConnections: 1 });
  const setupDb = setup.database('default');
  await setupDb.insert('people', { id: 'seed', name: 'x', age: 1, tags: ['a'], active: true });
  await setupDb.query(`INSERT INTO people SELECT 'id-' || i, 'name ' || i, i::DOUBLE, '["a","b"]', i % 2 = 0 FROM range(${ROWS}) r(i)`, undefined, { timeoutMs: 60_000 });
  await setupDb.query('CHECKPOINT', undefined, { timeoutMs: 60_000 });
  await setup.close();

  const instance = await DuckDBInstance.create(join(dir, 'default.duckdb'), { threads: String(threads) });
  const conn = await instance.connect();
  const engine = await openDuckDBEngine({ dataDir: join(dir, 'engine'), memoryLimit: '1GB', threads, readConnections: 1 });
  // The engine gets its own copy of the data (one file can only be opened by one instance).
  const db = engine.database('default');
  await db.insert('people', { id: 'seed', name: 'x', age: 1, tags: ['a'], active: true });
  await db.query(`INSERT INTO people SELECT 'id-' || i, 'name ' || i, i::DOUBLE, '["a","b"]', i % 2 = 0 FROM range(${ROWS}) r(i)`, undefined, { timeoutMs: 60_000 });
  await db.query('CHECKPOINT', undefined, { timeoutMs: 60_000 });

  // Same data, same settings as the engine's instances: isolates the sandbox options' cost.
  const sandboxDir = join(dir, 'sandbox');
  const sandboxSetup = await openDuckDBEngine({ dataDir: sandboxDir, memoryLimit: '1GB', threads, readConnections: 1 });
  await sandboxSetup.database('default').insert('people', { id: 'seed', name: 'x', age: 1, tags: ['a'], active: true });
  await sandboxSetup.database('default').query(`INSERT INTO people SELECT 'id-' || i, 'name ' || i, i::DOUBLE, '["a","b"]', i % 2 = 0 FROM range(${ROWS}) r(i)`, undefined, { timeoutMs: 60_000 });
  await sandboxSetup.database('default').query('CHECKPOINT', undefined, { timeoutMs: 60_000 });
  await sandboxSetup.close();
  const sandboxed = await DuckDBInstance.create(join(sandboxDir, 'default.duckdb'), instanceConfig({ memoryLimit: '1GB', threads, readConnections: 1 }));
  const sandboxConn = await sandboxed.connect();
  const sandboxPoint = await sandboxConn.prepare('SELECT * FROM people WHERE id = $1');

  const one = await conn.prepare('SELECT 1');
  const point = await conn.prepare('SELECT * FROM people WHERE id = $1');
  const pointLimit = await conn.prepare('SELECT * FROM people WHERE id = $1 LIMIT 1');
  const idOnly = await conn.prepare('SELECT id FROM people WHERE id = $1');
  const asJson = await conn.prepare('SELECT to_json(people)::VARCHAR FROM people WHERE id = $1');
  const noParam = await conn.prepare(`SELECT * FROM people WHERE id = 'id-4242'`);
  const scan = await conn.prepare('SELECT * FROM people WHERE name = $1');
  const firstRows = (r: DuckDBMaterializedResult): unknown => (r.chunkCount > 0 ? r.getChunk(0).getRows() : []);

  const variants: Variant[] = [
    { label: 'prepared SELECT 1 (floor)', run: async () => (await one.run()).getChunk(0), samples: [] },
    { label: 'unprepared runAndReadAll(sql,[id]) + getRowObjectsJS', run: async (i) => (await conn.runAndReadAll('SELECT * FROM people WHERE id = $1', [id(i)])).getRowObjectsJS(), samples: [] },
    { label: 'prepared bind() + runAndReadAll + getRowObjectsJS', run: async (i) => { point.bind([id(i)]); return (await point.runAndReadAll()).getRowObjectsJS(); }, samples: [] },
    { label: 'prepared bindVarchar + run() + sync getChunk', run: async (i) => { point.bindVarchar(1, id(i)); return firstRows(await point.run()); }, samples: [] },
    { label: 'same, on an instance with the sandbox options', run: async (i) => { sandboxPoint.bindVarchar(1, id(i)); return firstRows(await sandboxPoint.run()); }, samples: [] },
    { label: 'same, ... LIMIT 1', run: async (i) => { pointLimit.bindVarchar(1, id(i)); return firstRows(await pointLimit.run()); }, samples: [] },
    { label: 'same, projecting id only', run: async (i) => { idOnly.bindVarchar(1, id(i)); return firstRows(await idOnly.run()); }, samples: [] },
    { label: 'same, to_json(row) + JSON.parse', run: async (i) => { asJson.bindVarchar(1, id(i)); const r = await asJson.run(); return r.chunkCount > 0 ? JSON.parse(String(r.getChunk(0).getColumnVector(0).getItem(0))) : undefined; }, samples: [] },
    { label: 'prepared, id as literal (no param => no rebind)', run: async () => firstRows(await noParam.run()), samples: [] },
    { label: 'prepared filter on unindexed column (seq scan)', run: async (i) => { scan.bindVarchar(1, `name ${(i * 7919) % ROWS}`); return firstRows(await scan.run()); }, samples: [] },
    { label: 'engine findById', run: (i) => db.findById('people', id(i)), samples: [] },
  ];
  for (let i = 0; i < 200; i++) for (const v of variants) await v.run(i);
  for (let i = 0; i < ROUNDS; i++) {
    for (const v of variants) {
      const t0 = process.hrtime.bigint();
      await v.run(i);
      v.samples.push(Number(process.hrtime.bigint() - t0) / 1000);
    }
  }
  const stat = (s: number[], q: number): number => [...s].sort((a, b) => a - b)[Math.floor(q * (s.length - 1))]!;
  const floor = stat(variants[0]!.samples, 0.5);
  console.log(`threads=${threads} rows=${ROWS} rounds=${ROUNDS} (µs per op: median / p90, ×floor median)`);
  for (const v of variants) {
    const med = stat(v.samples, 0.5);
    console.log(`${v.label.padEnd(54)} ${med.toFixed(0).padStart(6)} / ${stat(v.samples, 0.9).toFixed(0).padStart(6)}   ×${(med / floor).toFixed(2)}`);
  }
  conn.closeSync();
  instance.closeSync();
  sandboxConn.closeSync();
  sandboxed.closeSync();
  await engine.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
