/** `/automation/*` and `/api/backups` through the real app: admin only, audited, budgets, persistence. */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import { dataBackends } from '../helpers/data-backends.js';
import { CLIENT_KEY, startTestServer, tempDir, type TestServer } from '../helpers/server.js';

const backends = dataBackends();

const servers: TestServer[] = [];
after(async () => {
  for (const server of servers.splice(0)) await server.stop().catch(() => {});
  for (const backend of backends) await backend.cleanup();
});

async function server(env: Record<string, string> = {}): Promise<TestServer> {
  const started = await startTestServer(env);
  servers.push(started);
  return started;
}

async function seed(s: TestServer, db: string, rows: number, engine: 'duckdb' | 'postgres' = 'duckdb'): Promise<void> {
  assert.equal((await s.request({ method: 'POST', url: '/api/databases', payload: { name: db } })).statusCode, 201);
  const sql = async (query: string) => assert.equal((await s.request({ method: 'POST', url: `/api/query?db=${db}`, payload: { sql: query } })).statusCode, 200);
  await sql(`CREATE TABLE orders (id INTEGER PRIMARY KEY, amount DECIMAL(10,2), note VARCHAR)`);
  const series = engine === 'duckdb' ? `range(${rows}) r(i)` : `generate_series(0, ${rows} - 1) i`;
  await sql(`INSERT INTO orders SELECT i, i * 0.5, CASE WHEN i % 2 = 0 THEN NULL ELSE 'n' || i END FROM ${series}`);
}

async function auditKinds(s: TestServer, kind: string): Promise<{ target: string; details: unknown; actor: string }[]> {
  const response = await s.request({ method: 'GET', url: `/api/audit?kind=${kind}` });
  assert.equal(response.statusCode, 200);
  return response.json().events;
}

