/**
 * The data planes an HTTP suite runs on: DuckDB in DATA_DIR (no extra settings), and PostgreSQL
 * through DATA_URL under a fresh locked-down role and schema prefix, scoped SQL as a fresh reader role (DATA_READER_URL), (skipped with the reason when
 * PostgreSQL is unreachable). `env()` gives the settings for `startTestServer`; `cleanup()` drops
 * what the PostgreSQL run made.
 */
import { freshPostgresData } from '../data/engines.js';
import { postgresUnavailable } from './postgres.js';

export interface DataBackend {
  name: 'duckdb' | 'postgres';
  skip: string | false;
  env(): Promise<Record<string, string>>;
  cleanup(): Promise<void>;
}

const postgresSkip = await postgresUnavailable();

export function dataBackends(): DataBackend[] {
  const drops: (() => Promise<void>)[] = [];
  return [
    { name: 'duckdb', skip: false, env: async () => ({}), cleanup: async () => undefined },
    {
      name: 'postgres',
      skip: postgresSkip,
      env: async () => {
        const data = await freshPostgresData();
        drops.push(data.drop);
        return { DATA_URL: data.url, DATA_READER_URL: data.readerUrl, DATA_SCHEMA_PREFIX: data.schemaPrefix };
      },
      cleanup: async () => {
        for (const drop of drops.splice(0)) await drop();
      },
    },
  ];
}
