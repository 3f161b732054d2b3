/**
 * Three duckgate processes behind no load balancer but one PostgreSQL schema (STORE_URL) and one
 * Redis prefix (REDIS_URL), each with its own DATA_DIR (DuckDB is not shared yet): what one replica
 * changes holds on the others at once. Replica 3 reaches PostgreSQL through a TCP proxy, so its
 * store can be cut off without touching anyone else's.
 *
 * The cross-replica revocation latency (p50/p99 over 100 trials) is printed; the p99 must stay
 * under 100 ms.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { after, before, describe, test } from 'node:test';
import { adminQuery, createTestSchema, postgresUnavailable, type TestSchema } from '../helpers/postgres.js';
import { REDIS_TEST_URL, redisUnavailable } from '../helpers/redis.js';
import { call, latencyBound, loadPerCore, percentile, startReplica, stopReplica, within, type Replica } from '../helpers/replicas.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';

const skip = (await postgresUnavailable()) || (await redisUnavailable());
const PASSWORD = 'replica-test-password-1';

describe('three replicas on one PostgreSQL store and one Redis', { skip }, () => {
  let schema: TestSchema;
  let proxy: TcpProxy;
  let replicas: Replica[] = [];
  let r1: Replica;
  let r2: Replica;
  let r3: Replica;
  let admin: string;

  before(async () => {
    schema = await createTestSchema('replicas');
    proxy = await startTcpProxy(5432);
    const shared = {
      JWT_SECRET: randomBytes(32).toString('base64url'),
      ADMIN_PASSWORD: PASSWORD,
      REDIS_URL: REDIS_TEST_URL,
      REDIS_KEY_PREFIX: `dg-replicas-${randomBytes(6).toString('hex')}`,
      // The store's own channel (LISTEN/NOTIFY): replicas-redis-channel.test.ts runs the Redis one.
      CHANGE_CHANNEL: 'store',
    };
    const viaProxy = schema.url.replace('127.0.0.1:5432', `127.0.0.1:${proxy.port}`);
    // All three at the same moment, on an empty schema: migrations and the first admin key race.
    replicas = await Promise.all([
      startReplica('r1', { ...shared, STORE_URL: `${schema.url}&application_name=dg-r1` }),
      startReplica('r2', { ...shared, STORE_URL: `${schema.url}&application_name=dg-r2` }),
      startReplica('r3', { ...shared, STORE_URL: `${viaProxy}&application_name=dg-r3` }),
    ]);
    [r1, r2, r3] = replicas as [Replica, Replica, Replica];
    const login = await call(r1, 'POST', '/api/login', undefined, { username: 'admin', password: PASSWORD });
    assert.equal(login.status, 200, JSON.stringify(login.body));
    admin = (login.body as { token: string }).token;
  });

  after(async () => {
    for (const replica of replicas) await stopReplica(replica);
    await proxy?.close();
    await schema?.drop();
  });

  async function createKey(on: Replica, body: Record<string, unknown> = {}): Promise<{ key: string; key_id: string }> {
    const created = await call(on, 'POST', '/api/auth/register', admin, { label: 'replica test', collection_permissions: { notes: ['read'] }, ...body });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    return created.body as { key: string; key_id: string };
  }

  const works = async (on: Replica, credential: string) => (await call(on, 'GET', '/api/auth/permissions', credential)).status === 200;

  test('three replicas starting at once on an empty store create one first admin key', () => {
    const banners = replicas.filter((r) => r.output().includes('An admin API key was generated'));
    assert.equal(banners.length, 1, replicas.map((r) => r.output()).join('\n---\n'));
  });

  test('a key created on replica 1 works on replicas 2 and 3 at once', async () => {
    const { key } = await createKey(r1);
    assert.deepEqual(await Promise.all([works(r2, key), works(r3, key)]), [true, true]);
  });

  test('revoked on replica 2, a key fails on replicas 1 and 3 within 100 ms (p99 of 100 trials)', async () => {
    const latencies: number[] = [];
    const load = loadPerCore();
    for (let trial = -5; trial < 100; trial++) {
      const { key, key_id } = await createKey(r1);
      // Cached on both: only the push can make them refuse it.
      assert.ok((await works(r1, key)) && (await works(r3, key)));
      assert.equal((await call(r2, 'DELETE', `/api/auth/keys/${key_id}`, admin)).status, 200);
      const measured = await Promise.all([r1, r3].map((on) => within(1000, async () => !(await works(on, key)), `revocation on ${on.name}`)));
      // The first few warm the replicas up (JIT, connections); they are not counted.
      if (trial >= 0) latencies.push(...measured);
    }
    latencies.sort((a, b) => a - b);
    const p50 = percentile(latencies, 50);
    const p99 = percentile(latencies, 99);
    process.stdout.write(`# cross-replica revocation latency over ${latencies.length} checks: p50 ${p50.toFixed(2)} ms, p99 ${p99.toFixed(2)} ms, max ${latencies[latencies.length - 1]!.toFixed(2)} ms (load ${load.toFixed(2)} per core)\n`);
    // Each check is a whole HTTP request to a replica, so on a machine whose cores are already
    // oversubscribed the tail is CPU scheduling, not the push: there the bound is relaxed, and says so.
    const bound = latencyBound();
    if (bound !== 100) process.stdout.write(`# machine overloaded (${load.toFixed(2)} runnable per core): p99 checked against ${bound} ms instead of 100 ms\n`);
    assert.ok(p99 < bound, `p99 ${p99} ms`);
  });

  test('a logout on replica 3 kills the session and an exchanged token on replica 1', async () => {
    const login = await call(r1, 'POST', '/api/login', undefined, { username: 'admin', password: PASSWORD });
    const session = (login.body as { token: string }).token;
    const { key } = await createKey(r1);
    const exchanged = await call(r1, 'POST', '/api/auth/token', undefined, { api_key: key });
    assert.equal(exchanged.status, 200, JSON.stringify(exchanged.body));
    const token = (exchanged.body as { token: string }).token;
    for (const credential of [session, token]) {
      assert.ok(await works(r1, credential), 'works before');
      assert.equal((await call(r3, 'POST', '/api/logout', credential)).status, 200);
      await within(latencyBound(), async () => !(await works(r1, credential)), 'logout on replica 1');
    }
  });

  test('concurrent revocations of every admin key from all three replicas never leave zero admins', async () => {
    for (let i = 0; i < 3; i++) await createKey(r1, { is_admin: true });
    const listed = await call(r1, 'GET', '/api/auth/keys', admin);
    const adminIds = (listed.body as { key_id: string; is_admin: boolean }[]).filter((k) => k.is_admin).map((k) => k.key_id);
    assert.ok(adminIds.length >= 4, JSON.stringify(listed.body));
    const outcomes = await Promise.all(adminIds.map((id, i) => call(replicas[i % 3]!, 'DELETE', `/api/auth/keys/${id}`, admin)));
    const statuses = outcomes.map((o) => o.status).sort();
    assert.deepEqual(statuses, [...Array(adminIds.length - 1).fill(200), 409], JSON.stringify(outcomes));
    const left = (await call(r2, 'GET', '/api/auth/keys', admin)).body as { is_admin: boolean }[];
    assert.equal(left.filter((k) => k.is_admin).length, 1);
  });

  test('a shared rate limit of N admits exactly N across the three replicas', async () => {
    const N = 30;
    const { key } = await createKey(r1, { rate_limit: N });
    const answers = await Promise.all(Array.from({ length: 3 * N }, (_, i) => call(replicas[i % 3]!, 'GET', '/api/auth/permissions', key)));
    const admitted = answers.filter((a) => a.status === 200).length;
    assert.equal(admitted, N, JSON.stringify(answers.map((a) => a.status)));
    assert.equal(answers.filter((a) => a.status === 429).length, 2 * N);
  });

  test('a replica whose PostgreSQL connections are terminated recovers by itself, feed included', async () => {
    const { key } = await createKey(r1);
    assert.ok(await works(r3, key));
    const terminated = await adminQuery<{ ok: boolean }>(`SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = 'dg-r3'`);
    assert.ok(terminated.length >= 1, 'replica 3 had connections');
    // Answers come back by themselves (a 503 at most while the pool reconnects).
    await within(5000, async () => works(r3, key), 'replica 3 answering again');
    // And its change feed is live again: a revocation elsewhere reaches it.
    await within(5000, async () => {
      const metrics = await fetch(`${r3.url}/metrics`, { headers: { authorization: `Bearer ${admin}` } }).then((r) => r.text());
      return /^store_change_feed_live 1$/m.test(metrics) && /^store_change_feed_losses_total [1-9]/m.test(metrics);
    }, 'feed live again, the loss counted');
    const { key: other, key_id } = await createKey(r1);
    assert.ok(await works(r3, other));
    assert.equal((await call(r1, 'DELETE', `/api/auth/keys/${key_id}`, admin)).status, 200);
    await within(latencyBound(), async () => !(await works(r3, other)), 'revocation reaching replica 3 after the reconnect');
    assert.match(r3.output(), /control store change feed lost/);
  });

  test('cut off from PostgreSQL, a replica answers 503 for what needs the store (no stale cache), and recovers when it returns', async () => {
    const { key } = await createKey(r1);
    assert.ok(await works(r3, key), 'cached on replica 3');
    proxy.cut();
    try {
      // The cached key is not served from memory while the feed is lost: it reads through, and fails.
      await within(3000, async () => (await call(r3, 'GET', '/api/auth/permissions', key)).status === 503, 'a 503 from replica 3');
      const answer = await call(r3, 'GET', '/api/auth/permissions', key);
      assert.equal(answer.status, 503);
      assert.deepEqual(answer.body, { error: 'The control-plane store is unavailable; try again shortly', code: 'unavailable' });
      assert.ok(await works(r1, key), 'the other replicas are untouched');
    } finally {
      proxy.restore();
    }
    await within(10_000, async () => works(r3, key), 'replica 3 recovering by itself');
  });

  test('SIGKILL of a replica mid-write loses no acknowledged control-plane write', async () => {
    const acknowledged: string[] = [];
    let stop = false;
    const writer = async () => {
      while (!stop) {
        try {
          const created = await call(r2, 'POST', '/api/auth/register', admin, { label: 'kill test' });
          if (created.status === 201) acknowledged.push((created.body as { key_id: string }).key_id);
        } catch {
          return; // the connection died with the process
        }
      }
    };
    const writers = Array.from({ length: 4 }, writer);
    // Kill once some writes were acknowledged and more are in flight (on a loaded machine a write
    // can take longer than any fixed pause).
    const deadline = Date.now() + 30_000;
    while (acknowledged.length < 3 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    r2.child.kill('SIGKILL');
    await once(r2.child, 'exit').catch(() => {});
    stop = true;
    await Promise.all(writers);
    assert.ok(acknowledged.length > 0, 'some writes were acknowledged before the kill');
    const listed = (await call(r1, 'GET', '/api/auth/keys', admin)).body as { key_id: string }[];
    const stored = new Set(listed.map((k) => k.key_id));
    assert.deepEqual(acknowledged.filter((id) => !stored.has(id)), [], `${acknowledged.length} acknowledged`);
  });
});
