/**
 * Issue 16: `npm start` runs the server as the process npm waits on, so SIGTERM to npm's PID (what
 * `kill %1` after `npm start &` sends) shuts the server down and frees the port, instead of leaving
 * it orphaned, holding the port and DuckDB's lock.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import path from 'node:path';
import { before, test } from 'node:test';
import { ROOT } from '../helpers/process.js';
import { ADMIN_KEY, tempDir } from '../helpers/server.js';

/** Whether something listens on `port` (a fresh listener there fails with EADDRINUSE). */
async function portBusy(port: number): Promise<boolean> {
  const probe = createServer();
  probe.listen(port, '127.0.0.1');
  const [outcome] = (await Promise.race([once(probe, 'listening').then(() => ['free']), once(probe, 'error').then(([e]) => [(e as { code?: string }).code])])) as [string];
  await new Promise((resolve) => probe.close(resolve));
  return outcome === 'EADDRINUSE';
}

before(() => {
  // `npm start` runs the built launcher (bin/duckgate.cjs → dist/): build it from the current sources.
  const build = spawnSync(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(build.status, 0, build.stdout + build.stderr);
});

test('SIGTERM to npm start stops the server and frees its port', async () => {
  const npm = spawn('npm', ['start'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', DATA_DIR: tempDir(), ADMIN_API_KEY: ADMIN_KEY, PORT: '0', LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  npm.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  npm.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`npm start did not serve:\n${output}`)), 60_000);
      npm.stdout!.on('data', () => {
        const match = /listening on (http:\/\/\S+)/.exec(output);
        if (match) {
          clearTimeout(timer);
          resolve(match[1]!);
        }
      });
      npm.once('exit', (code) => reject(new Error(`npm start exited with ${code}:\n${output}`)));
    });
    const port = Number(new URL(url).port);
    assert.equal((await fetch(`${url}/health`, { headers: { 'x-api-key': ADMIN_KEY } })).status, 200);
    const exited = once(npm, 'exit');
    npm.kill('SIGTERM');
    await exited;
    // npm waited for the server: by the time npm is gone, so is the listener.
    assert.equal(await portBusy(port), false, `port ${port} still held after npm exited:\n${output}`);
    assert.match(output, /SIGTERM received, shutting down/);
  } finally {
    if (npm.exitCode === null && npm.signalCode === null) npm.kill('SIGKILL');
  }
});
