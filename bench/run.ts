/**
 * `npm run bench`: how far duckgate's authenticated point read is from its ceilings.
 *
 *   1. bare Fastify hello-world           the HTTP ceiling
 *   2. DuckDB alone through the engine    the data ceiling (sequential, then the read pool kept full)
 *   3. GET /api/find/bench_items/:id      with an environment key
 *   3b. the same route                    with a managed key, among --keys keys in the store
 *   3c. the same route                    with a JWT exchanged for that key
 *   4. the same route, auth bypassed      a resolver that admits everyone: what authentication costs
 *   5a. row 3 with the memory limiter     API_RATE_LIMIT set (never reached): what the limiter costs
 *   5b. row 3 with the Redis limiter      the same plus REDIS_URL (skipped if Redis is unreachable)
 *   6a-d. the record cache on              hot reads (hits), the same bypassed, cold reads (misses),
 *                                          90/10 hot reads and writes; rows 3-5 run with it off (today's path)
 *   6e. the record cache at its bound      its bytes, entries, and the heap's growth
 *   plus the key store lookup micro-benchmark: findKeyByHash in 1k keys vs --keys keys.
 *
 * Every measured thing runs in its own child process (server-child.ts) so its CPU is its own;
 * autocannon runs here. Flags: --duration 10 --warmup 2 --connections 32 --rows 100000 --rounds 3,
 * --keys 1000000 --lookups 20000, --skip-keys (no managed keys: no rows 3b, 3c, no lookups),
 * --skip-limiters (no rows 5a, 5b), --redis-url redis://127.0.0.1:6379, --cpu-prof (V8 profiles
 * of the children).
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { killAll, progress, setChildNodeArgs, withChild } from './children.js';
import { measureLookups, seedKeys, SMALL_STORE_KEYS, type SeededKeys } from './keys.js';
import { DEFAULT_REDIS_URL, LIMITER_RATE_LIMIT, RedisRun } from './limiters.js';
import { BenchFailure, measureHttp, type LoadOptions } from './load.js';
import { READ_CONNECTIONS, type EngineLoopFigures } from './protocol.js';
import type { KeyStoreResults } from './report-keys.js';
import { machine, ratios, render, writeJson, type Results, type Settings } from './report.js';
import type { LimiterSettings } from './report-limiters.js';
import { HOT_IDS, MIXED_WRITE_SHARE, measureRoutes, type CacheServers, type LimiterServers } from './routes.js';
import { machineBusyMicros } from './stats.js';

const RESULTS_DIR = fileURLToPath(new URL('./results/', import.meta.url));

interface Options extends LoadOptions {
  rows: number;
  rounds: number;
  /** Managed keys in the control store the servers open; undefined with --skip-keys. */
  keys: number | undefined;
  /** Timed calls per series of the key store micro-benchmark. */
  lookups: number;
  /** Rows 5a and 5b (rate limiters) run unless --skip-limiters. */
  limiters: boolean;
  /** The Redis row 5b counts in. */
  redisUrl: string;
  /** Write a V8 CPU profile of every child to `results/profiles/` (profiling slows the figures down). */
  cpuProf: boolean;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      duration: { type: 'string', default: '10' },
      warmup: { type: 'string', default: '2' },
      connections: { type: 'string', default: '32' },
      rows: { type: 'string', default: '100000' },
      rounds: { type: 'string', default: '3' },
      keys: { type: 'string', default: '1000000' },
      lookups: { type: 'string', default: '20000' },
      'skip-keys': { type: 'boolean', default: false },
      'skip-limiters': { type: 'boolean', default: false },
      'redis-url': { type: 'string', default: DEFAULT_REDIS_URL },
      'cpu-prof': { type: 'boolean', default: false },
    },
  });
  const number = (name: string, raw: string, min: number): number => {
    const value = Number(raw.replaceAll('_', ''));
    if (!Number.isInteger(value) || value < min) throw new Error(`--${name} must be a whole number ≥ ${min} (got "${raw}")`);
    return value;
  };
  return {
    duration: number('duration', values.duration, 1),
    warmup: number('warmup', values.warmup, 0),
    connections: number('connections', values.connections, 1),
    rows: number('rows', values.rows, 1),
    rounds: number('rounds', values.rounds, 1),
    keys: values['skip-keys'] ? undefined : number('keys', values.keys, SMALL_STORE_KEYS),
    lookups: number('lookups', values.lookups, 100),
    limiters: !values['skip-limiters'],
    redisUrl: values['redis-url'],
    cpuProf: values['cpu-prof'],
  };
}

