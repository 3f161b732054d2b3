/** Turns the figures into the printed table, the ratios against the goals, and `results/latest.json`. */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { HttpFigures } from './load.js';
import type { EngineLoopFigures } from './protocol.js';
import { credentialRatios, lookupRatios, renderCredentialRatios, renderKeyStore, type KeyRatios, type KeyStoreResults } from './report-keys.js';
import { limiterRatios, renderLimiters, type LimiterRatios, type LimiterSettings } from './report-limiters.js';
import type { RedisCheck } from './routes.js';
import type { CacheMemory } from './cache-memory.js';

/** Directus's figure for the same kind of authenticated point read, the reference to beat. */
export const DIRECTUS_REQ_PER_SEC = 150;

/** Above this share of one core, autocannon (single-threaded) is the bottleneck, not the server. */
const LOADGEN_SATURATED_PERCENT = 90;
/** Above this share of one core used by other processes, a row's figures are not to be trusted. */
const OTHER_CPU_DISTURBED_PERCENT = 20;

export const GOALS = {
  /** Authentication may cost at most this share of the bypass route's throughput. */
  maxAuthCost: 0.05,
  /** The authenticated route should keep at least this share of the engine ceiling. */
  minShareOfEngine: 0.8,
  /** At least this many times the Directus figure. */
  minTimesDirectus: 10,
  /** Issue 17: a repeated point read (cache hit) at least this many times row 3 (today's path)… */
  minHotOverToday: 5,
  /** …and at least this share of bare Fastify; */
  minHotOverBare: 0.4,
  /** a cold read (miss) within this much of row 3; */
  maxColdLoss: 0.1,
  /** duckgate's own stack on a hit: at most this many µs of server CPU per request (row 6b − row 1). */
  maxOwnStackUs: 60,
};

export interface Machine {
  cpus: number;
  cpuModel: string;
  node: string;
  platform: string;
  totalMemGiB: number;
  /** Other load on the machine skews everything: printed so a noisy run can be recognised. */
  loadAverage1m: number;
  loadAverage1mAtEnd?: number;
  duckdb: string;
}

export interface Settings {
  rows: number;
  warmupSeconds: number;
  durationSeconds: number;
  /** Alternating measured runs of scenarios 3, 3b, 3c, 4, 5a and 5b. */
  rounds: number;
  /** Managed keys in the servers' control store; null with --skip-keys (no rows 3b, 3c). */
  keys: number | null;
  /** Rows 5a and 5b; null with --skip-limiters. */
  limiters: LimiterSettings | null;
  connections: number;
  pipelining: 1;
  readConnections: number;
  duckdbThreads: number;
  duckdbMemoryLimit: string;
  /** How the engine ceiling was measured, in words (printed with the table). */
  engineCeiling: string;
}

export interface Scenarios {
  bareFastify: HttpFigures;
  engineSequential: EngineLoopFigures;
  enginePool: EngineLoopFigures;
  authRoute: HttpFigures;
  bypassRoute: HttpFigures;
  /** Row 3b: the same route with `x-api-key: dk_live_…`, a managed key found in the store. */
  managedKeyRoute?: HttpFigures;
  /** Row 3c: the same route with `Authorization: Bearer <JWT exchanged for that key>`. */
  jwtRoute?: HttpFigures;
  /** Row 5a: row 3 on a server with API_RATE_LIMIT set: the in-process limiter on every request. */
  memoryLimiterRoute?: HttpFigures;
  /** Row 5b: the same with REDIS_URL: one Redis script call per request. */
  redisLimiterRoute?: HttpFigures;
  /** Row 6a: the route on a server with the record cache on, reading a hot set of ids (hits). */
  hotRoute?: HttpFigures;
  /** Row 6b: 6a with authentication bypassed: HTTP + duckgate's own stack + a cache hit. */
  hotBypassRoute?: HttpFigures;
  /** Row 6c: the cache on but every read a miss (random ids, a bound of a record or two). */
  coldRoute?: HttpFigures;
  /** Row 6d: hot reads with a share of PUT updates of the same ids. */
  mixedRoute?: HttpFigures;
}

