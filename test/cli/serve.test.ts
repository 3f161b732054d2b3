import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ADMIN_KEY, tempDir } from '../helpers/server.js';
import { runCli, startCli, stopCli } from '../helpers/process.js';

describe('duckgate CLI', () => {
  test('--help describes the commands', async () => {
    const { code, stdout } = await runCli(['--help']);
    assert.equal(code, 0);
    assert.match(stdout, /duckgate serve/);
  });

  test('a bad configuration value stops start-up with one line naming the variable', async () => {
    for (const [name, value] of [['PORT', 'abc'], ['ADMIN_API_KEY', 'short'], ['ALLOWED_IPS', '10.0.0.300'], ['JWT_SECRET', 'too-short'], ['STORE_URL', 'mysql://x']]) {
      const { code, stderr } = await runCli(['serve'], { [name!]: value!, DATA_DIR: tempDir() });
      assert.equal(code, 1, `${name}=${value}`);
      const lines = stderr.trim().split('\n');
      assert.equal(lines.length, 1, stderr);
      assert.match(lines[0]!, new RegExp(`^Invalid configuration: ${name}`));
    }
  });

  test('serve listens on PORT and answers authenticated requests', async () => {
    const cli = await startCli({ DATA_DIR: tempDir(), ADMIN_API_KEY: ADMIN_KEY });
    try {
      const res = await fetch(`${cli.url}/health`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
      assert.equal(res.status, 200);
      assert.equal((await fetch(`${cli.url}/health`)).status, 401);
    } finally {
      await stopCli(cli);
    }
  });

  test('a write is durable once answered: kill -9 right after a 2xx loses nothing', async () => {
    const dataDir = tempDir();
    const env = { DATA_DIR: dataDir, ADMIN_API_KEY: ADMIN_KEY };
    const headers = { 'content-type': 'application/json', 'x-api-key': ADMIN_KEY };
    const cli = await startCli(env);
    const ids: string[] = [];
    try {
      for (let i = 0; i < 5; i++) {
        const res = await fetch(`${cli.url}/api/insert/ledger`, { method: 'POST', headers, body: JSON.stringify({ n: i }) });
        assert.equal(res.status, 201);
        ids.push(((await res.json()) as { id: string }).id);
      }
      const synced = await fetch(`${cli.url}/v1/sync`, { method: 'POST', headers, body: JSON.stringify({ ledger: [{ externalId: 'e1', n: 99 }] }) });
      assert.equal(synced.status, 200);
    } finally {
      await stopCli(cli, 'SIGKILL');
    }
    const again = await startCli(env);
    try {
      const rows = (await (await fetch(`${again.url}/api/find/ledger?limit=100`, { headers })).json()) as { id: string }[];
      assert.equal(rows.length, 6);
      for (const id of ids) assert.ok(rows.some((r) => r.id === id), `record ${id} survived`);
    } finally {
      await stopCli(again);
    }
  });
});
