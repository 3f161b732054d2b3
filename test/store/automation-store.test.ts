/** The AutomationStore contract (schedules, claims, the lease, settings) against every implementation. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { storeImplementations } from './implementations.js';

const T0 = Date.parse('2026-03-01T12:00:00.000Z');
const at = (ms: number) => new Date(T0 + ms).toISOString();

for (const impl of await storeImplementations()) {
  describe(`automation store: ${impl.name}`, { skip: impl.skip }, () => {
    test('schedules persist across reopening; a replace keeps the run history', async () => {
      const location = await impl.fresh();
      const first = await location.open();
      const created = await first.automation.putSchedule({ database: 'sales', kind: 'backup', intervalSeconds: 3600, enabled: true, options: { keep: 3 }, nextRunAt: at(0) }, at(-1000));
      assert.equal(created.runs, 0);
      assert.equal(created.createdAt, at(-1000));
      await first.automation.putSchedule({ database: 'sales', kind: 'sync', intervalSeconds: 300, enabled: false, options: {}, nextRunAt: at(0) }, at(-1000));
      await first.automation.recordRun('sales', 'backup', { at: at(5), status: 'failed', error: 'disk full', durationMs: 12 });
      await first.close();

      const { automation } = await location.open();
      const schedules = await automation.listSchedules();
      assert.deepEqual(schedules.map((s) => [s.database, s.kind, s.intervalSeconds, s.enabled]), [['sales', 'backup', 3600, true], ['sales', 'sync', 300, false]]);
      assert.deepEqual(schedules[0]!.options, { keep: 3 });
      assert.equal(schedules[0]!.lastStatus, 'failed');
      assert.equal(schedules[0]!.lastError, 'disk full');
      assert.equal(schedules[0]!.lastRunAt, at(5));
      assert.equal(schedules[0]!.runs, 1);
      const replaced = await automation.putSchedule({ database: 'sales', kind: 'backup', intervalSeconds: 7200, enabled: true, options: {}, nextRunAt: at(10) }, at(20));
      assert.equal(replaced.intervalSeconds, 7200);
      assert.equal(replaced.runs, 1, 'history kept');
      assert.equal(replaced.createdAt, at(-1000));
      assert.equal(replaced.updatedAt, at(20));
      assert.equal(await automation.deleteSchedule('sales', 'sync'), true);
      assert.equal(await automation.deleteSchedule('sales', 'sync'), false);
      assert.equal(await automation.getSchedule('sales', 'sync'), undefined);
    });

    test('a due run is claimed once, whoever asks, and never while disabled', async () => {
      const location = await impl.fresh();
      const [a, b] = [await location.open(), await location.open()];
      await a.automation.putSchedule({ database: 'sales', kind: 'backup', intervalSeconds: 60, enabled: true, options: {}, nextRunAt: at(0) }, at(0));
      const claims = await Promise.all([a, b, a, b].map((s) => s.automation.claimRun('sales', 'backup', at(0), at(60_000))));
      assert.equal(claims.filter(Boolean).length, 1);
      assert.equal((await b.automation.getSchedule('sales', 'backup'))!.nextRunAt, at(60_000));
      await a.automation.putSchedule({ database: 'sales', kind: 'backup', intervalSeconds: 60, enabled: false, options: {}, nextRunAt: at(0) }, at(0));
      assert.equal(await b.automation.claimRun('sales', 'backup', at(0), at(60_000)), false);
    });

    test('the lease: one holder; renewed by it; taken over only once expired or released', async () => {
      const location = await impl.fresh();
      const [a, b] = [await location.open(), await location.open()];
      const results = await Promise.all([
        a.automation.acquireLease('automation', 'runner-a', at(30_000), at(0)),
        b.automation.acquireLease('automation', 'runner-b', at(30_000), at(0)),
      ]);
      assert.equal(results.filter(Boolean).length, 1);
      const [winner, loser] = results[0] ? ['runner-a', 'runner-b'] : ['runner-b', 'runner-a'];
      assert.equal((await a.automation.getLease('automation'))!.holder, winner);
      assert.equal(await a.automation.acquireLease('automation', winner, at(40_000), at(10_000)), true, 'renewed');
      assert.equal(await b.automation.acquireLease('automation', loser, at(50_000), at(35_000)), false, 'not expired yet (renewed to 40s)');
      assert.equal(await b.automation.acquireLease('automation', loser, at(70_000), at(40_001)), true, 'expired: taken over');
      assert.equal(await a.automation.acquireLease('automation', winner, at(80_000), at(41_000)), false);
      await a.automation.releaseLease('automation', winner); // not the holder: nothing happens
      assert.equal((await a.automation.getLease('automation'))!.holder, loser);
      await b.automation.releaseLease('automation', loser);
      assert.equal(await a.automation.getLease('automation'), undefined);
      assert.equal(await a.automation.acquireLease('automation', winner, at(80_000), at(42_000)), true, 'released: free');
    });

    test('settings persist', async () => {
      const location = await impl.fresh();
      const first = await location.open();
      assert.equal(await first.automation.getSetting('automation.enabled'), undefined);
      await first.automation.setSetting('automation.enabled', 'false', at(0));
      await first.automation.setSetting('automation.enabled', 'true', at(1));
      await first.automation.setSetting('automation.enabled', 'false', at(2));
      await first.close();
      assert.equal(await (await location.open()).automation.getSetting('automation.enabled'), 'false');
    });
  });
}
