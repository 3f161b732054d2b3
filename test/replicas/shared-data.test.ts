/**
 * The replica test with DATA_URL: three `duckgate serve` processes, each with its own DATA_DIR
 * (and control store), sharing the data plane through one PostgreSQL database. A record written
 * through replica 1 is read through 2 and 3 at once; concurrent upserts of one externalId through
 * all three end as one record; a replica killed (SIGKILL) in the middle of a batch leaves the
 * batch all or nothing; a scoped key's SQL on one replica (as DATA_READER_URL's role) reads a
 * collection another replica created.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { freshPostgresData } from '../data/engines.js';
import { adminQuery, postgresUnavailable } from '../helpers/postgres.js';
import { startCli, stopCli, type CliProcess } from '../helpers/process.js';
import { tempDir } from '../helpers/server.js';

const skip = await postgresUnavailable();
const KEY = 'replica-data-admin-key-0123456789';

async function call(replica: CliProcess, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const response = await fetch(`${replica.url}${path}`, {
    method,
    headers: { 'x-api-key': KEY, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text === '' ? undefined : JSON.parse(text) };
}

describe('three replicas on one DATA_URL', { skip }, () => {
  let data: Awaited<ReturnType<typeof freshPostgresData>>;
  const dirs: string[] = [];
  const replicas: CliProcess[] = [];
  let env: Record<string, string>;

  const start = async (): Promise<CliProcess> => {
    const dataDir = tempDir('duckgate-shared-');
    dirs.push(dataDir);
    const replica = await startCli({ ...env, DATA_DIR: dataDir });
    replicas.push(replica);
    return replica;
  };

  before(async () => {
    data = await freshPostgresData();
    env = { DATA_URL: data.url, DATA_READER_URL: data.readerUrl, DATA_SCHEMA_PREFIX: data.schemaPrefix, ADMIN_API_KEY: KEY, ADMIN_PASSWORD: 'replica-data-password-1' };
    for (let i = 0; i < 3; i++) await start();
  });

  after(async () => {
    for (const replica of replicas) await stopCli(replica, 'SIGKILL');
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    await data.drop();
  });

  test('a record written on replica 1 is read on replicas 2 and 3 immediately', async () => {
    const [one, two, three] = replicas as [CliProcess, CliProcess, CliProcess];
    for (let i = 0; i < 20; i++) {
      const written = await call(one, 'POST', '/api/insert/orders', { id: `o${i}`, total: i, note: `n${i}` });
      assert.equal(written.status, 201, JSON.stringify(written.body));
      for (const other of [two, three]) {
        const read = await call(other, 'GET', `/api/find/orders/o${i}`);
        assert.equal(read.status, 200, `o${i} on another replica: ${JSON.stringify(read.body)}`);
        assert.deepEqual(read.body, written.body);
      }
    }
  });

  test("a scoped key's SQL on replica 3 reads, as the reader role, a collection replica 1 created", async () => {
    const three = replicas[2]!;
    const registered = await call(three, 'POST', '/api/auth/register', { label: 'scoped', collection_permissions: { orders: { read: true, write: false, delete: false, exclude_fields: ['note'] } } });
    assert.equal(registered.status, 201, JSON.stringify(registered.body));
    const response = await fetch(`${three.url}/api/query`, {
      method: 'POST',
      headers: { 'x-api-key': registered.body.key, 'content-type': 'application/json' },
      body: JSON.stringify({ sql: 'SELECT * FROM orders ORDER BY total LIMIT 1' }),
    });
    const body = await response.json() as { result: unknown[] };
    assert.equal(response.status, 200, JSON.stringify(body));
    assert.deepEqual(body.result, [{ id: 'o0', total: 0 }]);
  });

  test('concurrent upserts of one externalId from three replicas end as one record', async () => {
    for (let round = 0; round < 10; round++) {
      const answers = await Promise.all(replicas.slice(0, 3).map((replica, i) => call(replica, 'POST', '/v1/sync', { items: [{ externalId: `x${round}`, by: i, round }] })));
      for (const answer of answers) assert.equal(answer.status, 200, JSON.stringify(answer.body));
      assert.equal(answers.reduce((sum, a) => sum + a.body.items.created, 0), 1, `round ${round}: ${JSON.stringify(answers.map((a) => a.body))}`);
    }
    const found = await call(replicas[1]!, 'POST', '/api/find/items', { limit: 100 });
    assert.equal(found.body.length, 10);
  });

  test('a replica killed in the middle of a batch leaves the batch all or nothing', async () => {
    const victim = await start();
    const survivor = replicas[0]!;
    const inserts = Array.from({ length: 1000 }, (_, i) => ({ data: { id: `b${i}`, n: i, payload: 'x'.repeat(200) } }));
    const sending = call(victim, 'POST', '/api/batch/insert/batchy', { inserts }).catch((error: unknown) => error);
    // Wait until the batch's transaction is open on PostgreSQL, then kill the process outright.
    const role = new URL(data.url).username;
    for (let i = 0; i < 500; i++) {
      const open = await adminQuery<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE usename = $1 AND xact_start IS NOT NULL AND state <> 'idle' AND query LIKE 'INSERT%'`,
        [role],
      );
      if (open[0]!.n > 0) break;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    victim.child.kill('SIGKILL');
    await sending;
    // PostgreSQL notices the dead connection and rolls its transaction back.
    let count = -1;
    for (let i = 0; i < 100; i++) {
      const answer = await call(survivor, 'GET', '/api/tables/batchy/count');
      count = answer.status === 404 ? 0 : answer.body.count;
      const open = await adminQuery<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE usename = $1 AND state LIKE 'idle in transaction%'`, [role]);
      if (open[0]!.n === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.ok(count === 0 || count === 1000, `a partial batch landed: ${count} of 1000`);
    // The batch was killed before it committed in practice: say which case this run measured.
    process.stdout.write(`# killed batch left ${count} of 1000 records\n`);
  });
});
