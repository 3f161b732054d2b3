import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import type { SlotOutcome } from '../../src/auth/in-flight.js';
import { MemoryInFlightLimiter } from '../../src/auth/in-flight-memory.js';

const far = () => performance.now() + 60_000;

function granted(outcome: SlotOutcome): () => void {
  if (!outcome.granted) assert.fail(`expected a slot, got ${JSON.stringify(outcome)}`);
  return () => outcome.release();
}

test('a client gets its slots at once, then waits in a short queue, then is refused', async () => {
  const limiter = new MemoryInFlightLimiter({ maxInFlight: 2, maxQueued: 1 });
  const a = granted(await limiter.acquire('client-a', { deadline: far() }));
  granted(await limiter.acquire('client-a', { deadline: far() }));
  const queued = limiter.acquire('client-a', { deadline: far() });
  assert.deepEqual(await limiter.acquire('client-a', { deadline: far() }), { granted: false, reason: 'queue_full' });
  granted(await limiter.acquire('client-b', { deadline: far() }));
  assert.deepEqual({ ...limiter.stats(), refused: undefined }, { inFlight: 3, queued: 1, clients: 2, granted: 3, grantedAfterWait: 0, refused: undefined });

  a();
  const next = await queued;
  assert.ok(next.granted && next.waitedMs > 0, 'the released slot went to the waiting request');
  assert.equal(limiter.stats().inFlight, 3);
  assert.equal(limiter.stats().queued, 0);
  assert.equal(limiter.stats().refused.queue_full, 1);
});

test('waiters are served in arrival order, and release is idempotent', async () => {
  const limiter = new MemoryInFlightLimiter({ maxInFlight: 1, maxQueued: 3 });
  const first = granted(await limiter.acquire('c', { deadline: far() }));
  const order: number[] = [];
  const waiting = [1, 2, 3].map((n) => Promise.resolve(limiter.acquire('c', { deadline: far() })).then((outcome) => {
    order.push(n);
    return granted(outcome);
  }));
  first();
  first();
  assert.equal(limiter.stats().inFlight, 1, 'a second release of the same slot changes nothing');
  (await waiting[0]!)();
  (await waiting[1]!)();
  (await waiting[2]!)();
  assert.deepEqual(order, [1, 2, 3]);
  assert.deepEqual({ inFlight: limiter.stats().inFlight, clients: limiter.stats().clients }, { inFlight: 0, clients: 0 }, 'an idle client leaves nothing behind');
});

test('a waiter is refused at its deadline and its queue place freed', async () => {
  const limiter = new MemoryInFlightLimiter({ maxInFlight: 1, maxQueued: 1 });
  const held = granted(await limiter.acquire('c', { deadline: far() }));
  const started = performance.now();
  assert.deepEqual(await limiter.acquire('c', { deadline: performance.now() + 40 }), { granted: false, reason: 'deadline' });
  assert.ok(performance.now() - started >= 35);
  assert.deepEqual(await limiter.acquire('c', { deadline: performance.now() - 1 }), { granted: false, reason: 'deadline' }, 'already past: refused without waiting');
  const again = limiter.acquire('c', { deadline: far() });
  held();
  granted(await again);
  assert.equal(limiter.stats().refused.deadline, 2);
});

test('a waiter whose client left is refused and does not take the next slot', async () => {
  const limiter = new MemoryInFlightLimiter({ maxInFlight: 1, maxQueued: 2 });
  const held = granted(await limiter.acquire('c', { deadline: far() }));
  const gone = new AbortController();
  const leaving = limiter.acquire('c', { deadline: far(), signal: gone.signal });
  const staying = limiter.acquire('c', { deadline: far() });
  gone.abort();
  assert.deepEqual(await leaving, { granted: false, reason: 'aborted' });
  held();
  granted(await staying);
  assert.deepEqual(await limiter.acquire('c', { deadline: far(), signal: AbortSignal.abort() }), { granted: false, reason: 'aborted' });
});

test('close refuses every waiter; granted slots stay valid', async () => {
  const limiter = new MemoryInFlightLimiter({ maxInFlight: 1, maxQueued: 5 });
  const held = granted(await limiter.acquire('c', { deadline: far() }));
  const waiters = [limiter.acquire('c', { deadline: far() }), limiter.acquire('c', { deadline: far() })];
  limiter.close();
  for (const waiter of waiters) assert.deepEqual(await waiter, { granted: false, reason: 'aborted' });
  held();
  assert.equal(limiter.stats().clients, 0);
  await sleep(0);
});

test('settings are checked', () => {
  assert.throws(() => new MemoryInFlightLimiter({ maxInFlight: 0, maxQueued: 1 }), RangeError);
  assert.throws(() => new MemoryInFlightLimiter({ maxInFlight: 1, maxQueued: -1 }), RangeError);
});