export interface CacheResults {
  hotIds: number;
  mixedWriteShare: number;
  hitRates: Record<'hot' | 'hotBypass' | 'cold' | 'mixed', number>;
  memory: CacheMemory;
}

export interface CacheRatios {
  hotOverToday: number;
  hotOverBare: number;
  coldOverToday: number;
  /** Row 6b − row 1, server CPU per request: routing, hooks, validation, the cache, serialisation. */
  ownStackHitUs: number;
  /** Row 4 − row 1 − row 2b: the same on a miss (before the cache, for comparison). */
  ownStackMissUs: number;
  goals: { hotOverToday: boolean; hotOverBare: boolean; cold: boolean; ownStack: boolean };
}

export interface Ratios {
  authOverBypass: number;
  /** The same ratio for each round's pair of runs: its spread is the noise on `authCost`. */
  authOverBypassPerRound: number[];
  authCost: number;
  /**
   * Authentication's share of the authenticated request's server CPU, (row 3 − row 4) / row 3.
   * CPU per request moves much less than req/s when other processes compete, so this is the
   * cross-check when the per-round throughput ratios are noisy.
   */
  authCpuCost: number;
  engineCeilingOpsPerSec: number;
  authOverEngine: number;
  authOverBare: number;
  authOverDirectus: number;
  goals: { authCost: boolean; shareOfEngine: boolean; timesDirectus: boolean };
  /** Rows 3b and 3c, and the key store's lookup scaling. */
  keys: KeyRatios;
  /** Rows 5a and 5b against row 3. */
  limiters: LimiterRatios;
  /** Rows 6a-6d against row 3 (today's path: cache off) and row 1. */
  cache?: CacheRatios;
}

export interface Results {
  when: string;
  machine: Machine;
  settings: Settings;
  scenarios: Scenarios;
  /** Seeding of the control stores and the lookup micro-benchmark; absent with --skip-keys. */
  keyStore?: KeyStoreResults;
  /** Row 5b's requests against what Redis counted; absent without row 5b. */
  redisCheck?: RedisCheck;
  /** Rows 6a-6e: the record cache's hit rates and its memory at the bound. */
  cache?: CacheResults;
  ratios: Ratios;
}

export function machine(duckdb: string): Machine {
  const cpus = os.cpus();
  return {
    cpus: os.availableParallelism?.() ?? cpus.length,
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    node: process.version,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    totalMemGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    loadAverage1m: Math.round((os.loadavg()[0] ?? 0) * 100) / 100,
    duckdb,
  };
}

export function ratios(s: Scenarios, keyStore?: KeyStoreResults): Ratios {
  const auth = s.authRoute.reqPerSec;
  // The ceiling is the better of the two engine loops: whichever way the engine is driven fastest.
  const engineCeilingOpsPerSec = Math.max(s.engineSequential.opsPerSec, s.enginePool.opsPerSec);
  const authOverBypass = auth / s.bypassRoute.reqPerSec;
  const r = {
    authOverBypass,
    authOverBypassPerRound: s.authRoute.runReqPerSec.map((rate, i) => rate / s.bypassRoute.runReqPerSec[i]!),
    authCost: 1 - authOverBypass,
    authCpuCost: (s.authRoute.serverCpuUsPerReq - s.bypassRoute.serverCpuUsPerReq) / s.authRoute.serverCpuUsPerReq,
    engineCeilingOpsPerSec,
    authOverEngine: auth / engineCeilingOpsPerSec,
    authOverBare: auth / s.bareFastify.reqPerSec,
    authOverDirectus: auth / DIRECTUS_REQ_PER_SEC,
  };
  return {
    ...r,
    goals: {
      authCost: r.authCost <= GOALS.maxAuthCost,
      shareOfEngine: r.authOverEngine >= GOALS.minShareOfEngine,
      timesDirectus: r.authOverDirectus >= GOALS.minTimesDirectus,
    },
    keys: {
      managedKey: s.managedKeyRoute && credentialRatios(s.managedKeyRoute, s.authRoute, s.bypassRoute),
      jwt: s.jwtRoute && credentialRatios(s.jwtRoute, s.authRoute, s.bypassRoute),
      lookups: keyStore?.lookups && lookupRatios(keyStore.lookups),
    },
    limiters: limiterRatios(s.authRoute, s.memoryLimiterRoute, s.redisLimiterRoute),
    ...(s.hotRoute && s.hotBypassRoute && s.coldRoute ? { cache: cacheRatios(s) } : {}),
  };
}

