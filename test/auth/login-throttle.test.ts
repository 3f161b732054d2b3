/**
 * The login throttle on its own (rate-limiter-flexible in memory, and in the real Redis when it
 * runs): growing delays per username and IP, the per-IP and per-account caps, and the exemption
 * that keeps a stranger from locking the real admin out of a known address.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { limiterBackend, type LimiterBackend } from '../../src/auth/limiter-backend.js';
import { LoginThrottle, type LoginAdmission, type LoginThrottleLimits, type LoginThrottleOptions } from '../../src/auth/login-throttle.js';
import { SqliteAccountStore } from '../../src/store/sqlite-accounts.js';
import { connectRedis, deleteKeys, redisUnavailable, uniquePrefix } from '../helpers/redis.js';
import { tempDir } from '../helpers/server.js';

const LOOSE: Partial<LoginThrottleLimits> = { perIp: 1000, perAccount: 1000 };

const stores: SqliteAccountStore[] = [];
after(async () => {
  for (const store of stores) await store.close();
});

/** A control-plane store of its own, in a fresh directory (the known addresses live there). */
function openStore(file = path.join(tempDir(), 'control.sqlite')): SqliteAccountStore {
  const store = new SqliteAccountStore(file);
  stores.push(store);
  return store;
}

/** A throttle on a fresh store. */
function throttleWith(options: Omit<LoginThrottleOptions, 'knownAddresses'>): LoginThrottle {
  return new LoginThrottle({ knownAddresses: openStore(), ...options });
}

/** One whole attempt: admitted or not, and if admitted, finished with `succeeded`. */
async function attempt(throttle: LoginThrottle, username: string, ip: string, succeeded: boolean): Promise<LoginAdmission> {
  const admission = await throttle.begin(username, ip);
  if (admission.allowed) await throttle.finish(admission.ticket, succeeded);
  return admission;
}

/** The same behaviours on each limiter backend: counts in memory, and counts in the real Redis. */
const redisSkip = await redisUnavailable();
const sharedRedis = redisSkip ? undefined : await connectRedis();
const redisPrefix = uniquePrefix('login-suite');
let namespaces = 0;
after(async () => {
  if (!sharedRedis) return;
  await deleteKeys(sharedRedis, redisPrefix);
  sharedRedis.disconnect();
});
const BACKENDS: { name: string; skip: string | false; make: () => LimiterBackend }[] = [
  { name: 'memory', skip: false, make: () => limiterBackend() },
  { name: 'redis', skip: redisSkip, make: () => limiterBackend({ redis: sharedRedis, keyPrefix: `${redisPrefix}${++namespaces}` }) },
];

