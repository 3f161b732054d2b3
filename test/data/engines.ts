/**
 * The data engines every data behaviour suite runs against: DuckDB in a temp directory, and
 * PostgreSQL (DATA_URL) under a role of its own, locked down as the engine demands (no superuser,
 * CREATE on the test database only), with a schema prefix of its own. Each fresh engine gets a new
 * role and prefix; its schemas and role are dropped afterwards. PostgreSQL suites are skipped with
 * the reason when it is unreachable.
 */
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import type { DataEngine, EngineOptions } from '../../src/data/engine.js';
import { openDuckDBEngine } from '../../src/data/duckdb/index.js';
import { openPostgresEngine } from '../../src/data/postgres/index.js';
import { adminQuery, postgresUnavailable, POSTGRES_TEST_URL } from '../helpers/postgres.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type EngineName = 'duckdb' | 'postgres';

export interface OpenedEngine {
  engine: DataEngine;
  /** Closes the engine and removes everything it made. */
  cleanup(): Promise<void>;
  /** PostgreSQL only: what DATA_URL and DATA_SCHEMA_PREFIX are for another process on the same data. */
  postgres?: { url: string; readerUrl: string; schemaPrefix: string };
}

export interface EngineUnderTest {
  name: EngineName;
  skip: string | false;
  /** PostgreSQL takes `readConnections` as its pool size (one connection serves reads and writes). */
  open(overrides?: Partial<EngineOptions>): Promise<OpenedEngine>;
}

export interface FreshPostgresData {
  /** DATA_URL: the main role. */
  url: string;
  /** DATA_READER_URL: a role with no privileges of its own, which the engine grants reads to. */
  readerUrl: string;
  role: string;
  readerRole: string;
  schemaPrefix: string;
  drop(): Promise<void>;
}

/** A fresh locked-down role, a reader role and a schema prefix on the test database. */
export async function freshPostgresData(): Promise<FreshPostgresData> {
  const tag = randomBytes(5).toString('hex');
  const role = `dgt_${tag}`;
  const readerRole = `dgt_${tag}_reader`;
  const schemaPrefix = `dgt_${tag}_`;
  const database = new URL(POSTGRES_TEST_URL).pathname.slice(1) || 'postgres';
  await adminQuery(`CREATE ROLE ${role} LOGIN NOSUPERUSER NOCREATEROLE NOCREATEDB`);
  await adminQuery(`GRANT CREATE ON DATABASE ${database} TO ${role}`);
  await adminQuery(`CREATE ROLE ${readerRole} LOGIN NOSUPERUSER NOCREATEROLE NOCREATEDB NOINHERIT`);
  const login = (name: string): string => {
    const url = new URL(POSTGRES_TEST_URL);
    url.username = name;
    url.password = '';
    return url.toString();
  };
  return {
    url: login(role),
    readerUrl: login(readerRole),
    role,
    readerRole,
    schemaPrefix,
    drop: async () => {
      const schemas = await adminQuery<{ nspname: string }>('SELECT nspname FROM pg_namespace WHERE starts_with(nspname, $1)', [schemaPrefix]);
      for (const { nspname } of schemas) await adminQuery(`DROP SCHEMA IF EXISTS "${nspname}" CASCADE`);
      await adminQuery(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = ANY($1::text[])`, [[role, readerRole]]);
      // The main role's grants to the reader (and its default privileges) go with DROP OWNED.
      await adminQuery(`DROP OWNED BY ${readerRole}, ${role} CASCADE`);
      await adminQuery(`DROP ROLE IF EXISTS ${readerRole}`);
      await adminQuery(`DROP ROLE IF EXISTS ${role}`);
    },
  };
}

const postgresSkip = await postgresUnavailable();

export const ENGINES: EngineUnderTest[] = [
  {
    name: 'duckdb',
    skip: false,
    open: async (overrides = {}) => {
      const dataDir = mkdtempSync(join(tmpdir(), 'duckgate-data-'));
      const engine = await openDuckDBEngine({ dataDir, memoryLimit: '256MB', threads: 1, readConnections: 2, ...overrides });
      return {
        engine,
        cleanup: async () => {
          await engine.close();
          rmSync(dataDir, { recursive: true, force: true });
        },
      };
    },
  },
  {
    name: 'postgres',
    skip: postgresSkip,
    open: async (overrides = {}) => {
      const data = await freshPostgresData();
      let engine: DataEngine;
      try {
        engine = await openPostgresEngine({ url: data.url, readerUrl: data.readerUrl, schemaPrefix: data.schemaPrefix, poolSize: overrides.readConnections ?? 4, statementTimeoutMs: 60_000, limits: overrides.limits });
      } catch (error) {
        await data.drop();
        throw error;
      }
      return {
        engine,
        postgres: { url: data.url, readerUrl: data.readerUrl, schemaPrefix: data.schemaPrefix },
        cleanup: async () => {
          await engine.close();
          await data.drop();
        },
      };
    },
  },
];
