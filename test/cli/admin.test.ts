/**
 * The dashboard account from first start to `duckgate admin set-password`, through the real CLI
 * and a real server process: no default password, a generated one shown once, a changed one
 * ending every session at once.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { tempDir } from '../helpers/server.js';
import { runCli, startCli, stopCli } from '../helpers/process.js';

async function login(url: string, password: string): Promise<Response> {
  return fetch(`${url}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password }) });
}

describe('duckgate admin', () => {
  test('first start generates a password, shows it once, and set-password replaces it', async () => {
    const env = { DATA_DIR: tempDir() };
    const first = await startCli(env);
    let generated: string;
    let session: string;
    try {
      generated = /password: (\S+)/.exec(first.output())?.[1] ?? '';
      assert.match(generated, /^[A-Za-z0-9_-]{24}$/, first.output());
      const res = await login(first.url, generated);
      assert.equal(res.status, 200);
      session = ((await res.json()) as { token: string }).token;
      assert.equal((await login(first.url, 'admin')).status, 401, 'no default password');
      assert.equal((await login(first.url, '')).status, 400);

      // Changed while the server runs: the old password and every session end at once.
      const changed = await runCli(['admin', 'set-password', '--password-stdin'], env, 'a brand new password\n');
      assert.equal(changed.code, 0, changed.stderr);
      assert.match(changed.stdout, /changed/);
      assert.doesNotMatch(changed.stdout + changed.stderr, /a brand new password/);
      assert.equal((await login(first.url, generated)).status, 401);
      assert.equal((await login(first.url, 'a brand new password')).status, 200);
      const old = await fetch(`${first.url}/status`, { headers: { authorization: `Bearer ${session}` } });
      assert.equal(old.status, 401);
    } finally {
      await stopCli(first);
    }

    const second = await startCli(env);
    try {
      assert.doesNotMatch(second.output(), /password:/, 'shown only at first start');
      assert.equal((await login(second.url, 'a brand new password')).status, 200);
    } finally {
      await stopCli(second);
    }
  });

  test('set-password refuses a short password, and ADMIN_PASSWORD in the environment', async () => {
    const env = { DATA_DIR: tempDir() };
    const short = await runCli(['admin', 'set-password', '--password-stdin'], env, 'short\n');
    assert.equal(short.code, 1);
    assert.match(short.stderr, /at least 12 characters/);
    const fromEnv = await runCli(['admin', 'set-password', '--password-stdin'], { ...env, ADMIN_PASSWORD: 'an environment password' }, 'another password here\n');
    assert.equal(fromEnv.code, 1);
    assert.match(fromEnv.stderr, /ADMIN_PASSWORD is set/);
    const generated = await runCli(['admin', 'set-password', '--generate'], env);
    assert.equal(generated.code, 0, generated.stderr);
    assert.match(generated.stdout, /^ {4}[A-Za-z0-9_-]{24}$/m);
  });

  test('ADMIN_PASSWORD shorter than 12 characters stops start-up with one line', async () => {
    const { code, stderr } = await runCli(['serve'], { DATA_DIR: tempDir(), ADMIN_PASSWORD: 'hunter2' });
    assert.equal(code, 1);
    assert.equal(stderr.trim(), 'Invalid configuration: ADMIN_PASSWORD must be at least 12 characters long');
  });

  test('a changed ADMIN_PASSWORD takes over at the next start', async () => {
    const dataDir = tempDir();
    const first = await startCli({ DATA_DIR: dataDir, ADMIN_PASSWORD: 'the first password' });
    try {
      assert.doesNotMatch(first.output(), /password:/, 'nothing generated when ADMIN_PASSWORD is set');
      assert.equal((await login(first.url, 'the first password')).status, 200);
    } finally {
      await stopCli(first);
    }
    const second = await startCli({ DATA_DIR: dataDir, ADMIN_PASSWORD: 'the second password' });
    try {
      assert.equal((await login(second.url, 'the first password')).status, 401);
      assert.equal((await login(second.url, 'the second password')).status, 200);
    } finally {
      await stopCli(second);
    }
  });
});
