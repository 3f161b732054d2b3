/**
 * A server on PostgreSQL (STORE_URL) whose changes arrive over Redis pub/sub (REDIS_URL, so
 * CHANGE_CHANNEL defaults to redis), reaching Redis through a TCP proxy so the channel can be cut
 * for it alone. Changes are made by another connection to the store (what another replica or the
 * CLI does), so only the channel can tell the server about them.
 *
 * What must hold: a killed subscription (CLIENT KILL TYPE pubsub) never leaves a stale cache and
 * heals by itself; while the channel is down every check reads through to the store, and the server
 * says so in /metrics and its log; once Redis is back the channel is live again and pushes work.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { loadConfig } from '../../src/config/index.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { openControlStore, type ControlStore } from '../../src/store/index.js';
import { createTestSchema, postgresUnavailable, type TestSchema } from '../helpers/postgres.js';
import { REDIS_TEST_URL, redisUnavailable } from '../helpers/redis.js';
import { ADMIN_KEY, tempDir } from '../helpers/server.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';

const skip = (await postgresUnavailable()) || (await redisUnavailable());

async function until(what: string, check: () => Promise<boolean>, ms: number): Promise<number> {
  const start = performance.now();
  while (!(await check())) {
    if (performance.now() - start > ms) assert.fail(`${what}: not within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return performance.now() - start;
}

describe('change channel over Redis: a lost subscription reads through, says so, and heals', { skip }, () => {
  let schema: TestSchema;
  let proxy: TcpProxy;
  let server: RunningServer;
  let cli: ControlStore;
  let redisAdmin: Redis;
  const dataDirs: string[] = [];
  const logLines: string[] = [];
  const prefix = `dg-chan-${randomBytes(6).toString('hex')}`;

  before(async () => {
    schema = await createTestSchema('redischan');
    const redisPort = Number(new URL(REDIS_TEST_URL).port || 6379);
    proxy = await startTcpProxy(redisPort, new URL(REDIS_TEST_URL).hostname);
    const dataDir = tempDir('duckgate-redis-channel-');
    dataDirs.push(dataDir, tempDir('duckgate-redis-channel-cli-'));
    const config = loadConfig({
      PORT: '0',
      DATA_DIR: dataDir,
      ADMIN_API_KEY: ADMIN_KEY,
      ADMIN_PASSWORD: 'redis-channel-password-1',
      STORE_URL: schema.url,
      REDIS_URL: `redis://127.0.0.1:${proxy.port}`,
      REDIS_KEY_PREFIX: prefix,
      LOG_LEVEL: 'warn',
    });
    assert.equal(config.changeChannel, 'redis', 'REDIS_URL set: the channel is Redis by default');
    server = await startServer(config, { log: true, logDestination: { write: (line) => void logLines.push(line) }, announce: () => {} });
    cli = await openControlStore({ dataDir: dataDirs[1]!, storeUrl: schema.url });
    redisAdmin = new Redis(REDIS_TEST_URL);
    await until('channel live', async () => (await metric('store_change_feed_live')) === 1, 10_000);
  });

  after(async () => {
    await server?.close();
    await cli?.close();
    redisAdmin?.disconnect();
    await proxy?.close();
    await schema?.drop();
    for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
  });

  async function metric(name: string): Promise<number> {
    const text = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } }).then((r) => r.text());
    const match = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
    return match ? Number(match[1]) : NaN;
  }

  async function createKey(): Promise<{ key: string; key_id: string }> {
    const response = await fetch(`${server.url}/api/auth/register`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ label: 'channel test', collection_permissions: { notes: ['read'] } }),
    });
    assert.equal(response.status, 201);
    return (await response.json()) as { key: string; key_id: string };
  }

  const status = async (key: string) => (await fetch(`${server.url}/api/auth/permissions`, { headers: { authorization: `Bearer ${key}` } })).status;

  test('a revocation by another process arrives over Redis', async () => {
    const { key, key_id } = await createKey();
    assert.equal(await status(key), 200, 'cached');
    await cli.keys.revokeKey(key_id);
    await until('refused', async () => (await status(key)) === 401, 2000);
  });

  test('CLIENT KILL TYPE pubsub on its subscription: never a stale cache, a loss in /metrics and the log, live again by itself', async () => {
    const lossesBefore = await metric('store_change_feed_losses_total');
    const { key, key_id } = await createKey();
    assert.equal(await status(key), 200, 'cached');
    const list = String(await redisAdmin.call('CLIENT', 'LIST', 'TYPE', 'pubsub'));
    const id = list.split('\n').find((line) => line.includes(` name=${prefix}:changes `))?.match(/\bid=(\d+)/)?.[1];
    assert.ok(id, list);
    assert.equal(await redisAdmin.call('CLIENT', 'KILL', 'TYPE', 'pubsub', 'ID', id), 1);
    // Revoked behind its back while its subscription is down: the announcement is missed, yet the
    // key is refused (read through while lost, every cache dropped when it resumes).
    await cli.keys.revokeKey(key_id);
    await until('the revoked key refused', async () => (await status(key)) === 401, 3000);
    await until('live again, the loss counted', async () => (await metric('store_change_feed_live')) === 1 && (await metric('store_change_feed_losses_total')) > lossesBefore, 10_000);
    assert.ok(logLines.some((line) => line.includes('control store change feed lost')), logLines.join(''));
    // Pushes work again.
    const other = await createKey();
    assert.equal(await status(other.key), 200);
    await cli.keys.revokeKey(other.key_id);
    await until('refused after the reconnect', async () => (await status(other.key)) === 401, 2000);
  });

  test('Redis cut off: every check reads through to the store (metrics say 0) until it is back, then caches again', async () => {
    const { key, key_id } = await createKey();
    assert.equal(await status(key), 200, 'cached');
    const losses = await metric('store_change_feed_losses_total');
    proxy.cut();
    try {
      await until('the channel reported lost', async () => (await metric('store_change_feed_live')) === 0, 10_000);
      assert.equal(await metric('store_change_feed_losses_total'), losses + 1);
      // No channel can tell it now: only reading through to the store refuses this key at once.
      await cli.keys.revokeKey(key_id);
      assert.equal(await status(key), 401);
      // The store is fine, so everything else keeps working (limits count in memory meanwhile).
      const fresh = await createKey();
      assert.equal(await status(fresh.key), 200);
    } finally {
      proxy.restore();
    }
    await until('live again', async () => (await metric('store_change_feed_live')) === 1, 15_000);
    assert.ok(logLines.some((line) => line.includes('control store change feed back')), logLines.join(''));
    const other = await createKey();
    assert.equal(await status(other.key), 200);
    await cli.keys.revokeKey(other.key_id);
    await until('a push after Redis came back', async () => (await status(other.key)) === 401, 2000);
  });
});
