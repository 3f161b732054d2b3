/**
 * The sliding-window limiter of `rate-limit.ts` shared through Redis, so every server process behind
 * a load balancer counts against one limit. A client's window is one hash, `<prefix><clientKey>`,
 * bucket index → admitted count; one Lua script reads, prunes, decides and counts, so concurrent
 * requests from many processes can never both take the last slot.
 *
 * When Redis is unreachable the limiter degrades to an in-process limiter ("insurance", on by
 * default) rather than failing requests or letting them through unlimited: each process then
 * enforces the limit on its own, N processes admitting at most N × limit until Redis is back. An
 * outage of a rate-limit store should not become an outage of the API, nor switch limits off.
 */
import { Redis } from 'ioredis';
import { MemoryRateLimiter } from './rate-limit-memory.js';
import {
  assertLimit,
  decision,
  slidingWindow,
  type RateLimitDecision,
  type RateLimiter,
  type SlidingWindow,
  type SlidingWindowOptions,
} from './rate-limit.js';

export interface RedisRateLimiterOptions extends SlidingWindowOptions {
  /**
   * A client (left open by `close`, its owner's to configure: give it a `commandTimeout` so a stalled
   * Redis cannot hold requests) or a `redis://` URL (connected, bounded and closed by the limiter).
   */
  redis: Redis | string;
  /** Namespace for the hashes; tests use a unique one per run. */
  keyPrefix?: string;
  /**
   * Milliseconds since the epoch, for tests. Unset: the Redis server's clock, so processes whose
   * clocks drift apart still agree on where the buckets begin.
   */
  now?: () => number;
  /**
   * Answers while Redis is unreachable (closed with this limiter); default: an in-process limiter
   * with the same window. `null`: reject instead, and the caller decides.
   */
  insurance?: RateLimiter | null;
  /** Told once when Redis starts failing (again), not on every request of an outage. */
  onError?: (error: unknown) => void;
}

/**
 * KEYS[1]: the client's hash. ARGV: now in ms ('' = Redis TIME), bucket ms, buckets summed, limit,
 * TTL ms. Returns { admitted 0/1, admitted in window, ms until the decisive bucket leaves }.
 * Reading TIME before writing needs effects replication, the default since Redis 5.
 * Buckets newer than the current one (a caller whose clock runs ahead) are counted, not pruned:
 * skew may make the limit stricter, never looser.
 */
const SCRIPT = `
local now = tonumber(ARGV[1])
if now == nil then
  local time = redis.call('TIME')
  now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
end
local bucketMs = tonumber(ARGV[2])
local buckets = tonumber(ARGV[3])
local limit = tonumber(ARGV[4])
local current = math.floor(now / bucketMs)
local oldest = current - buckets + 1

local flat = redis.call('HGETALL', KEYS[1])
local counts = {}
local stale = {}
local sum = 0
local newest = current
for i = 1, #flat, 2 do
  local bucket = tonumber(flat[i])
  if bucket < oldest then
    stale[#stale + 1] = flat[i]
  else
    local count = tonumber(flat[i + 1])
    counts[bucket] = count
    sum = sum + count
    if bucket > newest then newest = bucket end
  end
end
if #stale > 0 then redis.call('HDEL', KEYS[1], unpack(stale)) end

local allowed = 0
local needed = sum - limit + 1
if sum < limit then
  allowed = 1
  sum = sum + 1
  needed = 1
  counts[current] = (counts[current] or 0) + 1
  redis.call('HINCRBY', KEYS[1], string.format('%d', current), 1)
  redis.call('PEXPIRE', KEYS[1], ARGV[5])
end

local freed = current - buckets
local acc = 0
for bucket = oldest, newest do
  acc = acc + (counts[bucket] or 0)
  if acc >= needed then
    freed = bucket
    break
  end
end
return { allowed, sum, (freed + buckets) * bucketMs - now }
`;

const COMMAND = 'duckgateSlidingWindow';

