/**
 * Issue 16: what `duckgate serve` checks before it prints a banner or stores a credential (port,
 * HOST, PostgreSQL), what it warns about (Redis), its flags, and what its log says (format, key and
 * password changes, SQL errors; never a secret).
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { once } from 'node:events';
import { describe, test } from 'node:test';
import { runCli, startCli, stopCli } from '../helpers/process.js';
import { ADMIN_KEY, tempDir } from '../helpers/server.js';

describe('start-up checks come before the banner', () => {
  test('a busy port stops the start with one line, and nothing is generated for it', async () => {
    const blocker = createServer();
    blocker.listen(0, '127.0.0.1');
    await once(blocker, 'listening');
    const port = (blocker.address() as { port: number }).port;
    const dataDir = tempDir();
    try {
      const busy = await runCli(['serve'], { DATA_DIR: dataDir, PORT: String(port) });
      assert.equal(busy.code, 1);
      assert.equal(busy.stderr, `duckgate: port ${port} on 127.0.0.1 is already in use (another duckgate still running? stop it, or set PORT)\n`);
      assert.doesNotMatch(busy.stdout, /first start|dk_live_|password/);
    } finally {
      blocker.close();
    }
    // The failed start stored no key and no password: the next one is still the first start.
    const cli = await startCli({ DATA_DIR: dataDir });
    try {
      assert.match(cli.output(), /duckgate: first start/);
      assert.match(cli.output(), /^export DUCKGATE_URL=http:\/\/127\.0\.0\.1:\d+ DUCKGATE_KEY=dk_live_[A-Za-z0-9_-]{32} DUCKGATE_PASSWORD=\S+$/m);
      assert.match(cli.output(), /Dashboard: http:\/\/127\.0\.0\.1:\d+\//);
      assert.match(cli.output(), /npx duckgate admin set-password/);
    } finally {
      await stopCli(cli);
    }
  });

  test('the banner\'s export line works as printed: its key and password are accepted', async () => {
    const cli = await startCli({ DATA_DIR: tempDir() });
    try {
      const line = /^export (.+)$/m.exec(cli.output())![1]!;
      const vars = Object.fromEntries(line.split(' ').map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1).replace(/^'|'$/g, '')]));
      assert.equal(vars.DUCKGATE_URL, cli.url);
      assert.equal((await fetch(`${cli.url}/api/collections`, { headers: { authorization: `Bearer ${vars.DUCKGATE_KEY}` } })).status, 200);
      const login = await fetch(`${cli.url}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: vars.DUCKGATE_PASSWORD }) });
      assert.equal(login.status, 200);
    } finally {
      await stopCli(cli);
    }
  });

  test('a HOST that is not an address of this machine stops the start before the banner', async () => {
    const { code, stdout, stderr } = await runCli(['serve'], { DATA_DIR: tempDir(), PORT: '0', HOST: '192.0.2.77' });
    assert.equal(code, 1);
    assert.match(stderr, /^duckgate: HOST "192\.0\.2\.77" is not an address of this machine \(EADDRNOTAVAIL\)/);
    assert.doesNotMatch(stdout, /first start/);
  });

  test('an unreachable PostgreSQL (STORE_URL) stops the start with one line, password hidden', async () => {
    const { code, stdout, stderr } = await runCli(['serve'], { DATA_DIR: tempDir(), PORT: '0', STORE_URL: 'postgres://duck:secret-pw@127.0.0.1:1/db' });
    assert.equal(code, 1);
    assert.match(stderr, /^duckgate: STORE_URL: cannot use PostgreSQL at postgres:\/\/duck:\*\*\*@127\.0\.0\.1:1\/db: /);
    assert.doesNotMatch(stderr, /secret-pw/);
    assert.doesNotMatch(stdout, /first start/);
  });

  test('an unreachable REDIS_URL starts with a warning', async () => {
    const cli = await startCli({ DATA_DIR: tempDir(), ADMIN_API_KEY: ADMIN_KEY, REDIS_URL: 'redis://:hidden-pw@127.0.0.1:1', LOG_FORMAT: 'json' });
    try {
      const warning = cli.output().split('\n').find((line) => line.includes('REDIS_URL is unreachable'));
      assert.ok(warning, cli.output());
      assert.equal(JSON.parse(warning).level, 40);
      assert.doesNotMatch(cli.output(), /hidden-pw/);
      assert.equal((await fetch(`${cli.url}/health`, { headers: { 'x-api-key': ADMIN_KEY } })).status, 200);
    } finally {
      await stopCli(cli);
    }
  });
});

describe('serve flags', () => {
  test('--port and --host win over PORT and HOST, and are validated the same way', async () => {
    const cli = await startCli({ DATA_DIR: tempDir(), ADMIN_API_KEY: ADMIN_KEY, PORT: 'not-a-port', HOST: '192.0.2.77' }, ['--port', '0', '--host', '127.0.0.1']);
    try {
      assert.match(cli.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    } finally {
      await stopCli(cli);
    }
    const bad = await runCli(['serve', '--port', '70000'], { DATA_DIR: tempDir() });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^Invalid configuration: PORT must be a whole number from 0 to 65535 \(got "70000"\)/);
  });
});

describe('the log', () => {
  test('LOG_FORMAT=pretty writes readable lines; json writes one object a line', async () => {
    const pretty = await startCli({ DATA_DIR: tempDir(), ADMIN_API_KEY: ADMIN_KEY, LOG_LEVEL: 'info', LOG_FORMAT: 'pretty' });
    await stopCli(pretty);
    const line = pretty.output().split('\n').find((l) => l.includes('Server listening at'));
    assert.ok(line, pretty.output());
    assert.match(line, /^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\] INFO: Server listening at http:\/\/127\.0\.0\.1:\d+/);
    const json = await startCli({ DATA_DIR: tempDir(), ADMIN_API_KEY: ADMIN_KEY, LOG_LEVEL: 'info', LOG_FORMAT: 'json' });
    await stopCli(json);
    const jsonLine = json.output().split('\n').find((l) => l.includes('Server listening at'));
    assert.equal(JSON.parse(jsonLine!).level, 30);
    // Not a terminal and no LOG_FORMAT: JSON, for log shippers.
    const auto = await startCli({ DATA_DIR: tempDir(), ADMIN_API_KEY: ADMIN_KEY, LOG_LEVEL: 'info' });
    await stopCli(auto);
    assert.doesNotThrow(() => JSON.parse(auto.output().split('\n').find((l) => l.includes('Server listening at'))!));
    const badFormat = await runCli(['serve'], { DATA_DIR: tempDir(), LOG_FORMAT: 'xml' });
    assert.match(badFormat.stderr, /^Invalid configuration: LOG_FORMAT must be one of auto, json, pretty \(got "xml"\)/);
  });

  test('key changes, the admin password and SQL errors are logged, never a key or password', async () => {
    const password = 'a-logged-change-password';
    const cli = await startCli({ DATA_DIR: tempDir(), ADMIN_API_KEY: ADMIN_KEY, ADMIN_PASSWORD: password, LOG_LEVEL: 'info', LOG_FORMAT: 'json' });
    const headers = { 'x-api-key': ADMIN_KEY, 'content-type': 'application/json' };
    let key = '';
    let keyId = '';
    try {
      const created = await fetch(`${cli.url}/api/auth/register`, { method: 'POST', headers, body: JSON.stringify({ label: 'logged', collection_permissions: { menu: ['read'] } }) });
      ({ key, key_id: keyId } = (await created.json()) as { key: string; key_id: string });
      const merged = await fetch(`${cli.url}/api/auth/permissions`, { method: 'PUT', headers, body: JSON.stringify({ key_id: keyId, collection_permissions: { menu: ['read', 'write'] } }) });
      assert.equal(merged.status, 200);
      const regenerated = await fetch(`${cli.url}/api/auth/keys/${keyId}/regenerate`, { method: 'POST', headers, body: '{}' });
      const newKey = ((await regenerated.json()) as { key: string }).key;
      assert.equal((await fetch(`${cli.url}/api/auth/keys/${keyId}`, { method: 'DELETE', headers: { 'x-api-key': ADMIN_KEY } })).status, 200);
      const bad = await fetch(`${cli.url}/api/query`, { method: 'POST', headers, body: JSON.stringify({ sql: "SELECT * FROM no_such_table WHERE secret = 'p4ss'" }) });
      assert.equal(bad.status, 400);
      await stopCli(cli);
      const lines = cli.output().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
      for (const kind of ['key.created', 'key.permissions', 'key.regenerated', 'key.revoked']) {
        assert.ok(lines.some((l) => l.event === kind && l.target === keyId && l.actor === 'env:admin'), `${kind} logged:\n${cli.output()}`);
      }
      assert.ok(lines.some((l) => l.event === 'admin.password' && l.actor === 'config'), 'the password set from ADMIN_PASSWORD is logged');
      const sql = lines.find((l) => l.msg === 'SQL error');
      assert.ok(sql, cli.output());
      assert.equal(sql.principal, 'env:admin');
      assert.match(String(sql.error), /no_such_table/);
      for (const secret of [key, newKey, password, ADMIN_KEY, 'p4ss']) assert.ok(!cli.output().includes(secret), `no secret in the log: ${secret.slice(0, 12)}`);
    } finally {
      await stopCli(cli);
    }
  });
});
