import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Redis } from 'ioredis';
import { HOUR_MS, MINUTE_MS } from '../../src/auth/rate-limit.js';
import { RedisRateLimiter, type RedisRateLimiterOptions } from '../../src/auth/rate-limit-redis.js';
import { connectRedis, deleteKeys, redisUnavailable, uniquePrefix } from '../helpers/redis.js';

const skip = await redisUnavailable();
const prefix = uniquePrefix('rl');
let redis: Redis;
let other: Redis;
const limiters: RedisRateLimiter[] = [];

before(async () => {
  if (skip) return;
  redis = await connectRedis();
  other = await connectRedis();
});

after(async () => {
  for (const rl of limiters) await rl.close();
  if (skip) return;
  await deleteKeys(redis, prefix);
  await redis.quit();
  await other.quit();
});

/** A clock the test moves, starting on an hour boundary. */
function clock() {
  const state = { now: 1000 * HOUR_MS };
  return { state, now: () => state.now };
}

function limiter(options: Partial<RedisRateLimiterOptions> = {}): RedisRateLimiter {
  // No insurance: a Redis failure must fail the test, not be answered from memory.
  const rl = new RedisRateLimiter({ redis, keyPrefix: prefix, insurance: null, ...options });
  limiters.push(rl);
  return rl;
}

test('admits exactly the limit, then refuses with remaining 0 until the first bucket leaves the hour', { skip }, async () => {
  const { state, now } = clock();
  const rl = limiter({ now });
  const remaining: number[] = [];
  for (let i = 0; i < 5; i++) {
    const d = await rl.consume('exact', 5);
    assert.equal(d.allowed, true);
    assert.equal(d.resetSeconds, 3660);
    remaining.push(d.remaining);
  }
  assert.deepEqual(remaining, [4, 3, 2, 1, 0]);
  state.now += 10 * MINUTE_MS;
  assert.deepEqual(await rl.consume('exact', 5), { allowed: false, limit: 5, remaining: 0, resetSeconds: 3060 });
  state.now += 3060 * 1000 - 1;
  assert.equal((await rl.consume('exact', 5)).allowed, false);
  state.now += 1;
  assert.deepEqual(await rl.consume('exact', 5), { allowed: true, limit: 5, remaining: 4, resetSeconds: 3660 });
});

test('no double burst at a fixed-hour edge', { skip }, async () => {
  const { state, now } = clock();
  const rl = limiter({ now });
  const hourStart = state.now;
  state.now = hourStart + HOUR_MS - 1000;
  for (let i = 0; i < 10; i++) assert.equal((await rl.consume('edge', 10)).allowed, true);
  state.now = hourStart + HOUR_MS;
  assert.deepEqual(await rl.consume('edge', 10), { allowed: false, limit: 10, remaining: 0, resetSeconds: 3600 });
  state.now = hourStart + 2 * HOUR_MS - 1;
  assert.equal((await rl.consume('edge', 10)).allowed, false);
  state.now = hourStart + 2 * HOUR_MS;
  assert.equal((await rl.consume('edge', 10)).allowed, true);
});

test('slots come back bucket by bucket, and buckets that left the window are deleted', { skip }, async () => {
  const { state, now } = clock();
  const rl = limiter({ now });
  const start = state.now;
  await rl.consume('slide', 4);
  await rl.consume('slide', 4);
  state.now = start + 30 * MINUTE_MS;
  await rl.consume('slide', 4);
  await rl.consume('slide', 4);
  assert.equal((await rl.consume('slide', 4)).resetSeconds, 31 * 60);
  assert.equal(await redis.hlen(`${prefix}slide`), 2);

  state.now = start + 61 * MINUTE_MS;
  assert.deepEqual(await rl.consume('slide', 4), { allowed: true, limit: 4, remaining: 1, resetSeconds: 30 * 60 });
  assert.deepEqual(await redis.hkeys(`${prefix}slide`), [String(start / MINUTE_MS + 30), String(start / MINUTE_MS + 61)].sort());
  const ttl = await redis.pttl(`${prefix}slide`);
  assert.ok(ttl > HOUR_MS && ttl <= HOUR_MS + MINUTE_MS, `TTL ${ttl} ms: a quiet client's hash expires by itself`);
});

