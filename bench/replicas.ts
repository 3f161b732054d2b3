/**
 * Replicas on one PostgreSQL store and one Redis, measured in one run:
 *
 * - cross-replica revocation latency: a key cached on replicas 1 and 3 is revoked on replica 2;
 *   the time from the revocation's answer to the first refused request on each (p50/p99);
 * - limiter accuracy: a key limited to N per hour, hit 3N times across the three at once;
 * - the authenticated point read (`GET /api/find/bench_items/:id`, a managed key) served by one
 *   replica, then by three (the same total connections split over them), in the same run.
 *
 * Each replica is a `duckgate serve` child with its own DATA_DIR (DuckDB is not shared), seeded
 * with the same records. On a 2-core machine three replicas share the same two cores, so the third
 * row measures the cost of spreading, not a speed-up: run it on a bigger machine for capacity.
 *
 * The revocation latency is measured once per change channel (`--channel both`, the default: the
 * store's own LISTEN/NOTIFY, then Redis pub/sub relayed by one replica), each on three fresh
 * replicas; the other rows on the last deployment. The machine's load (`os.loadavg`) is printed
 * with the figures, since the tails on a shared machine are the machine's as much as duckgate's.
 *
 *   node --import tsx bench/replicas.ts [--duration 10] [--connections 30] [--trials 100] [--channel both|store|redis]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import pg from 'pg';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    connections: { type: 'string', default: '30' },
    trials: { type: 'string', default: '100' },
    channel: { type: 'string', default: 'both' },
  },
});
if (!['both', 'store', 'redis'].includes(values.channel!)) throw new Error('--channel must be both, store or redis');
const CHANNELS = values.channel === 'both' ? ['store', 'redis'] : [values.channel!];
const DURATION = Number(values.duration);
const CONNECTIONS = Number(values.connections);
const TRIALS = Number(values.trials);
const PG_URL = process.env.POSTGRES_BENCH_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const REDIS_URL = process.env.REDIS_BENCH_URL ?? 'redis://127.0.0.1:6379';
const ADMIN_KEY = randomBytes(24).toString('base64url');
const ROWS = 1000;

interface Replica {
  child: ChildProcess;
  url: string;
  dataDir: string;
  /** Everything it printed so far (LOG_LEVEL=error: its errors). */
  output(): string;
}

async function start(env: Record<string, string>): Promise<Replica> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'duckgate-bench-replica-'));
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/cli/main.ts'), 'serve'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', PORT: '0', LOG_LEVEL: 'error', DATA_DIR: dataDir, ...env },
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
  return { child, url, dataDir, output: () => output };
}

