/**
 * Where every limiter in duckgate counts: in this process's memory, or in Redis (shared by every
 * replica). Chosen once, from REDIS_URL, and handed to all three users: the per-client request
 * limit (API_RATE_LIMIT, a sliding window), the failed-authentication limit per address
 * (AUTH_FAILURE_LIMIT) and the login throttle (fixed windows through rate-limiter-flexible). So
 * the three can never disagree about where counts live, and one test suite runs each of them
 * against both backends.
 *
 * The Redis backend never fails a request because Redis is down: each limiter falls back to a
 * counter in memory (per process) until Redis answers again, rather than failing open (no limit
 * while Redis is down, something an attacker can cause) or closed (an outage of the API).
 */
import type { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { MemoryRateLimiter } from './rate-limit-memory.js';
import { RedisRateLimiter } from './rate-limit-redis.js';
import type { RateLimiter, SlidingWindowOptions } from './rate-limit.js';

export interface LimiterBackend {
  readonly kind: 'memory' | 'redis';
  /** A sliding-window limiter (`rate-limit.ts`) whose counters live under `name`. */
  slidingWindow(name: string, options?: SlidingWindowOptions): RateLimiter;
  /** A fixed window of `points` per `durationSeconds` under `name` (rate-limiter-flexible). */
  fixedWindow(name: string, points: number, durationSeconds: number): RateLimiterAbstract;
}

export interface LimiterBackendOptions {
  /** Set: counts in Redis, shared by every process on it. The client stays the caller's to close. */
  redis?: Redis;
  /** Namespace of every counter (REDIS_KEY_PREFIX), so deployments can share one Redis. */
  keyPrefix?: string;
  /** Told when Redis starts failing and a limiter counts in memory meanwhile. */
  onError?: (error: unknown) => void;
}

/** The one place the memory-or-Redis choice is made. */
export function limiterBackend(options: LimiterBackendOptions = {}): LimiterBackend {
  const prefix = options.keyPrefix ?? 'dg';
  const redis = options.redis;
  if (!redis) {
    return {
      kind: 'memory',
      slidingWindow: (_name, window) => new MemoryRateLimiter(window),
      fixedWindow: (name, points, duration) => new RateLimiterMemory({ points, duration, keyPrefix: `${prefix}:${name}` }),
    };
  }
  return {
    kind: 'redis',
    slidingWindow: (name, window) => new RedisRateLimiter({ ...window, redis, keyPrefix: `${prefix}:${name}:`, onError: options.onError }),
    fixedWindow: (name, points, duration) => new RateLimiterRedis({
      storeClient: redis,
      points,
      duration,
      keyPrefix: `${prefix}:${name}`,
      // Straight to the insurance while disconnected, instead of waiting in ioredis's offline queue.
      rejectIfRedisNotReady: true,
      insuranceLimiter: new RateLimiterMemory({ points, duration, keyPrefix: `${prefix}:${name}` }),
    }),
  };
}
