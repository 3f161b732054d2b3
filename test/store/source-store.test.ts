/** The SourceStore contract (source connections, sync logs) against every implementation. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { SyncRun } from '../../src/data/sync/types.js';
import { storeImplementations } from './implementations.js';

function run(id: string, database: string, finishedAt: string): SyncRun {
  return {
    id, database, type: 'full', status: 'success', startedAt: finishedAt, finishedAt, duration: 5, totalRecords: 3,
    tables: [{ table: 'orders', method: 'full', recordsProcessed: 3, recordsDeleted: 0, duration: 5, status: 'success', watermark: { column: 'updated_at', value: '2026-01-01T00:00:00.000Z' } }],
  };
}

for (const impl of await storeImplementations()) {
  describe(`source store: ${impl.name}`, { skip: impl.skip }, () => {
    test('a source is created, replaced, kept across reopening and deleted', async () => {
      const location = await impl.fresh();
      const first = await location.open();
      assert.equal(await first.sources.getSource('shop'), undefined);
      const created = await first.sources.putSource({ database: 'shop', url: 'mysql://app@db:3306/shop', sealedPassword: 'v1.a.b.c' });
      assert.equal(created.url, 'mysql://app@db:3306/shop');
      assert.equal(created.sealedPassword, 'v1.a.b.c');
      assert.match(created.createdAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      await new Promise((resolve) => setTimeout(resolve, 5));
      const replaced = await first.sources.putSource({ database: 'shop', url: 'mariadb://app@db2:3307/shop', sealedPassword: null });
      assert.equal(replaced.createdAt, created.createdAt);
      assert.notEqual(replaced.updatedAt, created.updatedAt);
      assert.equal(replaced.sealedPassword, null);
      await first.close();

      const { sources } = await location.open();
      assert.deepEqual(await sources.getSource('shop'), replaced);
      await sources.putSource({ database: 'analytics', url: 'mysql://r@h:3306/a', sealedPassword: null });
      assert.deepEqual((await sources.listSources()).map((s) => s.database), ['analytics', 'shop']);
      assert.equal(await sources.deleteSource('shop'), true);
      assert.equal(await sources.deleteSource('shop'), false);
      assert.equal(await sources.getSource('shop'), undefined);
    });

    test('sync logs: newest first, filtered by database, pruned by finish time, idempotent by id', async () => {
      const { sources } = await (await impl.fresh()).open();
      await sources.appendSyncLog(run('r1', 'shop', '2026-01-01T00:00:00.000Z'));
      await sources.appendSyncLog(run('r2', 'shop', '2026-01-02T00:00:00.000Z'));
      await sources.appendSyncLog(run('r3', 'other', '2026-01-03T00:00:00.000Z'));
      await sources.appendSyncLog(run('r3', 'other', '2026-01-03T00:00:00.000Z'));
      assert.deepEqual((await sources.listSyncLogs({ limit: 10 })).map((r) => r.id), ['r3', 'r2', 'r1']);
      assert.deepEqual((await sources.listSyncLogs({ database: 'shop', limit: 1 })).map((r) => r.id), ['r2']);
      assert.deepEqual((await sources.listSyncLogs({ database: 'shop', limit: 10 }))[0], run('r2', 'shop', '2026-01-02T00:00:00.000Z'));
      assert.equal(await sources.pruneSyncLogs('2026-01-02T12:00:00.000Z'), 2);
      assert.deepEqual((await sources.listSyncLogs({ limit: 10 })).map((r) => r.id), ['r3']);
    });
  });
}
