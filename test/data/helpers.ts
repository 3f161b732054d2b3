import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isApiError } from '../../src/errors.js';
import type { DataEngine, Database, EngineOptions } from '../../src/data/engine.js';
import { describe } from 'node:test';
import { openDuckDBEngine } from '../../src/data/duckdb/index.js';
import { ENGINES, type EngineUnderTest } from './engines.js';

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

export interface EngineHelpers {
  /** Which engine this run of the suite is on. */
  engine: 'duckdb' | 'postgres';
  withEngine<T>(run: (engine: DataEngine) => Promise<T>, overrides?: Partial<EngineOptions>): Promise<T>;
  withDb<T>(run: (db: Database, engine: DataEngine) => Promise<T>): Promise<T>;
  /** Opens this engine fresh, for a test that closes or reopens it itself. */
  open: EngineUnderTest['open'];
}

/**
 * One behaviour suite, two engines: `body` is declared once per engine inside a `describe` named
 * after it (PostgreSQL's skipped with the reason when it is unreachable), with helpers that open
 * that engine fresh for each test.
 */
export function engineSuites(body: (helpers: EngineHelpers) => void): void {
  for (const impl of ENGINES) {
    describe(impl.name, { skip: impl.skip }, () => {
      const withEngineOf = async <T>(run: (engine: DataEngine) => Promise<T>, overrides: Partial<EngineOptions> = {}): Promise<T> => {
        const opened = await impl.open(overrides);
        try {
          return await run(opened.engine);
        } finally {
          await opened.cleanup();
        }
      };
      body({
        engine: impl.name,
        withEngine: withEngineOf,
        withDb: (run) => withEngineOf((engine) => run(engine.database('default'), engine)),
        open: (overrides) => impl.open(overrides),
      });
    });
  }
}