/** Row 2: the engine alone, in its own child; `other CPU` is seen from here, where all processes are visible. */
async function measureEngine(dataDir: string, options: Options) {
  return withChild({ role: 'engine', dataDir, rows: options.rows }, async (child) => {
    const loop = async (seconds: number, concurrency: number): Promise<EngineLoopFigures> => {
      const machineBefore = machineBusyMicros();
      const ownBefore = process.cpuUsage();
      const { figures } = await child.request({ type: 'engine-loop', durationMs: seconds * 1000, concurrency }, 'engine-loop');
      const own = process.cpuUsage(ownBefore);
      const otherUs = machineBusyMicros() - machineBefore - figures.cpuUsPerOp * figures.ops - own.user - own.system;
      return { ...figures, otherCpuPercent: (Math.max(0, otherUs) / (figures.seconds * 1e6)) * 100 };
    };
    if (options.warmup > 0) await loop(options.warmup, READ_CONNECTIONS);
    return { detail: child.detail, sequential: await loop(options.duration, 1), pool: await loop(options.duration, READ_CONNECTIONS) };
  });
}

/**
 * Rows 5a and 5b: each server's copy of the seeded directory, and the Redis row 5b counts in. An
 * unreachable Redis skips row 5b with a one-line reason; it does not fail the run.
 */
async function prepareLimiters(dataDir: string, root: string, redisUrl: string): Promise<{ servers: LimiterServers; settings: LimiterSettings; redis?: RedisRun }> {
  const memoryDir = path.join(root, 'memory-limiter');
  const redisDir = path.join(root, 'redis-limiter');
  cpSync(dataDir, memoryDir, { recursive: true });
  // Copied before connecting, so that nothing can fail between connecting and handing the connection over.
  cpSync(dataDir, redisDir, { recursive: true });
  const redis = await RedisRun.open(redisUrl);
  if (typeof redis === 'string') {
    progress(`5b skipped: ${redis}`);
    rmSync(redisDir, { recursive: true, force: true });
    return { servers: { memoryDir }, settings: { apiRateLimit: LIMITER_RATE_LIMIT, redisUrl, redisSkipped: redis } };
  }
  return {
    servers: { memoryDir, redis: { dir: redisDir, run: redis } },
    settings: { apiRateLimit: LIMITER_RATE_LIMIT, redisUrl, redisVersion: redis.version, redisKeyPrefix: redis.prefix },
    redis,
  };
}

