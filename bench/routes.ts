/**
 * Rows 3, 3b, 3c, 4, 5a and 5b: `GET /api/find/bench_items/:id` presented with the environment key,
 * a managed key and an exchanged JWT (all three on the same authenticating server), with
 * authentication bypassed (its own server), and with the environment key on a server that rate
 * limits in memory (5a) or in Redis (5b), each its own server too. A credential's or a limiter's
 * cost is a few percent, less than a shared machine's drift over a minute: so all servers run side
 * by side, each on its own byte-identical copy of the seeded directory (a DuckDB file opens in one
 * process only), and the measured runs alternate, each round rotating which scenario goes first:
 * drift hits all alike.
 */
import type { BenchChild } from './child.js';
import { progress, startChild, stopChild } from './children.js';
import { LIMITER_RATE_LIMIT, MEMORY_LIMITER, type RedisRun } from './limiters.js';
import { BenchFailure, measureOnce, summarize, warmUp, type HttpFigures, type LoadOptions, type Sample, type Target } from './load.js';
import { expectCountedInRedis, preflight, preflightCredentials, type ManagedCredential } from './preflight.js';
import { BENCH_ADMIN_KEY, COLLECTION } from './protocol.js';
import { idOf, randomId } from './seed.js';
import { measureCacheMemory, type CacheMemory } from './cache-memory.js';

/** Rows 6a-6e (the record cache): each server's own copy of the seeded directory. */
export interface CacheServers {
  hotDir: string;
  hotBypassDir: string;
  coldDir: string;
  mixedDir: string;
  memoryDir: string;
}

/** The hot set of rows 6a, 6b and 6d: the records an application reads over and over. */
export const HOT_IDS = 100;
/** RECORD_CACHE_BYTES of the servers with the cache on: the default. */
const CACHE_ON = '64mb';
/** Row 6c's bound: one or two records, so a random read of the 100 000 misses (its hit rate is reported). */
const CACHE_COLD = '1kb';
/** Share of row 6d's requests that are writes (PUT /api/update of a hot id). */
export const MIXED_WRITE_SHARE = 0.1;

export type { ManagedCredential } from './preflight.js';

/** Rows 5a and 5b: each server's own copy of the seeded directory; `redis` absent when Redis is unreachable. */
export interface LimiterServers {
  memoryDir: string;
  redis?: { dir: string; run: RedisRun };
}

/** Row 5b's measured requests and what Redis counted meanwhile: at least as many, or the limiter fell back to memory. */
export interface RedisCheck {
  measuredRequests: number;
  countedRequests: number;
}

export interface RouteFigures {
  authRoute: HttpFigures;
  bypassRoute: HttpFigures;
  managedKeyRoute?: HttpFigures;
  jwtRoute?: HttpFigures;
  memoryLimiterRoute?: HttpFigures;
  redisLimiterRoute?: HttpFigures;
  redisCheck?: RedisCheck;
  hotRoute?: HttpFigures;
  hotBypassRoute?: HttpFigures;
  coldRoute?: HttpFigures;
  mixedRoute?: HttpFigures;
  /** Hit rates each cache server reported over the whole run (warm-up included). */
  cacheHitRates?: Record<'hot' | 'hotBypass' | 'cold' | 'mixed', number>;
  cacheMemory?: CacheMemory;
}

interface Scenario {
  label: string;
  target: Target;
  samples: Sample[];
}

const defined = <T>(value: T | undefined): value is T => value !== undefined;

