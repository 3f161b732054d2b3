import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isApiError } from '../../src/errors.js';
import type { DataEngine, Database, EngineOptions } from '../../src/data/engine.js';
import { openDuckDBEngine } from '../../src/data/duckdb/index.js';

export function tempDataDir(): string {
  return mkdtempSync(join(tmpdir(), 'duckgate-data-'));
}

export function engineOptions(dataDir: string, overrides: Partial<EngineOptions> = {}): EngineOptions {
  return { dataDir, memoryLimit: '256MB', threads: 1, readConnections: 2, ...overrides };
}

/** A fresh data directory and engine per test, removed afterwards whatever happens. */
export async function withEngine<T>(run: (engine: DataEngine, dataDir: string) => Promise<T>, overrides: Partial<EngineOptions> = {}): Promise<T> {
  const dataDir = tempDataDir();
  const engine = await openDuckDBEngine(engineOptions(dataDir, overrides));
  try {
    return await run(engine, dataDir);
  } finally {
    await engine.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** The same, handing the test the `default` database. */
export function withDb<T>(run: (db: Database, engine: DataEngine, dataDir: string) => Promise<T>): Promise<T> {
  return withEngine((engine, dataDir) => run(engine.database('default'), engine, dataDir));
}

/** `assert.rejects` matcher for an ApiError with this status and code (and message, if given). */
export function apiError(status: number, code: string, message?: string | RegExp): (error: unknown) => boolean {
  return (error) => {
    if (!isApiError(error)) throw error;
    if (error.status !== status || error.code !== code) {
      throw new Error(`expected ${status} ${code}, got ${error.status} ${error.code}: ${error.message}`);
    }
    if (message !== undefined && !(typeof message === 'string' ? error.message === message : message.test(error.message))) {
      throw new Error(`unexpected message: ${error.message}`);
    }
    return true;
  };
}
