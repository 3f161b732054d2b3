/**
 * Several duckgate processes on one DATA_URL see one data plane: three engines (three pools, as
 * three replicas would have) on the same PostgreSQL schemas. What one writes the others read at
 * once; concurrent upserts of one externalId end as one record; concurrent first writes that grow
 * a collection agree on its columns; a batch is all or nothing even when its connection dies.
 */
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import type { DataEngine } from '../../src/data/engine.js';
import { openPostgresEngine } from '../../src/data/postgres/index.js';
import { adminQuery, postgresUnavailable } from '../helpers/postgres.js';
import { freshPostgresData } from './engines.js';

const skip = await postgresUnavailable();

async function replicas(count: number): Promise<{ engines: DataEngine[]; cleanup(): Promise<void>; role: string }> {
  const data = await freshPostgresData();
  const engines: DataEngine[] = [];
  for (let i = 0; i < count; i++) {
    engines.push(await openPostgresEngine({ url: data.url, schemaPrefix: data.schemaPrefix, poolSize: 4, statementTimeoutMs: 60_000 }));
  }
  return {
    engines,
    role: new URL(data.url).username,
    cleanup: async () => {
      for (const engine of engines) await engine.close();
      await data.drop();
    },
  };
}

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const cleanup of cleanups) await cleanup();
});

describe('one DATA_URL, three replicas', { skip }, () => {
  test('a record written through one replica is read through the other two at once', async () => {
    const { engines, cleanup } = await replicas(3);
    cleanups.push(cleanup);
    const [a, b, c] = engines.map((e) => e.database('default'));
    const stored = await a!.insert('orders', { id: 'o1', total: 12.5, note: 'first' });
    assert.deepEqual(await b!.findById('orders', 'o1'), stored);
    assert.deepEqual(await c!.find('orders', {}), [stored]);
    // A field added through replica 3 is filterable through replica 1 at once.
    await c!.insert('orders', { id: 'o2', total: 3, channel: 'web' });
    assert.deepEqual((await a!.find('orders', { filter: { type: 'Condition', content: { field: 'channel', operator: 'Eq', value: 'web' } } })).map((r) => r.id), ['o2']);
  });

  test('concurrent upserts of one externalId through three replicas end as one record', async () => {
    const { engines, cleanup } = await replicas(3);
    cleanups.push(cleanup);
    for (let round = 0; round < 5; round++) {
      const results = await Promise.all(engines.map((engine, i) => engine.database('default').sync({ items: [{ externalId: `ext-${round}`, by: i }] })));
      const created = results.reduce((sum, r) => sum + r.items!.created, 0);
      assert.equal(created, 1, `round ${round}: ${JSON.stringify(results)}`);
    }
    assert.equal(await engines[0]!.database('default').count('items'), 5);
  });

  test('concurrent first writes that add the same fields agree on the columns', async () => {
    const { engines, cleanup } = await replicas(3);
    cleanups.push(cleanup);
    await Promise.all(engines.map((engine, i) => engine.database('default').insert('wide', { id: `r${i}`, a: 1, b: 'x', c: true })));
    assert.deepEqual((await engines[1]!.database('default').schema('wide')).map((c) => c.column_name), ['id', 'a', 'b', 'c']);
    assert.equal(await engines[2]!.database('default').count('wide'), 3);
  });

  test('a batch whose connection is killed mid-way leaves nothing behind', async () => {
    const { engines, role, cleanup } = await replicas(2);
    cleanups.push(cleanup);
    const db = engines[0]!.database('default');
    await db.insert('events', { id: 'before', n: 0 });
    const items = Array.from({ length: 3000 }, (_, i) => ({ id: `e${i}`, n: i }));
    const batch = db.batchInsert('events', items).then(() => 'finished', (error: unknown) => error);
    // Kill the backend holding the batch's transaction while it runs, as a crashed replica would.
    let killed = 0;
    for (let i = 0; i < 200 && killed === 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      const rows = await adminQuery<{ k: boolean }>(
        `SELECT pg_terminate_backend(pid) AS k FROM pg_stat_activity WHERE usename = $1 AND state <> 'idle' AND xact_start IS NOT NULL AND query NOT LIKE '%pg_namespace%'`,
        [role],
      );
      killed = rows.filter((r) => r.k).length;
    }
    const outcome = await batch;
    assert.ok(outcome instanceof Error, `the batch answered ${String(outcome)}`);
    assert.equal((outcome as { code?: string }).code, 'unavailable');
    assert.ok(killed > 0, 'the batch finished before it could be killed');
    const counted = await engines[1]!.database('default').count('events');
    assert.equal(counted, 1, 'only the record written before the batch');
  });
});