function cacheRatios(s: Scenarios): CacheRatios {
  const today = s.authRoute.reqPerSec;
  const r = {
    hotOverToday: s.hotRoute!.reqPerSec / today,
    hotOverBare: s.hotRoute!.reqPerSec / s.bareFastify.reqPerSec,
    coldOverToday: s.coldRoute!.reqPerSec / today,
    ownStackHitUs: s.hotBypassRoute!.serverCpuUsPerReq - s.bareFastify.serverCpuUsPerReq,
    ownStackMissUs: s.bypassRoute.serverCpuUsPerReq - s.bareFastify.serverCpuUsPerReq - s.enginePool.cpuUsPerOp,
  };
  return {
    ...r,
    goals: {
      hotOverToday: r.hotOverToday >= GOALS.minHotOverToday,
      hotOverBare: r.hotOverBare >= GOALS.minHotOverBare,
      cold: r.coldOverToday >= 1 - GOALS.maxColdLoss,
      ownStack: r.ownStackHitUs <= GOALS.maxOwnStackUs,
    },
  };
}

const fixed = (value: number, digits: number): string => (Number.isFinite(value) ? value.toFixed(digits) : '-');
const pct = (value: number): string => `${(value * 100).toFixed(1)}%`;
const mark = (ok: boolean): string => (ok ? 'MET' : 'MISSED');

interface Row {
  scenario: string;
  rate: number;
  usPerOp: number;
  p50: number;
  p99: number;
  cpuUs: number;
  serverCpu: string;
  loadgenCpu: string;
  otherCpu: number;
  failures: string;
}

function httpRow(scenario: string, f: HttpFigures): Row {
  return {
    scenario, rate: f.reqPerSec, usPerOp: 1e6 / f.reqPerSec, p50: f.p50Ms, p99: f.p99Ms, cpuUs: f.serverCpuUsPerReq,
    serverCpu: `${f.serverCpuPercent.toFixed(0)}%`, loadgenCpu: `${f.loadgenCpuPercent.toFixed(0)}%`, otherCpu: f.otherCpuPercent,
    failures: `${f.errors}/${f.non2xx}`,
  };
}

function engineRow(scenario: string, f: EngineLoopFigures): Row {
  return {
    scenario, rate: f.opsPerSec, usPerOp: f.usPerOp, p50: f.p50Ms, p99: f.p99Ms, cpuUs: f.cpuUsPerOp,
    serverCpu: `${((f.cpuUsPerOp * f.opsPerSec) / 1e4).toFixed(0)}%`, loadgenCpu: '-', otherCpu: f.otherCpuPercent ?? NaN, failures: '0/0',
  };
}

