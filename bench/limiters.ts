/**
 * Rows 5a and 5b, the parent's side: the rate-limit settings of their servers, and the Redis that
 * row 5b's limiter counts in: is it reachable, how much CPU it uses, which keys the run wrote
 * (all under a prefix unique to the run), and deleting them afterwards.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import type { LimiterSpec } from './protocol.js';

/** API_RATE_LIMIT of rows 5a and 5b: the most `loadConfig` accepts, never reached by a run, so nothing is refused. */
export const LIMITER_RATE_LIMIT = 1_000_000_000;
export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';
const CONNECT_TIMEOUT_MS = 2_000;

/** Row 5a's server: the in-process limiter (no REDIS_URL). */
export const MEMORY_LIMITER: LimiterSpec = { rateLimit: LIMITER_RATE_LIMIT };

/** The bench's own connection to the Redis row 5b's server counts in. */
export class RedisRun {
  private constructor(
    readonly url: string,
    /** REDIS_KEY_PREFIX of row 5b's server: the server writes `<prefix>:rl:<client>` and `<prefix>:af:<ip>`. */
    readonly prefix: string,
    readonly version: string,
    private readonly client: Redis,
  ) {}

  /** Connects and pings; answers a one-line reason instead when Redis cannot be used. */
  static async open(url: string): Promise<RedisRun | string> {
    const client = new Redis(url, {
      lazyConnect: true, connectTimeout: CONNECT_TIMEOUT_MS, commandTimeout: 10_000, maxRetriesPerRequest: 0, retryStrategy: () => null,
    });
    // The connection's own error (e.g. ECONNREFUSED) says more than the rejected command's "Connection is closed".
    let cause: unknown;
    client.on('error', (error: unknown) => (cause ??= error));
    try {
      await client.connect();
      await client.ping();
      const version = /^redis_version:(\S+)/m.exec(await client.info('server'))?.[1] ?? '?';
      return new RedisRun(url, `duckgate-bench-${process.pid}-${randomBytes(4).toString('hex')}`, version, client);
    } catch (error) {
      client.disconnect();
      const reason = cause ?? error;
      return `Redis at ${url} is unreachable (${reason instanceof Error ? reason.message : String(reason)})`;
    }
  }

  /** Row 5b's server: the same limit, counted in this Redis under this run's prefix. */
  spec(): LimiterSpec {
    return { rateLimit: LIMITER_RATE_LIMIT, redisUrl: this.url, redisKeyPrefix: this.prefix };
  }

  /** CPU the Redis server has used so far, µs (INFO cpu: user + system, all its threads, every client's work). */
  async cpuMicros(): Promise<number> {
    const info = await this.client.info('cpu');
    const seconds = (field: string) => Number(new RegExp(`^${field}:([0-9.]+)`, 'm').exec(info)?.[1] ?? NaN);
    return (seconds('used_cpu_user') + seconds('used_cpu_sys')) * 1e6;
  }

  /** Requests the limiter has counted so far in this run: the sum of every `<prefix>:rl:*` window. */
  async countedRequests(): Promise<number> {
    let total = 0;
    for (const key of await this.keys(`${this.prefix}:rl:*`)) {
      for (const count of await this.client.hvals(key)) total += Number(count);
    }
    return total;
  }

  /** Deletes every key of the run and disconnects; answers how many keys were deleted. */
  async cleanUp(): Promise<number> {
    try {
      const keys = await this.keys(`${this.prefix}:*`);
      if (keys.length > 0) await this.client.del(...keys);
      return keys.length;
    } finally {
      await this.client.quit().catch(() => this.client.disconnect());
    }
  }

  private async keys(pattern: string): Promise<string[]> {
    const found: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await this.client.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      found.push(...batch);
    } while (cursor !== '0');
    return found;
  }
}
