/**
 * Key verification on the two control stores, same process, same run: SQLite (in a temp DATA_DIR)
 * and PostgreSQL (a schema of its own on POSTGRES_BENCH_URL, default the local test database,
 * dropped afterwards). For each store, N keys are created, then verified through `ManagedKeys` as a
 * request would: first use (a cache miss: one store lookup) and cached (no store at all).
 *
 *   node --import tsx bench/store-keys.ts [--keys 2000]
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { generateApiKey } from '../src/auth/api-key.js';
import { ManagedKeys } from '../src/auth/managed-keys.js';
import { openControlStore, type ControlStore } from '../src/store/index.js';

const { values } = parseArgs({ options: { keys: { type: 'string', default: '2000' } } });
const KEYS = Number(values.keys);
const BASE = process.env.POSTGRES_BENCH_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

interface Row {
  store: string;
  firstUseMeanUs: number;
  firstUseP99Us: number;
  cachedMeanUs: number;
}

function stats(samples: number[]): { mean: number; p99: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  return { mean: sorted.reduce((a, b) => a + b, 0) / sorted.length, p99: sorted[Math.ceil(sorted.length * 0.99) - 1]! };
}

async function measure(name: string, store: ControlStore): Promise<Row> {
  const keys: string[] = [];
  for (let i = 0; i < KEYS; i++) {
    const generated = generateApiKey();
    await store.keys.createKey({ id: `key_bench_${i}`, hash: generated.hash, prefix: generated.prefix, label: 'bench', description: '', isAdmin: false,
      permissions: {}, expiresAt: null, rateLimit: null, allowedIps: null, createdBy: 'bench' });
    keys.push(generated.key);
  }
  const verifier = new ManagedKeys(store.keys, { cacheWithoutFeed: true, touchFlushMs: 3_600_000 });
  const first: number[] = [];
  for (const key of keys) {
    const start = process.hrtime.bigint();
    if (!(await verifier.verify(key))) throw new Error('a created key did not verify');
    first.push(Number(process.hrtime.bigint() - start) / 1000);
  }
  // Three passes, the best one kept: the cached path never touches the store, so what differs
  // between passes (JIT, GC) is noise, not the store.
  let cachedMean = Infinity;
  for (let pass = 0; pass < 3; pass++) {
    const cached: number[] = [];
    for (const key of keys) {
      const start = process.hrtime.bigint();
      await verifier.verify(key);
      cached.push(Number(process.hrtime.bigint() - start) / 1000);
    }
    cachedMean = Math.min(cachedMean, stats(cached).mean);
  }
  await verifier.close();
  const f = stats(first);
  return { store: name, firstUseMeanUs: f.mean, firstUseP99Us: f.p99, cachedMeanUs: cachedMean };
}

const dataDir = mkdtempSync(path.join(tmpdir(), 'duckgate-bench-store-'));
const schema = `dg_bench_${randomBytes(6).toString('hex')}`;
const admin = new pg.Client({ connectionString: BASE });
await admin.connect();
await admin.query(`CREATE SCHEMA ${schema}`);
const rows: Row[] = [];
try {
  const sqlite = await openControlStore({ dataDir });
  rows.push(await measure('sqlite', sqlite));
  await sqlite.close();
  const postgres = await openControlStore({ dataDir, storeUrl: `${BASE}?options=${encodeURIComponent(`-c search_path=${schema}`)}` });
  rows.push(await measure('postgres', postgres));
  await postgres.close();
} finally {
  await admin.query(`DROP SCHEMA ${schema} CASCADE`);
  await admin.end();
  rmSync(dataDir, { recursive: true, force: true });
}
process.stdout.write(`key verification through ManagedKeys, ${KEYS} keys per store (load average ${loadavg().map((l) => l.toFixed(2)).join(' ')})\n`);
process.stdout.write('| store | first use, mean µs | first use, p99 µs | cached, mean µs |\n|---|---|---|---|\n');
for (const row of rows) {
  process.stdout.write(`| ${row.store} | ${row.firstUseMeanUs.toFixed(0)} | ${row.firstUseP99Us.toFixed(0)} | ${row.cachedMeanUs.toFixed(1)} |\n`);
}
const [s, p] = rows;
process.stdout.write(`postgres / sqlite, first use: ${(p!.firstUseMeanUs / s!.firstUseMeanUs).toFixed(1)}×; cached: ${(p!.cachedMeanUs / s!.cachedMeanUs).toFixed(2)}×\n`);
