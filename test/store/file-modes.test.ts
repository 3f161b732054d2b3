/**
 * DATA_DIR is private to the server's user: the directory 0700, the control store (and its -wal and
 * -shm), the JWT secret, every DuckDB file and its WAL 0600, whatever umask the server started with.
 */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { startServer } from '../../src/server.js';
import { CONTROL_STORE_FILE } from '../../src/store/index.js';
import { startCli, stopCli } from '../helpers/process.js';
import { startTestServer, tempDir } from '../helpers/server.js';

const mode = (file: string) => (statSync(file).mode & 0o777).toString(8);

/** Every file in `dir` with its mode, e.g. { 'control.sqlite': '600' }. */
function modes(dir: string): Record<string, string> {
  return Object.fromEntries(readdirSync(dir).map((name) => [name, mode(path.join(dir, name))]));
}

test('a fresh DATA_DIR is 0700 and every file in it 0600, even with a permissive umask', async () => {
  // What a shell usually has; before this fix the server created 0755 / 0644 under it.
  process.umask(0o022);
  const parent = tempDir();
  const dataDir = path.join(parent, 'nested', 'data');
  const server = await startTestServer({ DATA_DIR: dataDir });
  try {
    assert.equal(server.config.dataDir, dataDir);
    assert.equal((await server.request({ method: 'POST', url: '/api/insert/notes', payload: { title: 'x' } })).statusCode, 201);
    assert.equal((await server.request({ method: 'POST', url: '/api/databases', payload: { name: 'other' } })).statusCode, 201, 'a second database');
    assert.equal((await server.request({ method: 'POST', url: '/api/insert/notes?db=other', payload: { title: 'y' } })).statusCode, 201);
    await server.app.audit.flush();
    assert.equal(mode(dataDir), '700');
    const files = modes(dataDir);
    // Files that must be there while the server runs (the WALs hold the writes just made).
    for (const name of [CONTROL_STORE_FILE, `${CONTROL_STORE_FILE}-wal`, `${CONTROL_STORE_FILE}-shm`, 'jwt-secret', 'default.duckdb', 'default.duckdb.wal', 'other.duckdb', 'other.duckdb.wal']) {
      assert.ok(name in files, `${name} exists: ${JSON.stringify(files)}`);
    }
    for (const [name, fileMode] of Object.entries(files)) assert.equal(fileMode, '600', `${name}: ${JSON.stringify(files)}`);
  } finally {
    await server.stop();
    rmSync(parent, { recursive: true, force: true });
  }
});

test('files left readable by others (an older version) are made 0600 at start', async () => {
  process.umask(0o022);
  const first = await startTestServer({});
  await first.close();
  for (const name of readdirSync(first.dataDir)) chmodSync(path.join(first.dataDir, name), 0o644);
  const again = await startServer(first.config, { log: false });
  try {
    const files = modes(first.dataDir);
    assert.ok(existsSync(path.join(first.dataDir, 'default.duckdb')));
    for (const [name, fileMode] of Object.entries(files)) assert.equal(fileMode, '600', `${name}: ${JSON.stringify(files)}`);
  } finally {
    await again.close();
    await first.stop();
  }
});

test('an existing DATA_DIR open to others keeps its mode, its files are 0600, and the log says so', async () => {
  const dataDir = tempDir();
  chmodSync(dataDir, 0o755);
  const cli = await startCli({ DATA_DIR: dataDir, LOG_LEVEL: 'warn', ADMIN_API_KEY: 'an-admin-key-for-the-modes-test' });
  try {
    await waitFor(() => cli.output().includes('DATA_DIR can be entered by other users'), cli.output);
    assert.equal(mode(dataDir), '755', 'an existing directory is not changed behind the operator\'s back');
    for (const [name, fileMode] of Object.entries(modes(dataDir))) assert.equal(fileMode, '600', name);
  } finally {
    await stopCli(cli);
    rmSync(dataDir, { recursive: true, force: true });
  }
});

async function waitFor(check: () => boolean, describe: () => string): Promise<void> {
  for (let i = 0; i < 100 && !check(); i++) await new Promise((resolve) => setTimeout(resolve, 20));
  assert.ok(check(), describe());
}