type ScriptReply = [number, number, number];
type ScriptClient = Redis & { [COMMAND](key: string, ...args: string[]): Promise<ScriptReply> };

/**
 * Commands go to Redis only on a ready connection (or a lazy one, which the first command opens):
 * otherwise ioredis would hold them in its offline queue, and the request with them, for as long
 * as reconnecting takes. A connection still being opened is the normal start, not a failure.
 */
const SENDABLE = new Set(['ready', 'wait']);
const OPENING = new Set(['connecting', 'connect']);

export class RedisRateLimiter implements RateLimiter {
  private readonly client: ScriptClient;
  private readonly ownsClient: boolean;
  private readonly window: SlidingWindow;
  private readonly keyPrefix: string;
  private readonly now: (() => number) | undefined;
  private readonly insurance: RateLimiter | null;
  private readonly onError: (error: unknown) => void;
  private readonly fixedArgs: [string, string];
  private readonly ttlMs: string;
  private failing = false;

  constructor(options: RedisRateLimiterOptions) {
    this.window = slidingWindow(options);
    this.ownsClient = typeof options.redis === 'string';
    // An owned client fails fast: a stalled Redis holds a request at most a second, and closing
    // while Redis is down does not keep the process alive for ioredis's default 2 s.
    const client =
      typeof options.redis === 'string'
        ? new Redis(options.redis, { maxRetriesPerRequest: 1, commandTimeout: 1000, disconnectTimeout: 200 })
        : options.redis;
    client.defineCommand(COMMAND, { numberOfKeys: 1, lua: SCRIPT });
    this.client = client as ScriptClient;
    // An owned client's connection errors surface as failed commands; without a listener ioredis
    // would also print each one.
    if (this.ownsClient) client.on('error', () => {});
    this.keyPrefix = options.keyPrefix ?? 'dg:rl:';
    this.now = options.now;
    this.insurance =
      options.insurance === undefined
        ? new MemoryRateLimiter({ windowMs: this.window.windowMs, bucketMs: this.window.bucketMs, ...(options.now ? { now: options.now } : {}) })
        : options.insurance;
    this.onError = options.onError ?? (() => {});
    this.fixedArgs = [String(this.window.bucketMs), String(this.window.buckets)];
    // Until the newest bucket has left the window, so a quiet client's hash expires by itself.
    this.ttlMs = String(this.window.windowMs + this.window.bucketMs);
  }

  async consume(clientKey: string, limit: number): Promise<RateLimitDecision> {
    assertLimit(limit);
    const status = this.client.status;
    if (!SENDABLE.has(status)) {
      return this.fallBack(clientKey, limit, OPENING.has(status) ? undefined : new Error(`Redis connection is ${status}`));
    }
    let reply: ScriptReply;
    try {
      const nowArg = this.now ? String(this.now()) : '';
      reply = await this.client[COMMAND](this.keyPrefix + clientKey, nowArg, ...this.fixedArgs, String(limit), this.ttlMs);
    } catch (error) {
      return this.fallBack(clientKey, limit, error);
    }
    this.failing = false;
    const [allowed, admitted, msUntilReset] = reply;
    return decision(allowed === 1, limit, admitted, msUntilReset);
  }

  async close(): Promise<void> {
    await this.insurance?.close();
    if (!this.ownsClient) return;
    // QUIT lets commands in flight finish, but only a live connection can send it; `disconnect`
    // also cancels a pending reconnect, which would otherwise hold the process open.
    if (this.client.status === 'ready') await this.client.quit().catch(() => this.client.disconnect());
    else this.client.disconnect();
  }

  /** `cause` undefined: Redis is not failing, only not connected yet. */
  private fallBack(clientKey: string, limit: number, cause: unknown): Promise<RateLimitDecision> {
    if (cause !== undefined && !this.failing) {
      this.failing = true;
      this.onError(cause);
    }
    if (this.insurance) return this.insurance.consume(clientKey, limit);
    return Promise.reject(new Error('Rate-limit store (Redis) unavailable', { cause }));
  }
}
