/**
 * `duckgate sync` as a user runs it, against a real MariaDB (skipped with the reason when it is
 * down), into DATA_DIR's DuckDB files and into PostgreSQL (DATA_URL). The volume test: 200,000
 * orders (plus 50,000 lines, 20,000 events); the copy is killed with SIGKILL mid-table, and the
 * next run resumes from the last committed batch and ends with the data plane equal to the source
 * (validation: counts and checksums per table).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { rmSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { SourceSecret } from '../../src/auth/source-secret.js';
import { openDuckDBEngine } from '../../src/data/duckdb/index.js';
import type { DataEngine } from '../../src/data/engine.js';
import { openPostgresEngine } from '../../src/data/postgres/index.js';
import { SourceSyncService } from '../../src/data/sync/service.js';
import type { SyncRun } from '../../src/data/sync/types.js';
import { openControlStore } from '../../src/store/index.js';
import { engineOptions } from '../data/helpers.js';
import { createShop, createSourceSchema, mariadbUnavailable, type TestSourceSchema } from '../helpers/mariadb.js';
import { dataBackends } from '../helpers/data-backends.js';
import { CLI, ROOT, runCli, startCli, stopCli } from '../helpers/process.js';
import { ADMIN_KEY, tempDir } from '../helpers/server.js';

const skip = await mariadbUnavailable();
const ORDERS = 200_000;

/** Opens the data plane `env` names in this process for the duration of `task` (with DuckDB, the CLI must not be running). */
async function withService<T>(env: Record<string, string>, task: (sync: SourceSyncService, engine: DataEngine) => Promise<T>): Promise<T> {
  const dataDir = env.DATA_DIR!;
  const engine = env.DATA_URL === undefined
    ? await openDuckDBEngine(engineOptions(dataDir))
    : await openPostgresEngine({ url: env.DATA_URL, schemaPrefix: env.DATA_SCHEMA_PREFIX!, poolSize: 2, statementTimeoutMs: 60_000 });
  const control = await openControlStore({ dataDir });
  const sync = new SourceSyncService({ engine, sources: control.sources, secret: SourceSecret.load(dataDir) });
  try {
    return await task(sync, engine);
  } finally {
    sync.close();
    await engine.close();
    await control.close();
  }
}

for (const backend of dataBackends()) describe(`duckgate sync (MariaDB) into ${backend.name}`, { skip: skip || backend.skip }, () => {
  let schema: TestSourceSchema;
  let dataDir: string;
  let env: Record<string, string>;

  before(async () => {
    schema = await createSourceSchema('cli');
    await createShop(schema.db, ORDERS);
    dataDir = tempDir();
    env = { DATA_DIR: dataDir, ADMIN_API_KEY: ADMIN_KEY, LOG_LEVEL: 'silent', ...(await backend.env()) };
    await withService(env, async (sync, engine) => {
      await engine.createDatabase('shop');
      await sync.setSource('shop', schema.url);
    });
  });
  after(async () => {
    await schema?.drop();
    await backend.cleanup();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  test('kill -9 in the middle of a full sync; the next run resumes and the data equals the source', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'sync', 'full', '--db', 'shop'], {
      cwd: ROOT, env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    const killed = new Promise<void>((resolve, reject) => {
      child.stderr!.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        // Well into `orders` (the last table), past several committed batches: kill it there.
        const match = /orders: (\d+)/g.exec(stderr.slice(-200));
        if (match && Number(match[1]) >= 60_000 && child.exitCode === null && !child.killed) {
          child.kill('SIGKILL');
          resolve();
        }
      });
      child.once('exit', (code, signal) => (signal === 'SIGKILL' ? resolve() : reject(new Error(`sync ended (${code}) before it could be killed:\n${stderr}`))));
    });
    await killed;
    if (child.exitCode === null && child.signalCode === null) await once(child, 'exit');
    assert.equal(child.signalCode, 'SIGKILL');

    const resumed = await runCli(['sync', 'full', '--db', 'shop', '--json', '--quiet'], env);
    assert.equal(resumed.code, 0, resumed.stderr);
    const run = JSON.parse(resumed.stdout) as SyncRun;
    const orders = run.tables.find((t) => t.table === 'orders')!;
    assert.equal(orders.status, 'success');
    assert.ok(orders.recordsProcessed < ORDERS && orders.recordsProcessed > 0, `resumed, not restarted: ${orders.recordsProcessed} rows copied`);

    const status = await runCli(['sync', 'status', '--db', 'shop', '--json'], env);
    assert.equal(status.code, 0, status.stderr);
    const tables = (JSON.parse(status.stdout) as { tables: { table: string; rows: number }[] }).tables;
    assert.deepEqual(tables.map((t) => [t.table, t.rows]), [['events', ORDERS / 10], ['notes', 3], ['order_lines', ORDERS / 4], ['orders', ORDERS]]);
    const validation = await withService(env, (sync) => sync.validate('shop'));
    assert.equal(validation.valid, true, JSON.stringify(validation.tables));
  });

  test('incremental after changes, then kill -9 mid-incremental and run again: still equal', async () => {
    await schema.db.query(`UPDATE orders SET note = 'bulk', updated_at = '2026-08-01 00:00:00' WHERE id % 5 = 0;
      DELETE FROM orders WHERE id BETWEEN 1000 AND 1099; INSERT INTO events (kind) VALUES ('buy');`);
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'sync', 'incremental', '--db', 'shop'], {
      cwd: ROOT, env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    await new Promise<void>((resolve) => {
      child.stderr!.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        if (/orders: (1\d{4}|[2-9]\d{4})/.test(stderr) && !child.killed) {
          child.kill('SIGKILL');
          resolve();
        }
      });
      child.once('exit', () => resolve());
    });
    if (child.exitCode === null && child.signalCode === null) await once(child, 'exit');

    const again = await runCli(['sync', 'incremental', '--db', 'shop', '--json', '--quiet'], env);
    assert.equal(again.code, 0, again.stderr);
    const run = JSON.parse(again.stdout) as SyncRun;
    assert.equal(run.tables.find((t) => t.table === 'orders')?.recordsDeleted ?? 0, child.signalCode === 'SIGKILL' ? 100 : 0);
    const validation = await withService(env, (sync) => sync.validate('shop'));
    assert.equal(validation.valid, true, JSON.stringify(validation.tables));
  });

  test('without a source, or with a server holding DATA_DIR (then --url asks it): a one-line reason; with DATA_URL it runs beside servers', async () => {
    const none = await runCli(['sync', 'full', '--db', 'default'], env);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /has no source/);
    const bad = await runCli(['sync', 'sideways', '--db', 'shop'], env);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /expected full, incremental or status/);

    const server = await startCli(env);
    try {
      const beside = await runCli(['sync', 'status', '--db', 'shop'], env);
      if (backend.name === 'duckdb') {
        assert.equal(beside.code, 1);
        assert.match(beside.stderr, /in use by a running server; use --url/);
      } else {
        assert.equal(beside.code, 0, beside.stderr);
        assert.match(beside.stdout, /orders: 199900 rows, watermark/);
      }
      const remote = await runCli(['sync', 'status', '--db', 'shop', '--url', server.url, '--json'], env);
      assert.equal(remote.code, 0, remote.stderr);
      assert.equal((JSON.parse(remote.stdout) as { source: string }).source, `mysql://root@127.0.0.1:3306/${schema.name}`);
      const refused = await runCli(['sync', 'full', '--db', 'default', '--url', server.url], env);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /has no source.*\(no_source\)/);
    } finally {
      await stopCli(server);
    }
  });
});