function table(rows: Row[]): string {
  const header = ['scenario', 'req|op/s', 'µs/op', 'p50 ms', 'p99 ms', 'CPU µs/req', 'server CPU', 'loadgen CPU', 'other CPU', 'err/non2xx'];
  const cells = rows.map((r) => [
    r.scenario, fixed(r.rate, 0), fixed(r.usPerOp, 1), fixed(r.p50, 3), fixed(r.p99, 3), fixed(r.cpuUs, 1), r.serverCpu, r.loadgenCpu,
    Number.isFinite(r.otherCpu) ? `${r.otherCpu.toFixed(0)}%` : '-', r.failures,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => c.map((v, i) => (i === 0 ? v.padEnd(widths[i]!) : v.padStart(widths[i]!))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line)].join('\n');
}

export function render(results: Results): string {
  const { machine: m, settings: s, scenarios: sc, ratios: r } = results;
  const out: string[] = [];
  out.push(`machine: ${m.cpus} CPUs (${m.cpuModel}), ${m.totalMemGiB} GiB, ${m.platform}, node ${m.node}, DuckDB ${m.duckdb}`);
  out.push(`load average (1 min): ${m.loadAverage1m} at start, ${m.loadAverage1mAtEnd ?? '?'} at end (the end figure includes the bench's own ~2 busy processes)`);
  out.push(`settings: ${s.rows} rows, ${s.keys === null ? 'no managed keys (--skip-keys)' : `${s.keys} managed keys`}, warm-up ${s.warmupSeconds} s, `
    + `${s.limiters === null ? 'no rate limiter rows (--skip-limiters)' : `rate limiter rows 5a${s.limiters.redisSkipped ? '' : ', 5b'}`}, `
    + `measured ${s.durationSeconds} s per run (rows ${s.limiters === null ? '3-4' : '3-5'}: ${s.rounds} alternating runs each), `
    + `${s.connections} connections, pipelining ${s.pipelining}, `
    + `read pool ${s.readConnections}, DuckDB threads ${s.duckdbThreads}, memory_limit ${s.duckdbMemoryLimit}`);
  out.push(`engine ceiling: ${s.engineCeiling}`);
  out.push('');
  const rows = [
    httpRow('1. bare Fastify GET /', sc.bareFastify),
    engineRow(`2a. engine findById, sequential`, sc.engineSequential),
    engineRow(`2b. engine findById, ${sc.enginePool.concurrency} in flight`, sc.enginePool),
    httpRow('3. GET /api/find/:c/:id, x-api-key', sc.authRoute),
    ...(sc.managedKeyRoute ? [httpRow('3b. same route, managed key', sc.managedKeyRoute)] : []),
    ...(sc.jwtRoute ? [httpRow('3c. same route, exchanged JWT', sc.jwtRoute)] : []),
    httpRow('4. same route, auth bypassed', sc.bypassRoute),
    ...(sc.memoryLimiterRoute ? [httpRow('5a. row 3 + memory rate limiter', sc.memoryLimiterRoute)] : []),
    ...(sc.redisLimiterRoute ? [httpRow('5b. row 3 + Redis rate limiter', sc.redisLimiterRoute)] : []),
    ...(sc.hotRoute ? [httpRow('6a. cache on, hot ids (hits), x-api-key', sc.hotRoute)] : []),
    ...(sc.hotBypassRoute ? [httpRow('6b. 6a with auth bypassed', sc.hotBypassRoute)] : []),
    ...(sc.coldRoute ? [httpRow('6c. cache on, random ids (misses)', sc.coldRoute)] : []),
    ...(sc.mixedRoute ? [httpRow('6d. cache on, hot ids, 90/10 read/PUT', sc.mixedRoute)] : []),
  ];
  out.push(table(rows));
  out.push('');
  out.push('CPU µs/req is the server (or engine) process\'s user+system CPU, all threads, divided by completed requests.');
  out.push('server / loadgen / other CPU: share of one core used during the measured run by the server (or engine) process, by');
  out.push(`autocannon (this process), and by every other process on the machine${sc.redisLimiterRoute ? ' (row 5b: but Redis, whose CPU is given below)' : ''}.`);
  const disturbed = rows.filter((r) => r.otherCpu >= OTHER_CPU_DISTURBED_PERCENT).map((r) => r.scenario.split('.')[0]);
  if (disturbed.length > 0) {
    out.push(`WARNING: other processes used ≥ ${OTHER_CPU_DISTURBED_PERCENT}% of a core during row(s) ${disturbed.join(', ')}: `
      + `those figures are depressed (the machine has ${m.cpus} CPUs). Rerun on a quiet machine before trusting them.`);
  }
  const http: [string, HttpFigures | undefined][] = [
    ['1', sc.bareFastify], ['3', sc.authRoute], ['3b', sc.managedKeyRoute], ['3c', sc.jwtRoute], ['4', sc.bypassRoute],
    ['5a', sc.memoryLimiterRoute], ['5b', sc.redisLimiterRoute], ['6a', sc.hotRoute], ['6b', sc.hotBypassRoute], ['6c', sc.coldRoute], ['6d', sc.mixedRoute],
  ];
  const saturated = http.filter(([, f]) => f && f.loadgenCpuPercent >= LOADGEN_SATURATED_PERCENT).map(([row]) => row);
  if (saturated.length > 0) {
    out.push(`note: autocannon used ≥ ${LOADGEN_SATURATED_PERCENT}% of a core in row(s) ${saturated.join(', ')}: the load generator, not the server, `
      + 'was the limit there, so those rates are lower bounds of what the server can do.');
  }
  out.push('');
  out.push('ratios (auth route = scenario 3):');
  out.push(`  auth / bypass              ${pct(r.authOverBypass)}  → authentication costs ${pct(r.authCost)} of throughput (goal ≤ ${pct(GOALS.maxAuthCost)}): ${mark(r.goals.authCost)}`);
  out.push(`                             per round: ${r.authOverBypassPerRound.map(pct).join(', ')}`);
  out.push(`                             in server CPU per request: authentication is ${pct(r.authCpuCost)} of it `
    + `(${fixed(sc.authRoute.serverCpuUsPerReq - sc.bypassRoute.serverCpuUsPerReq, 1)} µs; steadier than req/s under outside load)`);
  out.push(`  auth / engine ceiling      ${pct(r.authOverEngine)}  of ${fixed(r.engineCeilingOpsPerSec, 0)} op/s (goal ≥ ${pct(GOALS.minShareOfEngine)}): ${mark(r.goals.shareOfEngine)}`);
  out.push(`  auth / bare Fastify        ${pct(r.authOverBare)}`);
  out.push(`  auth / Directus            ${fixed(r.authOverDirectus, 1)}x its ${DIRECTUS_REQ_PER_SEC} req/s (goal ≥ ${GOALS.minTimesDirectus}x): ${mark(r.goals.timesDirectus)}`);
  if (r.keys.managedKey || r.keys.jwt) {
    out.push('');
    out.push('ratios of the managed key (3b) and the exchanged JWT (3c), both verified from in-process caches after their first request:');
    if (r.keys.managedKey) out.push(...renderCredentialRatios('3b managed key', '3b', r.keys.managedKey));
    if (r.keys.jwt) out.push(...renderCredentialRatios('3c JWT', '3c', r.keys.jwt));
  }
  if (s.limiters) out.push('', ...renderLimiters(s.limiters, r.limiters, results.redisCheck));
  if (r.cache && results.cache) out.push('', ...renderCache(r.cache, results.cache));
  out.push('');
  // Subtracting per-request CPU of the layers gives a rough account of where a request's CPU goes.
  // Rough: the layers overlap (e.g. the engine's CPU under HTTP load is not exactly its CPU alone).
  const httpFloor = sc.bareFastify.serverCpuUsPerReq;
  const engine = sc.enginePool.cpuUsPerOp;
  const stack = sc.bypassRoute.serverCpuUsPerReq - httpFloor - engine;
  const auth = sc.authRoute.serverCpuUsPerReq - sc.bypassRoute.serverCpuUsPerReq;
  out.push('server CPU per authenticated request, by layer (differences of the rows above, approximate):');
  out.push(`  HTTP floor (bare Fastify)                          ${fixed(httpFloor, 1).padStart(7)} µs`);
  out.push(`  engine findById (row 2b)                           ${fixed(engine, 1).padStart(7)} µs`);
  out.push(`  duckgate stack (routing, hooks, schemas, JSON)     ${fixed(stack, 1).padStart(7)} µs  (row 4 − row 1 − row 2b)`);
  out.push(`  authentication (x-api-key → principal)             ${fixed(auth, 1).padStart(7)} µs  (row 3 − row 4)`);
  out.push(`  total (row 3)                                      ${fixed(sc.authRoute.serverCpuUsPerReq, 1).padStart(7)} µs`);
  if (r.keys.managedKey) out.push(`  instead with a managed key (cached verify)         ${fixed(r.keys.managedKey.cpuUsOverBypass, 1).padStart(7)} µs  (row 3b − row 4)`);
  if (r.keys.jwt) out.push(`  instead with an exchanged JWT (cached)             ${fixed(r.keys.jwt.cpuUsOverBypass, 1).padStart(7)} µs  (row 3c − row 4)`);
  const { memory, redis } = r.limiters;
  if (memory) out.push(`  plus the memory rate limiter                       ${fixed(memory.cpuUsOverNoLimiter, 1).padStart(7)} µs  (row 5a − row 3)`);
  if (redis) {
    out.push(`  plus the Redis rate limiter                        ${fixed(redis.cpuUsOverNoLimiter, 1).padStart(7)} µs  (row 5b − row 3)`
      + (redis.redisCpuUsPerReq === undefined ? '' : `, and ${fixed(redis.redisCpuUsPerReq, 1)} µs in Redis itself`));
  }
  if (results.keyStore) out.push('', ...renderKeyStore(results.keyStore, r.keys));
  return out.join('\n');
}

function renderCache(r: CacheRatios, c: CacheResults): string[] {
  const hit = (rate: number) => pct(rate);
  const m = c.memory;
  const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(2)} MB`;
  return [
    `record cache (rows 6a-6d; rows 3-5 run with RECORD_CACHE_BYTES=0, today's path). Hot set: ${c.hotIds} ids; `
      + `hit rates over the run: 6a ${hit(c.hitRates.hot)}, 6b ${hit(c.hitRates.hotBypass)}, 6c ${hit(c.hitRates.cold)}, 6d ${hit(c.hitRates.mixed)}`,
    `  hot / today (6a / 3)       ${fixed(r.hotOverToday, 2)}x (goal ≥ ${GOALS.minHotOverToday}x): ${mark(r.goals.hotOverToday)}`,
    `  hot / bare Fastify (6a / 1) ${pct(r.hotOverBare)} (goal ≥ ${pct(GOALS.minHotOverBare)}): ${mark(r.goals.hotOverBare)}`,
    `  cold / today (6c / 3)      ${pct(r.coldOverToday)} (goal ≥ ${pct(1 - GOALS.maxColdLoss)}): ${mark(r.goals.cold)}`,
    `  own stack on a hit         ${fixed(r.ownStackHitUs, 1)} µs server CPU per request (row 6b − row 1; goal ≤ ${GOALS.maxOwnStackUs} µs): ${mark(r.goals.ownStack)}`
      + `; on a miss ${fixed(r.ownStackMissUs, 1)} µs (row 4 − row 1 − row 2b)`,
    `  at its bound (6e)          RECORD_CACHE_BYTES=${mb(m.boundBytes)}: ${m.entries} records, ${mb(m.cacheBytes)} by its estimate after ${m.reads} reads and ${m.evictions} evictions; `
      + `the server's heap in use grew ${mb(m.heapGrowthBytes)}, RSS ${mb(m.rssGrowthBytes)} (no forced GC: rough)`,
    `                             calibrated in-process after a forced GC: ${m.calibration.entries} records at the bound, `
      + `${fixed(m.calibration.heapBytesPerRecord, 0)} B of heap per record against the estimate's ${fixed(m.calibration.estimatedBytesPerRecord, 0)} B `
      + `(the bound holds ${pct(m.calibration.heapBytesPerRecord / m.calibration.estimatedBytesPerRecord)} of its figure in real heap)`,
  ];
}

export function writeJson(results: Results, dir: string): string {
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'latest.json');
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  return file;
}