async function call(replica: Replica, method: string, route: string, key: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const response = await fetch(`${replica.url}${route}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, json: text ? (JSON.parse(text) as unknown) : undefined };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

async function pointRead(targets: Replica[], key: string, connections: number): Promise<{ reqPerSec: number; p50: number; p99: number }> {
  const latencies: number[] = [];
  const per = Math.max(1, Math.floor(connections / targets.length));
  const results = await Promise.all(targets.map((replica) => {
    const instance = autocannon({
      url: replica.url,
      connections: per,
      duration: DURATION,
      requests: [{ method: 'GET', headers: { authorization: `Bearer ${key}` }, setupRequest: (request) => ({ ...request, path: `/api/find/bench_items/item-${Math.floor(Math.random() * ROWS)}` }) }],
    });
    instance.on('response', (_client: unknown, _status: number, _bytes: number, ms: number) => latencies.push(ms));
    return instance;
  }));
  const failed = results.reduce((n, r) => n + r.errors + r.timeouts + r.non2xx, 0);
  if (failed > 0) throw new Error(`point read: ${failed} failed requests`);
  latencies.sort((a, b) => a - b);
  const total = results.reduce((n, r) => n + r.requests.total, 0);
  return { reqPerSec: total / DURATION, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}

const schema = `dg_bench_replicas_${randomBytes(6).toString('hex')}`;
const admin = new pg.Client({ connectionString: PG_URL });
await admin.connect();
await admin.query(`CREATE SCHEMA ${schema}`);
const storeUrl = `${PG_URL}?options=${encodeURIComponent(`-c search_path=${schema}`)}`;
const env = {
  STORE_URL: storeUrl,
  REDIS_URL,
  REDIS_KEY_PREFIX: `dg-bench-${randomBytes(6).toString('hex')}`,
  ADMIN_API_KEY: ADMIN_KEY,
  JWT_SECRET: randomBytes(32).toString('base64url'),
  ADMIN_PASSWORD: 'bench-replicas-password-1',
};
const replicas: Replica[] = [];
const loadAtStart = loadavg().map((l) => l.toFixed(2)).join(' ');

async function stopAll(): Promise<void> {
  for (const replica of replicas.splice(0)) {
    const exited = once(replica.child, 'exit');
    replica.child.kill('SIGTERM');
    await exited;
    rmSync(replica.dataDir, { recursive: true, force: true });
  }
}

const revocation: { channel: string; latencies: number[] }[] = [];
try {
  let register!: (body: Record<string, unknown>) => Promise<{ key: string; key_id: string }>;
  let works!: (on: Replica, key: string) => Promise<boolean>;
  for (const channel of CHANNELS) {
    await stopAll();
    const deployment = { ...env, CHANGE_CHANNEL: channel };
    // One first (it applies the migrations), then the other two.
    replicas.push(await start(deployment));
    replicas.push(...(await Promise.all([start(deployment), start(deployment)])));
    const [r1, r2, r3] = replicas as [Replica, Replica, Replica];
    register = async (body: Record<string, unknown>) => {
      const created = await call(r1, 'POST', '/api/auth/register', ADMIN_KEY, { label: 'bench', collection_permissions: { bench_items: ['read'] }, ...body });
      if (created.status !== 201) throw new Error(`register: ${created.status}`);
      return created.json as { key: string; key_id: string };
    };
    works = async (on: Replica, key: string) => (await call(on, 'GET', '/api/auth/permissions', key)).status === 200;
    // Every replica's channel live before measuring (the Redis one elects its relay first).
    const deadline = Date.now() + 20_000;
    const live = async () => (await Promise.all(replicas.map((r) => fetch(`${r.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } }).then((m) => m.text())))).every((t) => /^store_change_feed_live 1$/m.test(t));
    while (!(await live())) {
      if (Date.now() > deadline) throw new Error(`${channel} channel never live`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }

    process.stderr.write(`revocation latency over the ${channel} channel...\n`);
    const latencies: number[] = [];
    for (let trial = -5; trial < TRIALS; trial++) {
      const { key, key_id } = await register({});
      await works(r1, key);
      await works(r3, key);
      if ((await call(r2, 'DELETE', `/api/auth/keys/${key_id}`, ADMIN_KEY)).status !== 200) throw new Error('revoke failed');
      const start = performance.now();
      const measured = await Promise.all([r1, r3].map(async (on) => {
        while (await works(on, key)) if (performance.now() - start > 5000) throw new Error('revocation never arrived');
        return performance.now() - start;
      }));
      if (trial >= 0) latencies.push(...measured);
    }
    latencies.sort((a, b) => a - b);
    revocation.push({ channel, latencies });
  }
  const [r1] = replicas as [Replica, Replica, Replica];
  const records = Array.from({ length: ROWS }, (_, i) => ({ data: { id: `item-${i}`, name: `item ${i}`, score: i } }));
  for (const replica of replicas) {
    const seeded = await call(replica, 'POST', '/api/batch/insert/bench_items', ADMIN_KEY, { inserts: records });
    if (seeded.status !== 200 && seeded.status !== 201) throw new Error(`seeding: ${seeded.status} ${JSON.stringify(seeded.json)}`);
  }

  process.stderr.write('limiter accuracy...\n');
  const N = 300;
  const limited = await register({ rate_limit: N });
  const answers = await Promise.all(Array.from({ length: 3 * N }, (_, i) => call(replicas[i % 3]!, 'GET', '/api/auth/permissions', limited.key)));
  const admitted = answers.filter((a) => a.status === 200).length;
  // A Redis command slower than its timeout (1 s) counts in the replica's memory instead (by
  // design, see limiter-backend.ts): on an overloaded machine that is where excess admissions come from.
  const fallbacks = replicas.filter((r) => r.output().includes('Redis rate limiter failing')).length;

  process.stderr.write('point read, one replica then three...\n');
  const reader = await register({});
  for (const replica of replicas) await works(replica, reader.key);
  await pointRead([r1], reader.key, CONNECTIONS); // warm-up
  const one = await pointRead([r1], reader.key, CONNECTIONS);
  await pointRead(replicas, reader.key, CONNECTIONS); // warm-up
  const three = await pointRead(replicas, reader.key, CONNECTIONS);

  process.stdout.write(`\nreplicas bench: 3 replicas on one PostgreSQL schema and one Redis (${DURATION} s runs, ${CONNECTIONS} connections); load average at start ${loadAtStart}, at end ${loadavg().map((l) => l.toFixed(2)).join(' ')}\n\n`);
  process.stdout.write('| row | figure |\n|---|---|\n');
  for (const { channel, latencies } of revocation) {
    process.stdout.write(`| cross-replica revocation latency, ${channel === 'redis' ? 'Redis pub/sub' : 'PostgreSQL LISTEN/NOTIFY'} channel (${latencies.length} checks) | p50 ${percentile(latencies, 50).toFixed(2)} ms, p99 ${percentile(latencies, 99).toFixed(2)} ms, max ${latencies[latencies.length - 1]!.toFixed(2)} ms |\n`);
  }
  process.stdout.write(`| shared limit of ${N}/h, ${3 * N} requests over 3 replicas | ${admitted} admitted (${((100 * (admitted - N)) / N).toFixed(2)}% off; ${fallbacks} of 3 replicas fell back to counting in memory) |\n`);
  process.stdout.write(`| point read, 1 replica | ${one.reqPerSec.toFixed(0)} req/s, p50 ${one.p50.toFixed(2)} ms, p99 ${one.p99.toFixed(2)} ms |\n`);
  process.stdout.write(`| point read, 3 replicas | ${three.reqPerSec.toFixed(0)} req/s, p50 ${three.p50.toFixed(2)} ms, p99 ${three.p99.toFixed(2)} ms (${(three.reqPerSec / one.reqPerSec).toFixed(2)}× one) |\n`);
} finally {
  await stopAll();
  await admin.query(`DROP SCHEMA ${schema} CASCADE`);
  await admin.end();
}
