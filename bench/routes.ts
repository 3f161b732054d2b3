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
import { randomId } from './seed.js';

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
): Promise<RouteFigures> {
  const { rows } = options;
  const redisRun = limiters?.redis?.run;
  const authChild = await startChild({ role: 'duckgate', dataDir: authDir, auth: true });
  const bypassChild = await startChild({ role: 'duckgate', dataDir: bypassDir, auth: false });
  const memoryChild = limiters ? await startChild({ role: 'duckgate', dataDir: limiters.memoryDir, auth: true, limiter: MEMORY_LIMITER }) : undefined;
  const redisChild = limiters?.redis ? await startChild({ role: 'duckgate', dataDir: limiters.redis.dir, auth: true, limiter: limiters.redis.run.spec() }) : undefined;
  const children = [authChild, bypassChild, memoryChild, redisChild].filter(defined);
  await preflight(authChild.url!, true, rows);
  await preflight(bypassChild.url!, false, rows);
  if (memoryChild) await preflight(memoryChild.url!, true, rows, LIMITER_RATE_LIMIT);
  if (redisChild && redisRun) {
    await preflight(redisChild.url!, true, rows, LIMITER_RATE_LIMIT);
    await expectCountedInRedis(redisChild.url!, rows, redisRun);
  }
  const token = managed ? await preflightCredentials(authChild.url!, rows, managed) : undefined;

  const scenario = (label: string, child: BenchChild, headers: Record<string, string>, external?: RedisRun): Scenario => ({
    label,
    samples: [],
    target: {
      name: `${label} route`, child, siblings: children.filter((c) => c !== child), headers,
      path: () => `/api/find/${COLLECTION}/${randomId(rows)}`,
      ...(external ? { external: { cpuMicros: () => external.cpuMicros() } } : {}),
    },
  });
  // The bypass sends the environment key's header too (ignored): the same bytes as row 3.
  const envKey = { 'x-api-key': BENCH_ADMIN_KEY };
  const env = scenario('env key', authChild, envKey);
  const bypass = scenario('bypass', bypassChild, envKey);
  const key = managed ? scenario('managed key', authChild, { 'x-api-key': managed.key }) : undefined;
  const jwt = token ? scenario('JWT', authChild, { authorization: `Bearer ${token}` }) : undefined;
  const memory = memoryChild ? scenario('memory limiter', memoryChild, envKey) : undefined;
  const redis = redisChild ? scenario('Redis limiter', redisChild, envKey, redisRun) : undefined;
  const all = [env, key, jwt, memory, redis, bypass].filter(defined);

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
  for (const child of children) await stopChild(child);
  return {
    authRoute: summarize(env.samples),
    bypassRoute: summarize(bypass.samples),
    ...(key ? { managedKeyRoute: summarize(key.samples) } : {}),
    ...(jwt ? { jwtRoute: summarize(jwt.samples) } : {}),
    ...(memory ? { memoryLimiterRoute: summarize(memory.samples) } : {}),
    ...(redis ? { redisLimiterRoute: summarize(redis.samples, true), redisCheck } : {}),
  };
}
