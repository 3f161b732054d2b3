import { DuckDBInstance } from '@duckdb/node-api';
const inst = await DuckDBInstance.create(':memory:', { threads: '1', memory_limit: '1GB' });
const c = await inst.connect();
for (const sql of ['SELECT * FROM range(30000000)', 'SELECT * FROM range(3000000) a, range(10) b', 'SELECT * FROM range(30000000) ORDER BY random()']) {
  const t = performance.now();
  const p = await c.prepare(sql);
  const res = await p.stream();
  let rows = 0, chunks = 0;
  for (;;) { const ch = await res.fetchChunk(); if (!ch || ch.rowCount === 0) break; rows += ch.rowCount; chunks++; if (rows > 10000) break; }
  console.log(sql, 'rows', rows, 'chunks', chunks, Math.round(performance.now() - t), 'ms');
  const t2 = performance.now();
  const r = await c.runAndReadAll('SELECT 1');
  console.log(' next query ok', r.getRows(), Math.round(performance.now() - t2), 'ms');
}
// small query timing stream vs run
const p = await c.prepare('SELECT 42 AS x');
let t = performance.now();
for (let i = 0; i < 2000; i++) { const r = await p.run(); r.getChunk(0); }
console.log('run x2000', Math.round(performance.now() - t));
t = performance.now();
for (let i = 0; i < 2000; i++) { const r = await p.stream(); while (true) { const ch = await r.fetchChunk(); if (!ch || ch.rowCount === 0) break; } }
console.log('stream x2000', Math.round(performance.now() - t));
// interrupt during streaming fetch
const res = await (await c.prepare('SELECT count(*) FROM range(100000000) a, range(100000000) b')).stream();
setTimeout(() => c.interrupt(), 300);
t = performance.now();
try { await res.fetchChunk(); } catch (e) { console.log('fetch interrupted', String(e).slice(0, 80), Math.round(performance.now() - t)); }
t = performance.now();
const s2 = await (await c.prepare('SELECT count(*) FROM range(100000000) a, range(100000000) b')).start();
console.log('start returned', Math.round(performance.now() - t));
