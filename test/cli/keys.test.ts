import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ADMIN_KEY, tempDir } from '../helpers/server.js';
import { runCli, startCli, stopCli } from '../helpers/process.js';

test('keys made and revoked by the CLI take effect in a running server within a second', async () => {
  const dataDir = tempDir();
  const env = { DATA_DIR: dataDir, ADMIN_API_KEY: ADMIN_KEY };
  const server = await startCli(env);
  try {
    const created = await runCli(['keys', 'create', '--label', 'pos', '--permissions', '{"menu":["read","write"]}', '--json'], env);
    assert.equal(created.code, 0, created.stderr);
    const { key, key_id } = JSON.parse(created.stdout) as { key: string; key_id: string };
    assert.match(key, /^dk_live_/);

    const get = () => fetch(`${server.url}/api/collections`, { headers: { authorization: `Bearer ${key}` } });
    // Unknown hashes are cached too: the running server must still see the new key within a second.
    const deadline = Date.now() + 1000;
    let status = (await get()).status;
    while (status !== 200 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      status = (await get()).status;
    }
    assert.equal(status, 200);

    const listed = await runCli(['keys', 'list', '--json'], env);
    const keys = JSON.parse(listed.stdout) as { key_id: string; collection_permissions: unknown }[];
    assert.deepEqual(keys.find((k) => k.key_id === key_id)?.collection_permissions, { menu: ['read', 'write'] });
    assert.ok(!listed.stdout.includes(key), 'list never prints the full key');

    const token = await runCli(['token', key_id, '--json'], env);
    assert.equal(token.code, 0, token.stderr);
    const jwt = (JSON.parse(token.stdout) as { token: string }).token;
    assert.equal((await fetch(`${server.url}/api/collections`, { headers: { authorization: `Bearer ${jwt}` } })).status, 200);

    const merged = await runCli(['keys', 'permissions', key_id, '--merge', '{"menu":["read"]}', '--json'], env);
    assert.deepEqual((JSON.parse(merged.stdout) as { changes: string[] }).changes, ["Removed 'write' permission from 'menu' collection"]);

    const revoked = await runCli(['keys', 'revoke', key_id], env);
    assert.equal(revoked.code, 0, revoked.stderr);
    const revokedAt = Date.now();
    while ((await get()).status === 200) {
      assert.ok(Date.now() - revokedAt < 1000, 'revocation by another process took longer than a second');
      await new Promise((r) => setTimeout(r, 25));
    }
    assert.equal((await get()).status, 401);
    assert.equal((await fetch(`${server.url}/api/collections`, { headers: { authorization: `Bearer ${jwt}` } })).status, 401, 'its token died too');

    const audit = (await (await fetch(`${server.url}/api/audit?target=${key_id}`, { headers: { 'x-api-key': ADMIN_KEY } })).json()) as { events: { kind: string; actor: string }[] };
    assert.deepEqual(audit.events.map((e) => `${e.kind} by ${e.actor}`).sort(), ['key.created by cli', 'key.permissions by cli', 'key.revoked by cli']);

    const again = await runCli(['keys', 'revoke', key_id], env);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /not found/);
  } finally {
    await stopCli(server);
  }
});

test('bad CLI input gets one clear line', async () => {
  const env = { DATA_DIR: tempDir() };
  const res = await runCli(['keys', 'create', '--label', 'x', '--permissions', '{"users":["fly"]}'], env);
  assert.equal(res.code, 1);
  assert.match(res.stderr, /^duckgate: Unknown permission level "fly"/);
});
