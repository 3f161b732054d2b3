import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemoryRateLimiter } from '../../src/auth/rate-limit-memory.js';
import { HOUR_MS, MINUTE_MS } from '../../src/auth/rate-limit.js';

/** A clock the test moves; starts on an hour boundary, far from zero. */
function clock(start = 1000 * HOUR_MS) {
  const state = { now: start };
  return { state, now: () => state.now };
}

function limiter(now: () => number) {
  return new MemoryRateLimiter({ now, sweepIntervalMs: 0 });
}

test('admits exactly the limit, then refuses with remaining 0 until the first bucket leaves the hour', async () => {
  const { state, now } = clock();
  const rl = limiter(now);
  const remaining: number[] = [];
  for (let i = 0; i < 5; i++) {
    const d = await rl.consume('key-a', 5);
    assert.equal(d.allowed, true);
    assert.equal(d.limit, 5);
    // Admitted at the start of a bucket: that bucket leaves the window after an hour and a minute.
    assert.equal(d.resetSeconds, 3660);
    remaining.push(d.remaining);
  }
  assert.deepEqual(remaining, [4, 3, 2, 1, 0]);

  state.now += 10 * MINUTE_MS;
  const refused = await rl.consume('key-a', 5);
  assert.deepEqual(refused, { allowed: false, limit: 5, remaining: 0, resetSeconds: 3060 });

  state.now += 3060 * 1000 - 1;
  assert.equal((await rl.consume('key-a', 5)).allowed, false);
  state.now += 1;
  assert.deepEqual(await rl.consume('key-a', 5), { allowed: true, limit: 5, remaining: 4, resetSeconds: 3660 });
});

test('no double burst at a fixed-hour edge: the next hour starts refused until the rolling hour frees slots', async () => {
  const { state, now } = clock();
  const rl = limiter(now);
  const hourStart = state.now;
  state.now = hourStart + HOUR_MS - 1000; // the last second of a fixed hour
  for (let i = 0; i < 10; i++) assert.equal((await rl.consume('k', 10)).allowed, true);

  // A fixed window would reset here and admit ten more within two seconds.
  state.now = hourStart + HOUR_MS;
  const atEdge = await rl.consume('k', 10);
  assert.equal(atEdge.allowed, false);
  assert.equal(atEdge.resetSeconds, 3600);
  state.now = hourStart + 2 * HOUR_MS - 1;
  assert.equal((await rl.consume('k', 10)).allowed, false, 'still inside the rolling hour of the burst');

  // Freed one bucket late at most: a rolling hour after the burst (plus under a minute).
  state.now = hourStart + 2 * HOUR_MS;
  assert.equal((await rl.consume('k', 10)).allowed, true);
});

test('slots come back bucket by bucket as old requests leave the window', async () => {
  const { state, now } = clock();
  const rl = limiter(now);
  const start = state.now;
  await rl.consume('k', 4);
  await rl.consume('k', 4);
  state.now = start + 30 * MINUTE_MS;
  await rl.consume('k', 4);
  await rl.consume('k', 4);
  const refused = await rl.consume('k', 4);
  assert.equal(refused.allowed, false);
  assert.equal(refused.resetSeconds, 31 * 60, 'the minute-0 bucket leaves at minute 61');

  state.now = start + 61 * MINUTE_MS;
  assert.deepEqual(await rl.consume('k', 4), { allowed: true, limit: 4, remaining: 1, resetSeconds: 30 * 60 });
  assert.equal((await rl.consume('k', 4)).remaining, 0);
  assert.equal((await rl.consume('k', 4)).allowed, false);
});

test('refused requests are not counted: a client hammering while limited still recovers', async () => {
  const { state, now } = clock();
  const rl = limiter(now);
  const start = state.now;
  for (let i = 0; i < 3; i++) await rl.consume('k', 3);
  for (let minute = 1; minute <= 60; minute++) {
    state.now = start + minute * MINUTE_MS;
    for (let i = 0; i < 50; i++) assert.equal((await rl.consume('k', 3)).allowed, false);
  }
  state.now = start + 61 * MINUTE_MS;
  assert.equal((await rl.consume('k', 3)).allowed, true);
});