export async function measureRoutes(
  authDir: string,
  bypassDir: string,
  options: LoadOptions & { rows: number; rounds: number },
  managed?: ManagedCredential,
  limiters?: LimiterServers,
  cache?: CacheServers,
): Promise<RouteFigures> {
  const { rows } = options;
  const redisRun = limiters?.redis?.run;
  const authChild = await startChild({ role: 'duckgate', dataDir: authDir, auth: true });
  const bypassChild = await startChild({ role: 'duckgate', dataDir: bypassDir, auth: false });
  const memoryChild = limiters ? await startChild({ role: 'duckgate', dataDir: limiters.memoryDir, auth: true, limiter: MEMORY_LIMITER }) : undefined;
  const redisChild = limiters?.redis ? await startChild({ role: 'duckgate', dataDir: limiters.redis.dir, auth: true, limiter: limiters.redis.run.spec() }) : undefined;
  const hotChild = cache ? await startChild({ role: 'duckgate', dataDir: cache.hotDir, auth: true, recordCache: CACHE_ON }) : undefined;
  const hotBypassChild = cache ? await startChild({ role: 'duckgate', dataDir: cache.hotBypassDir, auth: false, recordCache: CACHE_ON }) : undefined;
  const coldChild = cache ? await startChild({ role: 'duckgate', dataDir: cache.coldDir, auth: true, recordCache: CACHE_COLD }) : undefined;
  const mixedChild = cache ? await startChild({ role: 'duckgate', dataDir: cache.mixedDir, auth: true, recordCache: CACHE_ON }) : undefined;
  const children = [authChild, bypassChild, memoryChild, redisChild, hotChild, hotBypassChild, coldChild, mixedChild].filter(defined);
  for (const child of [hotChild, coldChild, mixedChild].filter(defined)) await preflight(child.url!, true, rows);
  if (hotBypassChild) await preflight(hotBypassChild.url!, false, rows);
  await preflight(authChild.url!, true, rows);
  await preflight(bypassChild.url!, false, rows);
  if (memoryChild) await preflight(memoryChild.url!, true, rows, LIMITER_RATE_LIMIT);
  if (redisChild && redisRun) {
    await preflight(redisChild.url!, true, rows, LIMITER_RATE_LIMIT);
    await expectCountedInRedis(redisChild.url!, rows, redisRun);
  }
  const token = managed ? await preflightCredentials(authChild.url!, rows, managed) : undefined;

  const randomPath = () => `/api/find/${COLLECTION}/${randomId(rows)}`;
  const scenario = (label: string, child: BenchChild, headers: Record<string, string>, external?: RedisRun, path = randomPath, request?: Target['request']): Scenario => ({
    label,
    samples: [],
    target: {
      name: `${label} route`, child, siblings: children.filter((c) => c !== child), headers, path,
      ...(external ? { external: { cpuMicros: () => external.cpuMicros() } } : {}),
      ...(request ? { request } : {}),
    },
  });
  const hotId = () => idOf(Math.floor(Math.random() * Math.min(HOT_IDS, rows)));
  const hotPath = () => `/api/find/${COLLECTION}/${hotId()}`;
  const mixedRequest = () => (Math.random() < MIXED_WRITE_SHARE
    ? { method: 'PUT' as const, path: `/api/update/${COLLECTION}/${hotId()}`, body: JSON.stringify({ score: Math.floor(Math.random() * 1000) + 0.5 }), headers: { 'content-type': 'application/json' } }
    : { method: 'GET' as const, path: hotPath() });
  // The bypass sends the environment key's header too (ignored): the same bytes as row 3.
  const envKey = { 'x-api-key': BENCH_ADMIN_KEY };
  const env = scenario('env key', authChild, envKey);
  const bypass = scenario('bypass', bypassChild, envKey);
  const key = managed ? scenario('managed key', authChild, { 'x-api-key': managed.key }) : undefined;
  const jwt = token ? scenario('JWT', authChild, { authorization: `Bearer ${token}` }) : undefined;
  const memory = memoryChild ? scenario('memory limiter', memoryChild, envKey) : undefined;
  const redis = redisChild ? scenario('Redis limiter', redisChild, envKey, redisRun) : undefined;
  const hot = hotChild ? scenario('hot (hit)', hotChild, envKey, undefined, hotPath) : undefined;
  const hotBypass = hotBypassChild ? scenario('hot, bypass', hotBypassChild, envKey, undefined, hotPath) : undefined;
  const cold = coldChild ? scenario('cold (miss)', coldChild, envKey) : undefined;
  const mixed = mixedChild ? scenario('mixed 90/10', mixedChild, envKey, undefined, hotPath, mixedRequest) : undefined;
  const all = [env, key, jwt, memory, redis, bypass, hot, hotBypass, cold, mixed].filter(defined);

  for (const s of all) await warmUp(s.target, options);
  const countedBefore = redisRun && redis ? await redisRun.countedRequests() : 0;
  const rate = (s: Scenario) => (s.samples.at(-1)!.requests / s.samples.at(-1)!.seconds).toFixed(0);
  for (let round = 0; round < options.rounds; round++) {
    // Rotate which goes first, so none always follows the same other.
    for (let k = 0; k < all.length; k++) {
      const s = all[(k + round) % all.length]!;
      s.samples.push(await measureOnce(s.target, options));
    }
    progress(`   round ${round + 1}: ${all.map((s) => `${s.label} ${rate(s)}`).join(', ')} req/s`);
  }
  let redisCheck: RedisCheck | undefined;
  if (redisRun && redis) {
    // Only row 5b's runs reach its server, so Redis's count grows by at least their requests (a
    // few more: answers still in flight when autocannon stopped). Fewer: the server fell back to
    // its in-process limiter during the runs, and the row would not measure Redis.
    redisCheck = {
      measuredRequests: redis.samples.reduce((total, s) => total + s.requests, 0),
      countedRequests: (await redisRun.countedRequests()) - countedBefore,
    };
    if (redisCheck.countedRequests < redisCheck.measuredRequests) {
      throw new BenchFailure(`Redis limiter: Redis counted ${redisCheck.countedRequests} of the ${redisCheck.measuredRequests} measured requests: `
        + 'the server fell back to its in-process limiter (Redis failing or too slow), so row 5b would not measure Redis');
    }
  }
  const cacheHitRates = hotChild && hotBypassChild && coldChild && mixedChild ? {
    hot: await hitRate(hotChild.url!), hotBypass: await hitRate(hotBypassChild.url!), cold: await hitRate(coldChild.url!), mixed: await hitRate(mixedChild.url!),
  } : undefined;
  for (const child of children) await stopChild(child);
  const cacheMemory = cache ? await measureCacheMemory(cache.memoryDir, rows, options) : undefined;
  return {
    ...(hot && hotBypass && cold && mixed ? {
      hotRoute: summarize(hot.samples), hotBypassRoute: summarize(hotBypass.samples), coldRoute: summarize(cold.samples), mixedRoute: summarize(mixed.samples),
    } : {}),
    ...(cacheHitRates ? { cacheHitRates } : {}),
    ...(cacheMemory ? { cacheMemory } : {}),
    authRoute: summarize(env.samples),
    bypassRoute: summarize(bypass.samples),
    ...(key ? { managedKeyRoute: summarize(key.samples) } : {}),
    ...(jwt ? { jwtRoute: summarize(jwt.samples) } : {}),
    ...(memory ? { memoryLimiterRoute: summarize(memory.samples) } : {}),
    ...(redis ? { redisLimiterRoute: summarize(redis.samples, true), redisCheck } : {}),
  };
}

/** hits / (hits + misses) of a server's record cache, from its /metrics. */
async function hitRate(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`, { headers: { 'x-api-key': BENCH_ADMIN_KEY } })).text();
  const read = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
  const hits = read('record_cache_hits_total');
  return hits / (hits + read('record_cache_misses_total'));
}
