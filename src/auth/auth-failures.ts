/**
 * Failed authentications per client address (`AUTH_FAILURE_LIMIT` per 15 minutes). Past the limit,
 * that address's failing requests get 429 instead of 401, which makes guessing keys slow.
 *
 * Only failures are counted: the caller records one after a credential was refused and never asks
 * about valid credentials. So an office behind one NAT address keeps working while a guesser on the
 * same address is throttled. The contract asks for a fixed 15-minute window, which
 * rate-limiter-flexible provides.
 *
 * Counted where the limiter backend counts (`limiter-backend.ts`): with Redis, shared by all
 * processes, falling back to memory while Redis is unreachable: protection degrades to per-process
 * counting instead of failing open (unlimited guessing for as long as Redis is down, something an
 * attacker can cause) or failing closed (every mistyped key an outage).
 */
import ipaddr from 'ipaddr.js';
import { RateLimiterRes } from 'rate-limiter-flexible';
import { limiterBackend, type LimiterBackend } from './limiter-backend.js';

export interface AuthFailureCounter {
  /**
   * Record one failed authentication from `ip`; `limited` when that address is now past its limit
   * (its failing requests should get 429 instead of 401), with the seconds until its window ends.
   */
  recordFailure(ip: string): Promise<{ limited: boolean; retryAfterSeconds: number }>;
  close(): Promise<void>;
}

export interface AuthFailureCounterOptions {
  /** Failures admitted per window; the next one is limited. */
  limit: number;
  windowSeconds?: number;
  /** Where the count lives (default: this process's memory). */
  backend?: LimiterBackend;
}

export function createAuthFailureCounter(options: AuthFailureCounterOptions): AuthFailureCounter {
  const { limit } = options;
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`Auth failure limit must be a whole number >= 1 (got ${limit})`);
  const limiter = (options.backend ?? limiterBackend()).fixedWindow('af', limit, options.windowSeconds ?? 900);

  return {
    async recordFailure(ip) {
      try {
        await limiter.consume(failureKey(ip));
        return { limited: false, retryAfterSeconds: 0 };
      } catch (rejection) {
        // Past the limit the library rejects with its result; anything else is a real error
        // (Redis failing with no insurance left), which the caller must see.
        if (!(rejection instanceof RateLimiterRes)) throw rejection;
        return { limited: true, retryAfterSeconds: Math.max(1, Math.ceil(rejection.msBeforeNext / 1000)) };
      }
    },
    // Nothing to release: the memory store's timers are unref'd and the Redis client is the caller's.
    async close() {},
  };
}

/**
 * The address an attempt is counted under. An IPv4-mapped IPv6 address is its IPv4 address, so a
 * dual-stack socket cannot split one client in two. Other IPv6 addresses count per /64: that is
 * what one subscriber is usually given, and per-address counting would let a single host rotate
 * through 2^64 fresh limits.
 */
export function failureKey(ip: string): string {
  let address: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    address = ipaddr.process(ip);
  } catch {
    return ip;
  }
  if (address.kind() === 'ipv4') return address.toString();
  const parts = (address as ipaddr.IPv6).parts.slice(0, 4).map((part) => part.toString(16));
  return `${parts.join(':')}::/64`;
}
