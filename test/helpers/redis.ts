/**
 * A real Redis for tests (REDIS_TEST_URL, else the local default). When it cannot be reached the
 * Redis tests are skipped with the reason, never silently passed.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';

export const REDIS_TEST_URL = process.env.REDIS_TEST_URL ?? 'redis://127.0.0.1:6379';

/** A skip reason for node:test (`{ skip }`), or false when Redis answers. */
export async function redisUnavailable(): Promise<string | false> {
  const probe = new Redis(REDIS_TEST_URL, { lazyConnect: true, connectTimeout: 1000, maxRetriesPerRequest: 0, retryStrategy: () => null, disconnectTimeout: 50 });
  let cause: unknown;
  probe.on('error', (error) => (cause ??= error));
  try {
    await probe.connect();
    await probe.ping();
    return false;
  } catch (error) {
    cause ??= error;
    return `Redis unreachable at ${REDIS_TEST_URL} (${cause instanceof Error ? cause.message : String(cause)})`;
  } finally {
    probe.disconnect();
  }
}

/** A connection that is ready, so nothing a test sends is diverted to an insurance limiter. */
export async function connectRedis(): Promise<Redis> {
  const client = new Redis(REDIS_TEST_URL, { maxRetriesPerRequest: 1 });
  if (client.status !== 'ready') {
    await new Promise((resolve, reject) => {
      client.once('ready', resolve);
      client.once('error', reject);
    });
  }
  return client;
}

/** A key namespace no other test run shares. */
export function uniquePrefix(name: string): string {
  return `dg-test:${name}:${randomUUID()}:`;
}

export async function deleteKeys(client: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    if (keys.length > 0) await client.del(...keys);
    cursor = next;
  } while (cursor !== '0');
}