for (const backend of BACKENDS) {
  describe(`login throttle: ${backend.name}`, { skip: backend.skip }, () => {
    const throttleWith = (options: Omit<LoginThrottleOptions, 'knownAddresses'>): LoginThrottle =>
      new LoginThrottle({ knownAddresses: openStore(), backend: backend.make(), ...options });

    test('three free failures, then each attempt waits longer: 1 s, 2 s, 4 s', async () => {
      const throttle = throttleWith({ limits: LOOSE });
      for (let i = 0; i < 2; i++) assert.equal((await attempt(throttle, 'admin', '203.0.113.1', false)).allowed, true);
      // The third failure starts the delays.
      assert.equal((await attempt(throttle, 'admin', '203.0.113.1', false)).allowed, true);
      const first = await throttle.begin('admin', '203.0.113.1');
      assert.deepEqual(first, { allowed: false, retryAfterSeconds: 1 });

      await new Promise((resolve) => setTimeout(resolve, 1050));
      assert.equal((await attempt(throttle, 'admin', '203.0.113.1', false)).allowed, true, 'allowed once the delay passed');
      const second = await throttle.begin('admin', '203.0.113.1');
      assert.equal(second.allowed, false);
      assert.equal(!second.allowed && second.retryAfterSeconds, 2);

      // Someone else, and the same person from another address, are not delayed.
      assert.equal((await throttle.begin('admin', '203.0.113.2')).allowed, true);
      assert.equal((await throttle.begin('other', '203.0.113.1')).allowed, true);
    });

    test('the delay is capped', async () => {
      const throttle = throttleWith({ limits: { ...LOOSE, freeAttempts: 1, maxDelaySeconds: 2 } });
      // Failures 1..4 would wait 1, 2, 4, 8 s; every wait is capped at 2.
      for (let failures = 0; failures < 4;) {
        const admission = await attempt(throttle, 'admin', '203.0.113.3', false);
        if (admission.allowed) failures++;
        else {
          assert.ok(admission.retryAfterSeconds <= 2, `waited ${admission.retryAfterSeconds}`);
          await new Promise((resolve) => setTimeout(resolve, admission.retryAfterSeconds * 1000 + 20));
        }
      }
      const blocked = await throttle.begin('admin', '203.0.113.3');
      assert.equal(blocked.allowed, false);
      assert.equal(!blocked.allowed && blocked.retryAfterSeconds, 2);
    });

    test('a success clears the delays of its username and address', async () => {
      const throttle = throttleWith({ limits: LOOSE });
      for (let i = 0; i < 2; i++) await attempt(throttle, 'admin', '203.0.113.4', false);
      assert.equal((await attempt(throttle, 'admin', '203.0.113.4', true)).allowed, true);
      for (let i = 0; i < 2; i++) assert.equal((await attempt(throttle, 'admin', '203.0.113.4', false)).allowed, true, 'counting starts again');
    });

    test('one attempt per username and address at a time', async () => {
      const throttle = throttleWith({ limits: LOOSE });
      const first = await throttle.begin('admin', '203.0.113.5');
      assert.equal(first.allowed, true);
      assert.deepEqual(await throttle.begin('admin', '203.0.113.5'), { allowed: false, retryAfterSeconds: 1 });
      if (first.allowed) await throttle.finish(first.ticket, false);
      assert.equal((await throttle.begin('admin', '203.0.113.5')).allowed, true);
    });

    test('per IP: past the cap, every username from that address is refused', async () => {
      const throttle = throttleWith({ limits: { perIp: 5, perAccount: 1000, freeAttempts: 1000 } });
      for (let i = 0; i < 5; i++) assert.equal((await attempt(throttle, `user${i}`, '203.0.113.6', false)).allowed, true);
      const refused = await throttle.begin('someone-else', '203.0.113.6');
      assert.equal(refused.allowed, false);
      assert.ok(!refused.allowed && refused.retryAfterSeconds > 800, 'until the 15-minute window ends');
      assert.equal((await throttle.begin('someone-else', '203.0.113.7')).allowed, true);
    });

    test('per account: a botnet of fresh addresses gets no more than the cap, even in parallel', async () => {
      const throttle = throttleWith({ limits: { perIp: 1000, perAccount: 20, freeAttempts: 1000 } });
      const admissions = await Promise.all(Array.from({ length: 60 }, (_, i) => throttle.begin('admin', `198.51.100.${i + 1}`)));
      assert.equal(admissions.filter((a) => a.allowed).length, 20, 'points are taken before the password is checked');
      for (const admission of admissions) if (admission.allowed) await throttle.finish(admission.ticket, false);
      // The account cap (20 per 15 minutes) keeps any hour to at most 80 + 20 = 100 failures.
      assert.equal((await throttle.begin('admin', '198.51.100.200')).allowed, false);
    });

    test('an address the admin signed in from before is exempt from the account cap', async () => {
      const throttle = throttleWith({ limits: { perIp: 1000, perAccount: 3, freeAttempts: 1000 } });
      assert.equal((await attempt(throttle, 'admin', '192.0.2.10', true)).allowed, true, 'the real admin, earlier');
      for (let i = 0; i < 3; i++) await attempt(throttle, 'admin', `198.51.100.${i + 1}`, false);
      assert.equal((await throttle.begin('admin', '198.51.100.99')).allowed, false, 'a stranger is refused');
      assert.equal((await attempt(throttle, 'admin', '192.0.2.10', true)).allowed, true, 'the admin still gets in');
    });

    test('known addresses are kept in the store: a restarted throttle still exempts them', async () => {
      const file = path.join(tempDir(), 'control.sqlite');
      const limits = { perIp: 1000, perAccount: 20, freeAttempts: 1000 };
      const before = new LoginThrottle({ knownAddresses: openStore(file), limits });
      assert.equal((await attempt(before, 'admin', '192.0.2.11', true)).allowed, true, 'the real admin, before the restart');
      // A new process: fresh counters, the same store.
      const restarted = new LoginThrottle({ knownAddresses: openStore(file), limits });
      for (let i = 1; i <= 21; i++) await attempt(restarted, 'admin', `198.51.100.${i}`, false);
      assert.equal((await restarted.begin('admin', '198.51.100.99')).allowed, false, 'a stranger is refused');
      assert.equal((await attempt(restarted, 'admin', '192.0.2.11', true)).allowed, true, 'the admin still gets in at the usual address');
    });

    test('without the store, the exemption is not granted: the cap applies as to a stranger', async () => {
      const store = openStore();
      const errors: unknown[] = [];
      const throttle = new LoginThrottle({ knownAddresses: store, limits: { perIp: 1000, perAccount: 2, freeAttempts: 1000 }, onError: (e) => errors.push(e) });
      assert.equal((await attempt(throttle, 'admin', '192.0.2.13', true)).allowed, true);
      for (let i = 1; i <= 2; i++) await attempt(throttle, 'admin', `198.51.100.${i}`, false);
      await store.close();
      assert.equal((await throttle.begin('admin', '192.0.2.13')).allowed, false, 'refused, not let through');
      assert.equal(errors.length, 1, 'and the failure reported');
    });

    test('a known address expires after knownAddressDays, and each account keeps at most 100', async () => {
      const store = openStore();
      const day = 86_400_000;
      const retention = { since: new Date(Date.now() - 30 * day).toISOString(), maxPerAccount: 100 };
      await store.rememberLoginAddress('admin', '192.0.2.12', new Date(Date.now() - 31 * day).toISOString(), retention);
      assert.equal(await store.isKnownLoginAddress('admin', '192.0.2.12', retention.since), false, 'seen 31 days ago: no longer known');
      for (let i = 0; i < 105; i++) await store.rememberLoginAddress('admin', `10.0.${i >> 8}.${i & 255}`, new Date(Date.now() - (105 - i) * 1000).toISOString(), retention);
      assert.equal(await store.isKnownLoginAddress('admin', '10.0.0.0', retention.since), false, 'the oldest ones went');
      assert.equal(await store.isKnownLoginAddress('admin', '10.0.0.104', retention.since), true);
      assert.equal(await store.isKnownLoginAddress('someone-else', '10.0.0.104', retention.since), false, 'per account');
    });

    test('a success gives the IP and account points back', async () => {
      const throttle = throttleWith({ limits: { perIp: 2, perAccount: 2, freeAttempts: 1000 } });
      for (let i = 0; i < 5; i++) assert.equal((await attempt(throttle, 'admin', '192.0.2.20', true)).allowed, true);
    });

    test('IPv6 addresses of one /64 share their counts', async () => {
      const throttle = throttleWith({ limits: { perIp: 2, perAccount: 1000, freeAttempts: 1000 } });
      await attempt(throttle, 'a', '2001:db8:1:2::1', false);
      await attempt(throttle, 'b', '2001:db8:1:2::2', false);
      assert.equal((await throttle.begin('c', '2001:db8:1:2:ffff::3')).allowed, false);
      assert.equal((await throttle.begin('c', '2001:db8:1:3::1')).allowed, true);
    });
  });
}

describe('login throttle on Redis', async () => {
  const skip = await redisUnavailable();

  test('two processes share the account cap', { skip }, async () => {
    const [redis, other] = [await connectRedis(), await connectRedis()];
    try {
      const keyPrefix = uniquePrefix('login');
      const limits = { perIp: 1000, perAccount: 4, freeAttempts: 1000 };
      const one = throttleWith({ limits, backend: limiterBackend({ redis, keyPrefix }) });
      const two = throttleWith({ limits, backend: limiterBackend({ redis: other, keyPrefix }) });
      for (let i = 0; i < 2; i++) assert.equal((await attempt(one, 'admin', `198.51.100.${i + 1}`, false)).allowed, true);
      for (let i = 2; i < 4; i++) assert.equal((await attempt(two, 'admin', `198.51.100.${i + 1}`, false)).allowed, true);
      assert.equal((await one.begin('admin', '198.51.100.50')).allowed, false);
      assert.equal((await two.begin('admin', '198.51.100.51')).allowed, false);
    } finally {
      redis.disconnect();
      other.disconnect();
    }
  });
});