test('refused requests are not counted', { skip }, async () => {
  const { state, now } = clock();
  const rl = limiter({ now });
  const start = state.now;
  for (let i = 0; i < 3; i++) await rl.consume('hammer', 3);
  for (let minute = 1; minute <= 60; minute += 3) {
    state.now = start + minute * MINUTE_MS;
    for (let i = 0; i < 10; i++) assert.equal((await rl.consume('hammer', 3)).allowed, false);
  }
  state.now = start + 61 * MINUTE_MS;
  assert.equal((await rl.consume('hammer', 3)).allowed, true);
});

test('clients are independent', { skip }, async () => {
  const { now } = clock();
  const rl = limiter({ now });
  for (let i = 0; i < 2; i++) assert.equal((await rl.consume('ind-a', 2)).allowed, true);
  assert.equal((await rl.consume('ind-a', 2)).allowed, false);
  assert.equal((await rl.consume('ind-b', 2)).remaining, 1);
});

test('two limiters on two connections (two server processes) share one count', { skip }, async () => {
  const { now } = clock();
  const first = limiter({ now });
  const second = limiter({ now, redis: other });
  const answers = [];
  for (let i = 0; i < 3; i++) {
    answers.push((await first.consume('shared', 6)).remaining, (await second.consume('shared', 6)).remaining);
  }
  assert.deepEqual(answers, [5, 4, 3, 2, 1, 0]);
  assert.equal((await first.consume('shared', 6)).allowed, false);
  assert.equal((await second.consume('shared', 6)).allowed, false);
});

test('a process whose clock runs behind still counts, and waits for, buckets written ahead of it', { skip }, async () => {
  const { state, now } = clock();
  const behind = limiter({ now });
  const ahead = limiter({ now: () => state.now + 5 * MINUTE_MS });
  await ahead.consume('skew', 2);
  await ahead.consume('skew', 2);
  assert.deepEqual(await behind.consume('skew', 2), { allowed: false, limit: 2, remaining: 0, resetSeconds: 66 * 60 });
});

test('200 concurrent requests against a limit of 50 admit exactly 50', { skip }, async () => {
  const first = limiter();
  const second = limiter({ redis: other });
  const results = await Promise.all(
    Array.from({ length: 200 }, (_, i) => (i % 2 === 0 ? first : second).consume('concurrent', 50)),
  );
  assert.equal(results.filter((d) => d.allowed).length, 50);
  assert.deepEqual(results.filter((d) => d.allowed).map((d) => d.remaining).sort((a, b) => a - b), Array.from({ length: 50 }, (_, i) => i));
  for (const refused of results.filter((d) => !d.allowed)) {
    assert.equal(refused.remaining, 0);
    assert.ok(refused.resetSeconds > 3600 && refused.resetSeconds <= 3660, `resetSeconds ${refused.resetSeconds}`);
  }
});

test("without an injected clock the Redis server's clock places the buckets", { skip }, async () => {
  const rl = limiter();
  const d = await rl.consume('server-clock', 2);
  assert.equal(d.allowed, true);
  assert.ok(d.resetSeconds > 3600 && d.resetSeconds <= 3660);
  const [seconds] = await redis.time();
  const bucket = Math.floor((Number(seconds) * 1000) / MINUTE_MS);
  const [field] = await redis.hkeys(`${prefix}server-clock`);
  assert.ok(Math.abs(Number(field) - bucket) <= 1, `bucket ${field} near ${bucket}`);
});

test('unreachable Redis: answered by the in-memory insurance, reported once', async () => {
  const errors: unknown[] = [];
  const rl = new RedisRateLimiter({ redis: 'redis://127.0.0.1:1', onError: (e) => errors.push(e) });
  limiters.push(rl);
  const decisions = [];
  for (let i = 0; i < 2; i++) decisions.push(await rl.consume('down', 3));
  assert.equal(errors.length, 0, 'a connection still opening is not an outage');
  await new Promise((resolve) => setTimeout(resolve, 200));
  for (let i = 0; i < 2; i++) decisions.push(await rl.consume('down', 3));
  assert.deepEqual(decisions.map((d) => d.allowed), [true, true, true, false]);
  assert.equal(errors.length, 1);
  assert.match(String(errors[0]), /reconnecting/);
});

test('unreachable Redis without insurance: the promise rejects and the caller decides', async () => {
  const rl = new RedisRateLimiter({ redis: 'redis://127.0.0.1:1', insurance: null });
  limiters.push(rl);
  await assert.rejects(rl.consume('down', 3), /Rate-limit store \(Redis\) unavailable/);
  await assert.rejects(rl.consume('down', 3), /Rate-limit store \(Redis\) unavailable/);
});
