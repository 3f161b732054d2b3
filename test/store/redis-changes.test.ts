/**
 * The Redis change channel (CHANGE_CHANNEL=redis) on a real Redis, over a real store (SQLite here;
 * the PostgreSQL feed it relays has its own suite, and test/replicas/ runs the whole on PostgreSQL):
 * one relay among the replicas, every change made through the store by anyone reaches every
 * subscriber named; a subscription killed on the Redis side (CLIENT KILL TYPE pubsub) is a loss,
 * recovered by itself; a relay that dies is replaced, and its subscribers start over.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { generateApiKey } from '../../src/auth/api-key.js';
import { openControlStore, type ControlStore } from '../../src/store/index.js';
import type { ChangeListener, ControlChange } from '../../src/store/changes.js';
import type { NewKey } from '../../src/store/key-store.js';
import { RedisChangeFeed } from '../../src/store/redis-changes.js';
import { REDIS_TEST_URL, connectRedis, redisUnavailable, uniquePrefix } from '../helpers/redis.js';
import { tempDir } from '../helpers/server.js';
import { rmSync } from 'node:fs';

const skip = await redisUnavailable();
const TIMING = { heartbeatMs: 100, silenceMs: 800, lockMs: 1000, reconnectMs: 50 };

function newKey(id: string): NewKey {
  const { hash, prefix } = generateApiKey();
  return { id, hash, prefix, label: id, description: '', isAdmin: false, permissions: {}, expiresAt: null, rateLimit: null, allowedIps: null, createdBy: 'test' };
}

function recorder() {
  const heard: (ControlChange | 'lost' | 'resumed')[] = [];
  const listener: ChangeListener = {
    changed: (change) => heard.push(change),
    lost: () => heard.push('lost'),
    resumed: () => heard.push('resumed'),
  };
  return { heard, listener };
}

async function until(what: string, check: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`${what}: not within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('change channel over Redis pub/sub', { skip }, () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  /** A store and a prefix shared by the replicas `replica()` makes. */
  async function deployment() {
    const dataDir = tempDir('duckgate-redis-changes-');
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
    const keyPrefix = uniquePrefix('changes').replace(/:$/, '');
    const open = async (): Promise<ControlStore> => {
      const store = await openControlStore({ dataDir });
      cleanups.push(() => store.close());
      return store;
    };
    const replica = async () => {
      const store = await open();
      const redis = await connectRedis();
      const feed = new RedisChangeFeed({ redis, source: store.changes, keyPrefix, ...TIMING });
      cleanups.push(() => redis.disconnect(), () => feed.close());
      const heard = recorder();
      feed.watch(heard.listener);
      return { store, redis, feed, heard };
    };
    return { keyPrefix, open, replica };
  }

  test('one replica relays; a change made through the store by anyone reaches every subscriber, named', async () => {
    const { open, replica } = await deployment();
    const a = await replica();
    const b = await replica();
    await until('both live', () => a.feed.isLive && b.feed.isLive);
    assert.equal(Number(a.feed.isRelay) + Number(b.feed.isRelay), 1, 'exactly one relay');
    assert.deepEqual(a.heard.heard.slice(0, 2), ['lost', 'resumed'], 'not trusted before it is live');
    // The CLI's view: it knows nothing of Redis, yet its changes are announced.
    const cli = await open();
    await cli.keys.createKey(newKey('key_r'));
    await cli.keys.revokeKey('key_r');
    const expiresAt = '2035-06-07T08:09:10.123Z';
    await cli.accounts.revokeToken({ jti: 'jti-r', expiresAt });
    for (const { heard } of [a, b]) {
      await until('changes heard', () => heard.heard.some((h) => typeof h === 'object' && h.kind === 'token'));
      const changes = heard.heard.filter((h) => typeof h === 'object');
      assert.ok(changes.some((c) => c.kind === 'key' && c.keyId === 'key_r'), JSON.stringify(changes));
      assert.deepEqual(changes.at(-1), { kind: 'token', jti: 'jti-r', expiresAt });
    }
  });

  test('a subscription killed by Redis (CLIENT KILL TYPE pubsub) is a loss, recovered by itself; the others stay live', async () => {
    const { keyPrefix, open, replica } = await deployment();
    const a = await replica();
    const b = await replica();
    await until('both live', () => a.feed.isLive && b.feed.isLive);
    const admin = await connectRedis();
    cleanups.push(() => admin.disconnect());
    // Only this deployment's subscriptions (named after the channel), not other tests' on this Redis.
    const list = String(await admin.call('CLIENT', 'LIST', 'TYPE', 'pubsub'));
    const ids = list.split('\n').filter((line) => line.includes(` name=${keyPrefix}:changes `)).map((line) => /\bid=(\d+)/.exec(line)![1]!);
    assert.equal(ids.length, 2, list);
    const bBefore = b.heard.heard.length;
    const killed = await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub', 'ID', ids[0]!);
    assert.equal(killed, 1);
    const lostOne = () => [a, b].find((r) => r.heard.heard.slice(2).includes('lost'));
    await until('a loss heard', () => lostOne() !== undefined);
    const hit = lostOne()!;
    const other = hit === a ? b : a;
    await until('live again by itself', () => hit.feed.isLive && hit.heard.heard.at(-1) === 'resumed');
    assert.deepEqual(hit.heard.heard.slice(2), ['lost', 'resumed']);
    assert.ok(other.feed.isLive);
    assert.ok(!other.heard.heard.slice(other === b ? bBefore : 2).includes('lost'), JSON.stringify(other.heard.heard));
    // And changes reach it again.
    const cli = await open();
    await cli.keys.createKey(newKey('key_after_kill'));
    await until('change after recovery', () => hit.heard.heard.some((h) => typeof h === 'object' && h.kind === 'key' && h.keyId === 'key_after_kill'));
  });

  test('a relay that dies is replaced once its lock expires; its subscribers lose the channel, then start over', async () => {
    const { open, replica } = await deployment();
    const a = await replica();
    await until('a live and relaying', () => a.feed.isLive && a.feed.isRelay);
    const b = await replica();
    await until('b live', () => b.feed.isLive);
    assert.equal(b.feed.isRelay, false);
    const before = b.heard.heard.length;
    // The relay's connection to Redis dies (its process is gone or cut off): no release of the lock.
    a.redis.disconnect();
    await until('b relays', () => b.feed.isRelay, 10_000);
    await until('b live again', () => b.feed.isLive && b.heard.heard.at(-1) === 'resumed', 10_000);
    assert.deepEqual(b.heard.heard.slice(before), ['lost', 'resumed'], 'a loss, then a fresh start');
    const cli = await open();
    await cli.keys.createKey(newKey('key_new_relay'));
    await until('change through the new relay', () => b.heard.heard.some((h) => typeof h === 'object' && h.kind === 'key' && h.keyId === 'key_new_relay'));
  });

  test('the relay lock is released on close, so a successor does not wait for it to expire', async () => {
    const { keyPrefix, replica } = await deployment();
    const a = await replica();
    await until('a relaying', () => a.feed.isRelay);
    await a.feed.close();
    const probe = new Redis(REDIS_TEST_URL);
    cleanups.push(() => probe.disconnect());
    assert.equal(await probe.get(`${keyPrefix}:changes:relay`), null);
  });
});