test('clients are independent, and each call may carry its own limit', async () => {
  const { now } = clock();
  const rl = limiter(now);
  for (let i = 0; i < 2; i++) assert.equal((await rl.consume('a', 2)).allowed, true);
  assert.equal((await rl.consume('a', 2)).allowed, false);
  assert.equal((await rl.consume('b', 2)).remaining, 1);
  // A key whose limit was raised is judged by the new limit against what it already used.
  assert.deepEqual(await rl.consume('a', 3), { allowed: true, limit: 3, remaining: 0, resetSeconds: 3660 });
});

test('in any rolling hour no more than the limit is admitted, and a refusal is at most one bucket strict', async () => {
  const { state, now } = clock();
  const rl = limiter(now);
  const limit = 20;
  let seed = 42;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const admitted: number[] = [];
  let refused = 0;
  for (let i = 0; i < 5000; i++) {
    // Bursts and lulls: up to 4 minutes between requests, often none.
    state.now += random() < 0.7 ? 0 : Math.floor(random() * 4 * MINUTE_MS);
    const d = await rl.consume('k', limit);
    const t = state.now;
    if (d.allowed) {
      admitted.push(t);
      const inHour = admitted.filter((a) => a >= t - HOUR_MS).length;
      assert.ok(inHour <= limit, `${inHour} admitted in the rolling hour ending at ${t}`);
    } else {
      refused += 1;
      const inHourAndBucket = admitted.filter((a) => a > t - HOUR_MS - MINUTE_MS).length;
      assert.ok(inHourAndBucket >= limit, `refused with only ${inHourAndBucket} in the last hour and a minute`);
    }
  }
  assert.ok(admitted.length > 100 && refused > 100, `the schedule exercised many windows (${admitted.length} admitted, ${refused} refused)`);
});

test('a clock stepping back never loosens the limit', async () => {
  const { state, now } = clock();
  const rl = limiter(now);
  for (let i = 0; i < 3; i++) await rl.consume('k', 3);
  state.now -= 2 * HOUR_MS;
  assert.equal((await rl.consume('k', 3)).allowed, false);
});

test('idle clients are forgotten once their whole window has passed', async () => {
  const { state, now } = clock();
  const rl = limiter(now);
  const start = state.now;
  await rl.consume('idle', 10);
  state.now = start + 30 * MINUTE_MS;
  await rl.consume('busy', 10);
  assert.equal(rl.size, 2);

  state.now = start + 61 * MINUTE_MS - 1;
  assert.equal(rl.sweep(), 0, 'the idle client still has a request in its window');
  state.now = start + 61 * MINUTE_MS;
  assert.equal(rl.sweep(), 1);
  assert.equal(rl.size, 1);
  // Forgetting loses nothing: a returning client starts with what its window would hold.
  assert.equal((await rl.consume('idle', 10)).remaining, 9);
  assert.equal((await rl.consume('busy', 10)).remaining, 8);
  await rl.close();
});

test('the sweep runs by itself on a timer', async () => {
  const { state, now } = clock();
  const rl = new MemoryRateLimiter({ now, sweepIntervalMs: 20 });
  await rl.consume('k', 1);
  state.now += 2 * HOUR_MS;
  await new Promise((resolve) => setTimeout(resolve, 60));
  assert.equal(rl.size, 0);
  await rl.close();
});

test('a short window for tests and small deployments', async () => {
  const { state, now } = clock(0);
  const rl = new MemoryRateLimiter({ now, windowMs: 2000, bucketMs: 100, sweepIntervalMs: 0 });
  assert.equal((await rl.consume('k', 1)).resetSeconds, 3, '2.1 s, rounded up');
  assert.equal((await rl.consume('k', 1)).allowed, false);
  state.now = 2099;
  assert.equal((await rl.consume('k', 1)).allowed, false);
  state.now = 2100;
  assert.equal((await rl.consume('k', 1)).allowed, true);
});

test('bad limits and windows are programming errors', async () => {
  const rl = limiter(Date.now);
  await assert.rejects(rl.consume('k', 0), RangeError);
  await assert.rejects(rl.consume('k', 1.5), RangeError);
  assert.throws(() => new MemoryRateLimiter({ windowMs: 1000, bucketMs: 300 }), RangeError);
  assert.throws(() => new MemoryRateLimiter({ windowMs: 1000, bucketMs: 0 }), RangeError);
});