/** Deletes the run's keys from Redis; a failure there is reported, never fatal (the keys expire within ~an hour anyway). */
async function cleanUpRedis(redis: RedisRun): Promise<void> {
  try {
    progress(`deleted ${await redis.cleanUp()} keys under ${redis.prefix}:* from ${redis.url}`);
  } catch (error) {
    progress(`could not delete the keys under ${redis.prefix}:* from ${redis.url}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const { rows } = options;
  if (options.cpuProf) {
    const dir = path.join(RESULTS_DIR, 'profiles');
    setChildNodeArgs(['--cpu-prof', '--cpu-prof-dir', dir]);
    progress(`CPU profiles of every child go to ${dir} (one .cpuprofile per process, written when it exits)`);
  }
  const root = mkdtempSync(path.join(os.tmpdir(), 'duckgate-bench-'));
  const dataDir = path.join(root, 'seeded');
  let redis: RedisRun | undefined;

  try {
    progress(`seeding ${rows} rows into ${dataDir}`);
    const seeded = await withChild({ role: 'seed', dataDir, rows }, async (child) => child.detail);
    progress(`seeded in ${seeded.seedMs} ms`);
    const machineInfo = machine(String(seeded.duckdb));

    let keys: SeededKeys | undefined;
    if (options.keys !== undefined) {
      progress(`seeding the control store with ${options.keys} managed keys, and a ${SMALL_STORE_KEYS}-key store to compare lookups with`);
      keys = await seedKeys(dataDir, root, options.keys);
    }
    // The servers of rows 3 and 4 each get a byte-identical copy, made now: the key store is in
    // place, and nothing below (the engine loop, the lookup micro-benchmark) can change the copies.
    const authDir = path.join(root, 'auth');
    const bypassDir = path.join(root, 'bypass');
    cpSync(dataDir, authDir, { recursive: true });
    cpSync(dataDir, bypassDir, { recursive: true });
    // Rows 6a-6e (the record cache), each server on its own copy too.
    const cacheDirs: CacheServers = {
      hotDir: path.join(root, 'cache-hot'), hotBypassDir: path.join(root, 'cache-hot-bypass'), coldDir: path.join(root, 'cache-cold'),
      mixedDir: path.join(root, 'cache-mixed'), memoryDir: path.join(root, 'cache-memory'),
    };
    for (const dir of Object.values(cacheDirs)) cpSync(dataDir, dir, { recursive: true });
    const limiters = options.limiters ? await prepareLimiters(dataDir, root, options.redisUrl) : undefined;
    redis = limiters?.redis;
    const steps = limiters ? 5 : 4;

    let keyStore: KeyStoreResults | undefined;
    if (keys) {
      progress(`key store lookups: ${options.lookups} timed calls per series, ${SMALL_STORE_KEYS} keys vs ${options.keys} keys, no HTTP`);
      keyStore = { seeding: keys.seeding, lookups: await measureLookups(keys.lookupStores, options.lookups) };
    }

    progress(`1/${steps} bare Fastify (warm-up ${options.warmup} s, measured ${options.duration} s)`);
    const bareFastify = await withChild({ role: 'hello' }, (child) =>
      measureHttp({ name: 'bare Fastify', child, headers: {}, path: () => '/' }, options));

    progress(`2/${steps} engine alone (warm-up ${options.warmup} s, then ${options.duration} s sequential and ${options.duration} s with ${READ_CONNECTIONS} in flight)`);
    const engine = await measureEngine(dataDir, options);

    const limiterRows = !limiters ? '' : limiters.redis ? ', with the memory and the Redis rate limiter' : ', with the memory rate limiter';
    progress(`3-${steps}/${steps} GET /api/find/bench_items/:id with the environment key${keys ? ', a managed key, an exchanged JWT' : ''}${limiterRows} `
      + `and with authentication bypassed: ${options.rounds} rotating rounds of ${options.duration} s each`);
    const { redisCheck, cacheHitRates, cacheMemory, ...routes } = await measureRoutes(authDir, bypassDir, options, keys?.reader, limiters?.servers, cacheDirs);

    const settings: Settings = {
      rows,
      keys: keys?.seeding[0]?.keys ?? null,
      limiters: limiters?.settings ?? null,
      warmupSeconds: options.warmup,
      durationSeconds: options.duration,
      rounds: options.rounds,
      connections: options.connections,
      pipelining: 1,
      readConnections: READ_CONNECTIONS,
      duckdbThreads: Number(engine.detail.threads),
      duckdbMemoryLimit: String(engine.detail.memoryLimit),
      engineCeiling: 'measured in its own child process with no HTTP server (a DuckDB file opens in one process only), '
        + "on the seeded directory opened with openDuckDBEngine (the server's settings), calling database('default').findById "
        + 'on random ids; ceiling = the faster of the sequential and pool-full loops',
    };
    const scenarios = { bareFastify, engineSequential: engine.sequential, enginePool: engine.pool, ...routes };
    const results: Results = {
      when: new Date().toISOString(),
      machine: { ...machineInfo, loadAverage1mAtEnd: Math.round((os.loadavg()[0] ?? 0) * 100) / 100 },
      settings,
      scenarios,
      ...(keyStore ? { keyStore } : {}),
      ...(redisCheck ? { redisCheck } : {}),
      ...(cacheHitRates && cacheMemory ? { cache: { hotIds: HOT_IDS, mixedWriteShare: MIXED_WRITE_SHARE, hitRates: cacheHitRates, memory: cacheMemory } } : {}),
      ratios: ratios(scenarios, keyStore),
    };
    console.log(render(results));
    const file = writeJson(results, RESULTS_DIR);
    console.log(`\nresults written to ${path.relative(process.cwd(), file)}`);
  } finally {
    killAll();
    if (redis) await cleanUpRedis(redis);
    rmSync(root, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  const failed = error instanceof BenchFailure ? 'BENCH FAILED (errors or wrong answers: the figures would be meaningless)' : 'BENCH CRASHED';
  console.error(`\n${failed}\n${error instanceof Error ? error.stack ?? error.message : String(error)}`);
  process.exitCode = 1;
});
