import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { openDuckDBEngine } from '../../src/data/duckdb/index.js';
import { engineOptions, tempDataDir } from './helpers.js';

const fixture = fileURLToPath(new URL('./fixtures/write-then-hang.ts', import.meta.url));

test('a write that resolved survives kill -9 of the process', async () => {
  const dir = tempDataDir();
  try {
    const child = spawn(process.execPath, ['--import', 'tsx', fixture, dir], { stdio: ['ignore', 'pipe', 'pipe'] });
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
    const engine = await openDuckDBEngine(engineOptions(dir));
    try {
      assert.deepEqual(await engine.database('default').findById('durable', 'r1'), { id: 'r1', note: 'survives kill -9' });
    } finally {
      await engine.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
