import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Redis } from 'ioredis';
import { limiterBackend } from '../../src/auth/limiter-backend.js';
import { createAuthFailureCounter, failureKey, type AuthFailureCounter } from '../../src/auth/auth-failures.js';
import { connectRedis, deleteKeys, redisUnavailable, uniquePrefix } from '../helpers/redis.js';

const skip = await redisUnavailable();
const prefix = uniquePrefix('af');
let redis: Redis;
let other: Redis;

before(async () => {
  if (skip) return;
  redis = await connectRedis();
  other = await connectRedis();
});

after(async () => {
  if (skip) return;
  await deleteKeys(redis, prefix);
  await redis.quit();
  await other.quit();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function failures(counter: AuthFailureCounter, ip: string, times: number): Promise<boolean[]> {
  const limited: boolean[] = [];
  for (let i = 0; i < times; i++) limited.push((await counter.recordFailure(ip)).limited);
  return limited;
}

/** The behaviours both stores must have; `make` gives a fresh counter with a fresh namespace. */
function behaviours(store: string, make: (limit: number, windowSeconds?: number) => AuthFailureCounter, options: { skip: string | false }) {
  test(`${store}: the failure after the limit is limited, with Retry-After inside the window`, options, async () => {
    const counter = make(3);
    assert.deepEqual(await failures(counter, '203.0.113.7', 3), [false, false, false]);
    const fourth = await counter.recordFailure('203.0.113.7');
    assert.equal(fourth.limited, true);
    assert.ok(fourth.retryAfterSeconds >= 899 && fourth.retryAfterSeconds <= 900, `Retry-After ${fourth.retryAfterSeconds}`);
    assert.equal((await counter.recordFailure('203.0.113.7')).limited, true);
    await counter.close();
  });

  test(`${store}: addresses are independent`, options, async () => {
    const counter = make(2);
    assert.deepEqual(await failures(counter, '198.51.100.1', 3), [false, false, true]);
    assert.deepEqual(await failures(counter, '198.51.100.2', 3), [false, false, true]);
    await counter.close();
  });

  test(`${store}: the window ends and the address may fail again`, options, async () => {
    const counter = make(2, 1);
    assert.deepEqual(await failures(counter, '192.0.2.9', 3), [false, false, true]);
    await sleep(1100);
    assert.deepEqual(await failures(counter, '192.0.2.9', 3), [false, false, true]);
    await counter.close();
  });

  test(`${store}: a mapped IPv4 address and an IPv6 /64 each count as one client`, options, async () => {
    const counter = make(2);
    assert.deepEqual(await failures(counter, '192.0.2.44', 1), [false]);
    assert.deepEqual(await failures(counter, '::ffff:192.0.2.44', 2), [false, true]);
    assert.deepEqual(await failures(counter, '2001:db8:1:2::1', 2), [false, false]);
    assert.deepEqual(await failures(counter, '2001:db8:1:2:ffff::9', 1), [true]);
    assert.deepEqual(await failures(counter, '2001:db8:1:3::1', 1), [false], 'another /64');
    await counter.close();
  });
}

let namespaces = 0;
behaviours('memory', (limit, windowSeconds) => createAuthFailureCounter({ limit, windowSeconds }), { skip: false });
behaviours(
  'redis',
  (limit, windowSeconds) => createAuthFailureCounter({ limit, windowSeconds, backend: limiterBackend({ redis, keyPrefix: `${prefix}${++namespaces}` }) }),
  { skip },
);

test('redis: counters on two connections (two server processes) share one count', { skip }, async () => {
  const keyPrefix = `${prefix}shared`;
  const first = createAuthFailureCounter({ limit: 4, backend: limiterBackend({ redis, keyPrefix }) });
  const second = createAuthFailureCounter({ limit: 4, backend: limiterBackend({ redis: other, keyPrefix }) });
  const limited = [];
  for (let i = 0; i < 3; i++) limited.push((await first.recordFailure('203.0.113.50')).limited, (await second.recordFailure('203.0.113.50')).limited);
  assert.deepEqual(limited, [false, false, false, false, true, true]);
  assert.ok((await redis.keys(`${keyPrefix}*`)).length === 1, 'one shared key');
});

test('redis unreachable: counting goes on in memory rather than stopping or failing', async () => {
  const down = new Redis('redis://127.0.0.1:1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  down.on('error', () => {});
  const counter = createAuthFailureCounter({ limit: 2, backend: limiterBackend({ redis: down }) });
  assert.deepEqual(await failures(counter, '203.0.113.99', 3), [false, false, true]);
  down.disconnect();
});

test('failure keys', () => {
  assert.equal(failureKey('::ffff:10.1.2.3'), '10.1.2.3');
  assert.equal(failureKey('10.1.2.3'), '10.1.2.3');
  assert.equal(failureKey('2001:DB8::1'), '2001:db8:0:0::/64');
  assert.equal(failureKey('not an address'), 'not an address');
});

test('a limit below 1 is refused', () => {
  assert.throws(() => createAuthFailureCounter({ limit: 0 }), RangeError);
});