describe('automation routes', () => {
  test('every route is admin-only: a client key is refused 403 before any body is read', async () => {
    const s = await server();
    const routes = s.app.routes.filter((r) => r.url.startsWith('/automation') || r.url.startsWith('/api/backups'));
    assert.ok(routes.length >= 10, routes.map((r) => r.url).join(', '));
    for (const route of routes) {
      const url = route.url.replace(':database', 'default').replace(':kind', 'backup').replace(':id', 'default-20260101T000000Z-abcdef');
      const response = await s.request({ method: route.method as 'GET', url, key: CLIENT_KEY, payload: route.method === 'GET' ? undefined : '{not json' as unknown as object, headers: { 'content-type': 'application/json' } });
      assert.equal(response.statusCode, 403, `${route.method} ${route.url}: ${response.body}`);
      assert.equal(response.json().code, 'forbidden');
      const anonymous = await s.request({ method: route.method as 'GET', url, key: null });
      assert.equal(anonymous.statusCode, 401);
    }
  });

  for (const backend of backends) {
    describe(`on ${backend.name}`, { skip: backend.skip }, () => {
      test('backup, list, restore into a new name; never over a live database without replace; audited', async () => {
        const s = await server(await backend.env());
        await seed(s, 'sales', 1000, backend.name);
        const created = await s.request({ method: 'POST', url: '/automation/backup?db=sales' });
        assert.equal(created.statusCode, 201, created.body);
        const { backup } = created.json();
        assert.equal(backup.method, backend.name === 'duckdb' ? 'checkpoint-copy' : 'postgres-dump');
        assert.deepEqual(backup.tables.map((t: { table: string; rows: number }) => [t.table, t.rows]), [['orders', 1000]]);

        const listed = (await s.request({ method: 'GET', url: '/api/backups?db=sales' })).json();
        assert.deepEqual(listed.backups.map((b: { id: string }) => b.id), [backup.id]);
        assert.equal(listed.storage.kind, 'local');
        assert.deepEqual((await s.request({ method: 'GET', url: '/api/backups?db=other' })).json().backups, []);

        await s.request({ method: 'POST', url: '/api/query?db=sales', payload: { sql: 'DELETE FROM orders WHERE id < 500' } });
        const refused = await s.request({ method: 'POST', url: '/automation/restore', payload: { backupId: backup.id, target: 'sales' } });
        assert.equal(refused.statusCode, 409);
        assert.match(refused.json().error, /replace: true/);

        const copy = await s.request({ method: 'POST', url: '/automation/restore', payload: { backupId: backup.id, target: 'sales_copy' } });
        assert.equal(copy.statusCode, 200, copy.body);
        assert.equal(copy.json().database, 'sales_copy');
        const count = async (db: string) => (await s.request({ method: 'POST', url: `/api/query?db=${db}`, payload: { sql: 'SELECT count(*)::INTEGER AS n FROM orders' } })).json().result[0].n;
        assert.equal(await count('sales_copy'), 1000);
        assert.equal(await count('sales'), 500);

        const replaced = await s.request({ method: 'POST', url: '/automation/restore', payload: { backupId: backup.id, target: 'sales', replace: true } });
        assert.equal(replaced.statusCode, 200);
        assert.equal(replaced.json().replaced, true);
        assert.equal(await count('sales'), 1000);

        const defaulted = await s.request({ method: 'POST', url: '/automation/restore', payload: { backupId: backup.id } });
        assert.equal(defaulted.statusCode, 200);
        assert.match(defaulted.json().database, /^sales_restored_/);

        assert.deepEqual((await auditKinds(s, 'backup.created')).map((e) => e.target), ['database:sales']);
        const restores = await auditKinds(s, 'backup.restored');
        assert.deepEqual(restores.map((e) => e.target), [`database:${defaulted.json().database}`, 'database:sales', 'database:sales_copy']);
        assert.deepEqual(restores[1]!.details, { backupId: backup.id, replace: true });
        assert.equal(restores[0]!.actor, 'env:admin');

        const deleted = await s.request({ method: 'DELETE', url: `/api/backups/${backup.id}` });
        assert.equal(deleted.statusCode, 200);
        assert.equal((await s.request({ method: 'DELETE', url: `/api/backups/${backup.id}` })).statusCode, 404);
        assert.deepEqual((await auditKinds(s, 'backup.deleted')).map((e) => e.target), [`backup:${backup.id}`]);
      });
    });
  }

  test('a backup of one data engine is refused by the other (400 backup_unsupported), over one BACKUP_DIR', { skip: backends[1]!.skip }, async () => {
    const backupDir = tempDir();
    try {
      const duck = await server({ BACKUP_DIR: backupDir });
      const pg = await server({ ...(await backends[1]!.env()), BACKUP_DIR: backupDir });
      const fromDuck = (await duck.request({ method: 'POST', url: '/automation/backup' })).json().backup;
      const fromPg = (await pg.request({ method: 'POST', url: '/automation/backup' })).json().backup;
      for (const [s, backup] of [[pg, fromDuck], [duck, fromPg]] as const) {
        const refused = await s.request({ method: 'POST', url: '/automation/restore', payload: { backupId: backup.id, target: 'copy' } });
        assert.equal(refused.statusCode, 400, refused.body);
        assert.equal(refused.json().code, 'backup_unsupported');
        assert.ok(!(await s.request({ method: 'GET', url: '/api/databases' })).body.includes('"copy"'));
      }
    } finally {
      rmSync(backupDir, { recursive: true, force: true });
    }
  });

  test('bad input: clear 4xx, nothing applied', async () => {
    const s = await server();
    const cases: [string, string, unknown, number, string][] = [
      ['POST', '/automation/backup?db=nope', undefined, 404, 'not_found'],
      ['POST', '/automation/backup?db=..%2Fetc', undefined, 400, 'invalid_name'],
      ['POST', '/automation/restore', { backupId: '../../etc/passwd' }, 400, 'invalid_backup_id'],
      ['POST', '/automation/restore', { backupId: 'default-20260101T000000Z-abcdef' }, 404, 'not_found'],
      ['POST', '/automation/restore', { backupId: 'x', extra: 1 }, 400, 'validation_failed'],
      ['PUT', '/automation/schedules/default/backup', { intervalSeconds: 5 }, 400, 'validation_failed'],
      ['PUT', '/automation/schedules/nope/backup', { intervalSeconds: 600 }, 404, 'not_found'],
      ['PUT', '/automation/schedules/*/backup', { intervalSeconds: 600 }, 400, 'invalid_name'],
      ['PUT', '/automation/schedules/default/sync', { intervalSeconds: 600 }, 409, 'no_source'],
      ['PUT', '/automation/schedules/default/sync', { intervalSeconds: 600, keep: 3 }, 400, 'validation_failed'],
      ['PUT', '/automation/schedules/default/backup', { intervalSeconds: 600, logRetentionDays: 3 }, 400, 'validation_failed'],
      ['PUT', '/automation/schedules/default/backup', { intervalSeconds: 600, firstRunAt: 'soon' }, 400, 'validation_failed'],
      ['PUT', '/automation/schedules/default/reboot', { intervalSeconds: 600 }, 400, 'validation_failed'],
      ['DELETE', '/automation/schedules/default/backup', undefined, 404, 'not_found'],
    ];
    for (const [method, url, payload, status, code] of cases) {
      const response = await s.request({ method: method as 'POST', url, payload: payload as object });
      assert.equal(response.statusCode, status, `${method} ${url}: ${response.body}`);
      assert.equal(response.json().code, code, `${method} ${url}`);
    }
    assert.deepEqual((await s.request({ method: 'GET', url: '/automation/schedules' })).json().schedules, []);
  });

  test('a backup below the free-space floor is refused 507; one per database at a time (409)', async () => {
    const s = await server({ BACKUP_MIN_FREE: '8000000gb' });
    const refused = await s.request({ method: 'POST', url: '/automation/backup' });
    assert.equal(refused.statusCode, 507);
    assert.equal(refused.json().code, 'insufficient_storage');
    const roomy = await server();
    await seed(roomy, 'big', 200_000);
    const [a, b] = await Promise.all([
      roomy.request({ method: 'POST', url: '/automation/backup?db=big' }),
      roomy.request({ method: 'POST', url: '/automation/backup?db=big' }),
    ]);
    assert.deepEqual([a.statusCode, b.statusCode].sort(), [201, 409]);
  });

  test('schedules and the stopped switch survive a restart; a due backup schedule runs, with retention', async () => {
    const dataDir = tempDir();
    try {
      const env = { DATA_DIR: dataDir, AUTOMATION_TICK_MS: '100', AUTOMATION_LEASE_MS: '1000' };
      const first = await startTestServer(env);
      const set = await first.request({ method: 'PUT', url: '/automation/schedules/default/backup', payload: { intervalSeconds: 3600, keep: 2, firstRunAt: '2100-01-01T00:00:00Z' } });
      assert.equal(set.statusCode, 200, set.body);
      assert.deepEqual(set.json().schedule.options, { keep: 2 });
      const stopped = await first.request({ method: 'POST', url: '/automation/stop' });
      assert.equal(stopped.json().enabled, false);
      await first.close();

      const second = await startTestServer(env);
      servers.push(second);
      let status = (await second.request({ method: 'GET', url: '/automation/status' })).json();
      assert.equal(status.enabled, false);
      assert.deepEqual(status.schedules.map((x: { database: string; kind: string }) => `${x.database}/${x.kind}`), ['default/backup']);
      // Three earlier backups, then the schedule made due: one more run leaves the newest 2.
      for (let i = 0; i < 3; i++) assert.equal((await second.request({ method: 'POST', url: '/automation/backup' })).statusCode, 201);
      await second.request({ method: 'PUT', url: '/automation/schedules/default/backup', payload: { intervalSeconds: 3600, keep: 2, firstRunAt: new Date().toISOString() } });
      const started = await second.request({ method: 'POST', url: '/automation/start' });
      assert.equal(started.json().enabled, true);
      for (let i = 0; i < 100; i++) {
        status = (await second.request({ method: 'GET', url: '/automation/status' })).json();
        if (status.schedules[0].runs > 0) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.equal(status.schedules[0].runs, 1);
      assert.equal(status.schedules[0].lastStatus, 'ok', status.schedules[0].lastError);
      assert.equal(status.runner.leader, true);
      assert.equal(status.lease.holder, status.runner.holder);
      assert.equal((await second.request({ method: 'GET', url: '/api/backups' })).json().backups.length, 2);
      assert.deepEqual((await auditKinds(second, 'automation.started')).map((e) => e.target), ['automation']);
      assert.deepEqual((await auditKinds(second, 'automation.stopped')).map((e) => e.target), ['automation']);
      assert.equal((await auditKinds(second, 'automation.schedule_set')).length, 2);
      await second.app.audit.flush();
      const jobs = await auditKinds(second, 'automation.job');
      assert.equal(jobs[0]?.target, 'schedule:default/backup');
      assert.equal((await second.request({ method: 'DELETE', url: '/automation/schedules/default/backup' })).statusCode, 200);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
