import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { DataEngine } from '../../src/data/engine.js';
import { openDuckDBEngine } from '../../src/data/duckdb/index.js';
import { openPostgresEngine } from '../../src/data/postgres/index.js';
import { freshPostgresData } from './engines.js';
import { engineOptions, engineSuites, tempDataDir } from './helpers.js';

const fixture = fileURLToPath(new URL('./fixtures/write-then-hang.ts', import.meta.url));

/** Runs the fixture with `args` and kill -9s it once it says its write resolved. */
async function writeThenKill(args: string[]): Promise<void> {
  const child = spawn(process.execPath, ['--import', 'tsx', fixture, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('written')) {
        child.kill('SIGKILL');
        resolve();
      }
    });
    child.on('exit', () => reject(new Error(`child exited before writing: ${stderr}`)));
  });
  assert.equal(await exited, 'SIGKILL');
}

async function assertSurvived(engine: DataEngine): Promise<void> {
  try {
    assert.deepEqual(await engine.database('default').findById('durable', 'r1'), { id: 'r1', note: 'survives kill -9' });
  } finally {
    await engine.close();
  }
}

engineSuites(({ engine }) => {
  test('a write that resolved survives kill -9 of the process', async () => {
    if (engine === 'duckdb') {
      const dir = tempDataDir();
      try {
        await writeThenKill([dir]);
        await assertSurvived(await openDuckDBEngine(engineOptions(dir)));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
      return;
    }
    const data = await freshPostgresData();
    try {
      await writeThenKill([data.url, data.schemaPrefix]);
      await assertSurvived(await openPostgresEngine({ url: data.url, schemaPrefix: data.schemaPrefix, poolSize: 1, statementTimeoutMs: 10_000 }));
    } finally {
      await data.drop();
    }
  });
});
