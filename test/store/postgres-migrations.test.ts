/**
 * PostgreSQL store start-up: migrations apply once even when three replicas open an empty schema
 * at the same moment (advisory lock), reopening applies nothing, and an unreachable store is a
 * 503 `unavailable` (not a 500) that heals by itself once PostgreSQL answers again.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { isApiError } from '../../src/errors.js';
import { openControlStore, type ControlStore } from '../../src/store/index.js';
import { POSTGRES_MIGRATIONS } from '../../src/store/postgres/migrations.js';
import { adminQuery, createTestSchema, postgresUnavailable, type TestSchema } from '../helpers/postgres.js';
import { tempDir } from '../helpers/server.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';

const skip = await postgresUnavailable();
const schemas: TestSchema[] = [];
const stores: ControlStore[] = [];
after(async () => {
  for (const store of stores) await store.close();
  for (const schema of schemas) await schema.drop();
});

async function open(storeUrl: string): Promise<ControlStore> {
  const store = await openControlStore({ dataDir: tempDir(), storeUrl });
  stores.push(store);
  return store;
}

describe('postgres store start-up', { skip }, () => {
  test('three replicas opening an empty schema at once apply each migration once', async () => {
    const schema = await createTestSchema('migrate');
    schemas.push(schema);
    await Promise.all([open(schema.url), open(schema.url), open(schema.url)]);
    const rows = await adminQuery<{ version: number }>(`SELECT version FROM ${schema.schema}.schema_migrations ORDER BY version`);
    assert.deepEqual(rows.map((r) => r.version), POSTGRES_MIGRATIONS.map((m) => m.version));
    await open(schema.url);
    assert.equal((await adminQuery(`SELECT 1 FROM ${schema.schema}.schema_migrations`)).length, POSTGRES_MIGRATIONS.length);
  });

  test('a store that cannot be reached answers 503 unavailable, and recovers by itself', async () => {
    const schema = await createTestSchema('down');
    schemas.push(schema);
    const proxy = await startTcpProxy(5432);
    try {
      const url = schema.url.replace('127.0.0.1:5432', `127.0.0.1:${proxy.port}`);
      const store = await open(url);
      assert.deepEqual(await store.keys.listKeys(), []);
      proxy.cut();
      const failure = await store.keys.listKeys().then(() => undefined, (error: unknown) => error);
      assert.ok(isApiError(failure) && failure.status === 503 && failure.code === 'unavailable', String(failure));
      proxy.restore();
      assert.deepEqual(await store.keys.listKeys(), [], 'the pool opens a fresh connection');
    } finally {
      await proxy.close();
    }
  });
});
