/**
 * Three duckgate processes on one PostgreSQL schema (STORE_URL) and one Redis (REDIS_URL), with
 * changes carried by Redis pub/sub (CHANGE_CHANNEL defaults to redis when REDIS_URL is set): one
 * replica relays the store's changes, the others hear them from Redis. (replicas.test.ts runs the
 * same deployment on the store's own channel, PostgreSQL LISTEN/NOTIFY.)
 *
 * Printed: the cross-replica revocation latency over this channel, p50/p99 over 100 trials.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { after, before, describe, test } from 'node:test';
import { createTestSchema, postgresUnavailable, type TestSchema } from '../helpers/postgres.js';
import { runCli } from '../helpers/process.js';
import { REDIS_TEST_URL, redisUnavailable } from '../helpers/redis.js';
import { tempDir } from '../helpers/server.js';
import { call, latencyBound, loadPerCore, metric, percentile, startReplica, stopReplica, within, type Replica } from '../helpers/replicas.js';

const skip = (await postgresUnavailable()) || (await redisUnavailable());
const PASSWORD = 'replica-redis-password-1';

describe('three replicas, changes over Redis pub/sub', { skip }, () => {
  let schema: TestSchema;
  let replicas: Replica[] = [];
  let admin: string;
  const jwtSecret = randomBytes(32).toString('base64url');

  before(async () => {
    schema = await createTestSchema('replicasredis');
    const shared = {
      JWT_SECRET: jwtSecret,
      ADMIN_PASSWORD: PASSWORD,
      REDIS_URL: REDIS_TEST_URL,
      REDIS_KEY_PREFIX: `dg-replicas-redis-${randomBytes(6).toString('hex')}`,
      STORE_URL: schema.url,
    };
    replicas = await Promise.all(['r1', 'r2', 'r3'].map((name) => startReplica(name, shared)));
    const login = await call(replicas[0]!, 'POST', '/api/login', undefined, { username: 'admin', password: PASSWORD });
    assert.equal(login.status, 200, JSON.stringify(login.body));
    admin = (login.body as { token: string }).token;
    await within(15_000, async () => (await Promise.all(replicas.map((r) => metric(r, admin, 'store_change_feed_live')))).every((v) => v === 1), 'every replica live');
  });

  after(async () => {
    for (const replica of replicas) await stopReplica(replica);
    await schema?.drop();
  });

  async function createKey(on: Replica, body: Record<string, unknown> = {}): Promise<{ key: string; key_id: string }> {
    const created = await call(on, 'POST', '/api/auth/register', admin, { label: 'replica redis test', collection_permissions: { notes: ['read'] }, ...body });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    return created.body as { key: string; key_id: string };
  }

  const works = async (on: Replica, credential: string) => (await call(on, 'GET', '/api/auth/permissions', credential)).status === 200;
  const relays = async () => (await Promise.all(replicas.map(async (r) => ((r.child.exitCode === null && r.child.signalCode === null) ? metric(r, admin, 'store_change_relay') : 0)))).map(Number);

  test('exactly one replica relays', async () => {
    assert.deepEqual((await relays()).reduce((a, b) => a + b, 0), 1);
  });

  test('revoked on replica 2, a key fails on replicas 1 and 3 within 100 ms over Redis (p99 of 100 trials)', async () => {
    const [r1, r2, r3] = replicas as [Replica, Replica, Replica];
    const latencies: number[] = [];
    const load = loadPerCore();
    for (let trial = -5; trial < 100; trial++) {
      const { key, key_id } = await createKey(r1);
      assert.ok((await works(r1, key)) && (await works(r3, key)));
      assert.equal((await call(r2, 'DELETE', `/api/auth/keys/${key_id}`, admin)).status, 200);
      const measured = await Promise.all([r1, r3].map((on) => within(1000, async () => !(await works(on, key)), `revocation on ${on.name}`)));
      if (trial >= 0) latencies.push(...measured);
    }
    latencies.sort((a, b) => a - b);
    const p50 = percentile(latencies, 50);
    const p99 = percentile(latencies, 99);
    process.stdout.write(`# cross-replica revocation latency over Redis pub/sub, ${latencies.length} checks: p50 ${p50.toFixed(2)} ms, p99 ${p99.toFixed(2)} ms, max ${latencies.at(-1)!.toFixed(2)} ms (load ${load.toFixed(2)} per core)\n`);
    const bound = latencyBound();
    if (bound !== 100) process.stdout.write(`# machine overloaded (${loadPerCore().toFixed(2)} runnable per core): p99 checked against ${bound} ms instead of 100 ms\n`);
    assert.ok(p99 < bound, `p99 ${p99} ms`);
  });

  test('regenerated and re-permissioned on one replica, a key changes on the others at once', async () => {
    const [r1, r2, r3] = replicas as [Replica, Replica, Replica];
    const { key, key_id } = await createKey(r1);
    assert.ok(await works(r3, key));
    const narrowed = await call(r2, 'POST', '/api/auth/permissions', admin, { key_id, collection_permissions: { other: ['read'] } });
    assert.equal(narrowed.status, 200, JSON.stringify(narrowed.body));
    await within(latencyBound(), async () => {
      const seen = await call(r3, 'GET', '/api/auth/permissions', key);
      return JSON.stringify((seen.body as { collection_permissions?: unknown }).collection_permissions) === JSON.stringify({ other: ['read'] });
    }, 'new permissions on replica 3');
    const regenerated = await call(r2, 'POST', `/api/auth/keys/${key_id}/regenerate`, admin, {});
    assert.equal(regenerated.status, 200, JSON.stringify(regenerated.body));
    await within(latencyBound(), async () => !(await works(r1, key)) && !(await works(r3, key)), 'the old key refused on replicas 1 and 3');
    assert.ok(await works(r3, (regenerated.body as { key: string }).key));
  });

  test('a logout on replica 3 kills the session on replica 1', async () => {
    const [r1, , r3] = replicas as [Replica, Replica, Replica];
    const login = await call(r1, 'POST', '/api/login', undefined, { username: 'admin', password: PASSWORD });
    const session = (login.body as { token: string }).token;
    assert.ok(await works(r1, session));
    assert.equal((await call(r3, 'POST', '/api/logout', session)).status, 200);
    await within(latencyBound(), async () => !(await works(r1, session)), 'logout on replica 1');
  });

  test('the CLI on the store (STORE_URL, no Redis): a key it revokes is refused on every replica at once', async () => {
    const { key, key_id } = await createKey(replicas[0]!);
    assert.deepEqual(await Promise.all(replicas.map((r) => works(r, key))), [true, true, true]);
    const dataDir = tempDir('duckgate-cli-');
    const revoked = await runCli(['keys', 'revoke', key_id], { STORE_URL: schema.url, DATA_DIR: dataDir });
    assert.equal(revoked.code, 0, revoked.stderr);
    await within(latencyBound(), async () => (await Promise.all(replicas.map((r) => works(r, key)))).every((ok) => !ok), 'refused everywhere');
  });

  test('the relay killed with SIGKILL: another replica takes over, and changes reach the survivors again', async () => {
    const flags = await relays();
    const relay = replicas[flags.indexOf(1)]!;
    const survivors = replicas.filter((r) => r !== relay) as [Replica, Replica];
    const { key, key_id } = await createKey(survivors[0]);
    assert.ok(await works(survivors[1], key), 'cached on a survivor');
    relay.child.kill('SIGKILL');
    await once(relay.child, 'exit').catch(() => {});
    // Its lock expires (5 s), a survivor takes it; meanwhile the survivors read through.
    await within(20_000, async () => (await relays()).reduce((a, b) => a + b, 0) === 1, 'a new relay');
    await within(10_000, async () => (await Promise.all(survivors.map((r) => metric(r, admin, 'store_change_feed_live')))).every((v) => v === 1), 'survivors live');
    assert.ok((await metric(survivors[1], admin, 'store_change_feed_losses_total')) >= 1, 'the gap counted as a loss');
    assert.ok(await works(survivors[1], key));
    assert.equal((await call(survivors[0], 'DELETE', `/api/auth/keys/${key_id}`, admin)).status, 200);
    await within(latencyBound(), async () => !(await works(survivors[1], key)), 'revocation through the new relay');
  });

  // Last: it changes the password every session above was made with.
  test('the CLI on the store: a token it mints works on every live replica; a password it sets ends sessions everywhere', async () => {
    const live = replicas.filter((r) => r.child.exitCode === null && r.child.signalCode === null);
    assert.ok(live.length >= 2);
    const dataDir = tempDir('duckgate-cli-');
    const env = { STORE_URL: schema.url, DATA_DIR: dataDir, JWT_SECRET: jwtSecret };
    const { key_id } = await createKey(live[0]!);
    const minted = await runCli(['token', key_id, '--json'], env);
    assert.equal(minted.code, 0, minted.stderr);
    const token = (JSON.parse(minted.stdout) as { token: string }).token;
    assert.deepEqual(await Promise.all(live.map((r) => works(r, token))), live.map(() => true));
    const login = await call(live[1]!, 'POST', '/api/login', undefined, { username: 'admin', password: PASSWORD });
    const session = (login.body as { token: string }).token;
    assert.deepEqual(await Promise.all(live.map((r) => works(r, session))), live.map(() => true));
    const changed = await runCli(['admin', 'set-password', '--password-stdin'], env, 'a new replica password 42\n');
    assert.equal(changed.code, 0, changed.stderr);
    await within(latencyBound(), async () => (await Promise.all(live.map((r) => works(r, session)))).every((ok) => !ok), 'sessions ended everywhere');
    const again = await call(live[0]!, 'POST', '/api/login', undefined, { username: 'admin', password: 'a new replica password 42' });
    assert.equal(again.status, 200, JSON.stringify(again.body));
  });
});
