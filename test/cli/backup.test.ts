import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { test } from 'node:test';
import { ADMIN_KEY, CLIENT_KEY, tempDir } from '../helpers/server.js';
import { runCli, startCli, stopCli } from '../helpers/process.js';

test('duckgate backup create, list and restore drive a running server', async () => {
  const dataDir = tempDir();
  const env = { DATA_DIR: dataDir, ADMIN_API_KEY: ADMIN_KEY, VALID_API_KEYS: CLIENT_KEY };
  const server = await startCli(env);
  try {
    const cli = { ...env, DUCKGATE_URL: server.url };
    const sql = (statement: string) => fetch(`${server.url}/api/query`, {
      method: 'POST', headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' }, body: JSON.stringify({ sql: statement }),
    }).then((r) => r.json() as Promise<{ result: { n: number }[] }>);
    await sql('CREATE TABLE t (id INTEGER PRIMARY KEY, v VARCHAR)');
    await sql(`INSERT INTO t SELECT i, 'v' || i FROM range(300) r(i)`);

    const created = await runCli(['backup', 'create', '--json'], cli);
    assert.equal(created.code, 0, created.stderr);
    const { backup } = JSON.parse(created.stdout) as { backup: { id: string; tables: { table: string; rows: number; checksum: string }[] } };
    assert.deepEqual(backup.tables.map((t) => [t.table, t.rows]), [['t', 300]]);
    assert.match(backup.tables[0]!.checksum, /^\d+$/);

    const listed = await runCli(['backup', 'list', '--db', 'default'], cli);
    assert.equal(listed.code, 0);
    assert.match(listed.stdout, new RegExp(`^${backup.id}  default  `));

    const over = await runCli(['backup', 'restore', backup.id, '--target', 'default'], cli);
    assert.equal(over.code, 1);
    assert.match(over.stderr, /replace: true .*\(conflict\)/);

    const restored = await runCli(['backup', 'restore', backup.id, '--target', 'copy'], cli);
    assert.equal(restored.code, 0, restored.stderr);
    assert.match(restored.stdout, /Restored .* into 'copy': 1 tables verified/);

    const refused = await runCli(['backup', 'list'], { ...cli, DUCKGATE_API_KEY: CLIENT_KEY });
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /Admin access required \(forbidden\)/);

    const help = await runCli(['backup'], cli);
    assert.equal(help.code, 1);
    assert.match(help.stdout, /duckgate backup restore <backup_id> \[--target NAME\] \[--replace\]/);
    assert.match((await runCli(['--help'])).stdout, /duckgate backup create/);
    const down = await runCli(['backup', 'list'], { ...cli, DUCKGATE_URL: 'http://127.0.0.1:9' });
    assert.equal(down.code, 1);
    assert.match(down.stderr, /cannot reach the server/);
  } finally {
    await stopCli(server);
    rmSync(dataDir, { recursive: true, force: true });
  }
});
