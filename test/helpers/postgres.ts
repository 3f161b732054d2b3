/**
 * A real PostgreSQL for tests (POSTGRES_TEST_URL, else the local default with trust auth). Each
 * test run works in a schema of its own with a random name, dropped afterwards; when PostgreSQL
 * cannot be reached the PostgreSQL tests are skipped with the reason, never silently passed.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const POSTGRES_TEST_URL = process.env.POSTGRES_TEST_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** A skip reason for node:test (`{ skip }`), or false when PostgreSQL answers. */
export async function postgresUnavailable(): Promise<string | false> {
  const probe = new pg.Client({ connectionString: POSTGRES_TEST_URL, connectionTimeoutMillis: 1000 });
  probe.on('error', () => {});
  try {
    await probe.connect();
    await probe.query('SELECT 1');
    return false;
  } catch (error) {
    return `PostgreSQL unreachable at ${POSTGRES_TEST_URL} (${error instanceof Error ? error.message : String(error)})`;
  } finally {
    await probe.end().catch(() => {});
  }
}

export interface TestSchema {
  schema: string;
  /** POSTGRES_TEST_URL with this schema as the search_path: what STORE_URL is set to. */
  url: string;
  drop(): Promise<void>;
}

/** A new empty schema, and the store URL that works in it. */
export async function createTestSchema(name = 'store'): Promise<TestSchema> {
  const schema = `dg_test_${name}_${randomBytes(6).toString('hex')}`;
  await adminQuery(`CREATE SCHEMA ${schema}`);
  return {
    schema,
    url: withSearchPath(POSTGRES_TEST_URL, schema),
    drop: async () => {
      await adminQuery(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    },
  };
}

export function withSearchPath(url: string, schema: string): string {
  return `${url}${url.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${schema}`)}`;
}

/**
 * One statement on a connection of its own (schema management, terminating backends). Role and
 * GRANT DDL from tests running in parallel can meet on the same catalog row ("tuple concurrently
 * updated", XX000): such a statement is tried again, a few times.
 */
export async function adminQuery<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<R[]> {
  for (let attempt = 1; ; attempt++) {
    const client = new pg.Client({ connectionString: POSTGRES_TEST_URL });
    client.on('error', () => {});
    await client.connect();
    try {
      return (await client.query<R>(text, values)).rows;
    } catch (error) {
      if (attempt >= 5 || !/tuple concurrently updated/.test(error instanceof Error ? error.message : '')) throw error;
    } finally {
      await client.end().catch(() => {});
    }
    await new Promise((resolve) => setTimeout(resolve, 20 * attempt + Math.random() * 50));
  }
}
