/** The automation runner on real stores: two runners on one store run each job once; the lease moves on stop or expiry. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AutomationRunner } from '../../src/automation/runner.js';
import type { Schedule } from '../../src/store/automation-store.js';
import { storeImplementations } from '../store/implementations.js';

const T0 = Date.parse('2026-03-01T12:00:00.000Z');

for (const impl of await storeImplementations()) {
  describe(`automation runner: ${impl.name}`, { skip: impl.skip }, () => {
    test('two runners on one store: every due run happens exactly once, by the lease holder', async () => {
      const location = await impl.fresh();
      const [storeA, storeB] = [await location.open(), await location.open()];
      let clock = T0;
      const runs: string[] = [];
      const runner = (name: string, store: typeof storeA) => new AutomationRunner({
        // The lease outlives the clock's one-minute steps, as it outlives real ticks.
        store: store.automation, holder: name, tickMs: 1000, leaseMs: 300_000, now: () => clock,
        run: async (schedule: Schedule) => {
          runs.push(`${name} ${schedule.database}/${schedule.kind} ${new Date(clock).toISOString()}`);
          // A job that takes a while: the other runner ticks meanwhile.
          await new Promise((resolve) => setTimeout(resolve, 20));
        },
      });
      const [a, b] = [runner('a', storeA), runner('b', storeB)];
      for (const database of ['sales', 'crm']) {
        await storeA.automation.putSchedule({ database, kind: 'backup', intervalSeconds: 60, enabled: true, options: {}, nextRunAt: new Date(T0).toISOString() }, new Date(T0).toISOString());
      }
      for (let minute = 0; minute < 5; minute++) {
        await Promise.all([a.tick(), b.tick(), a.tick(), b.tick()]);
        clock += 60_000;
      }
      assert.equal(runs.length, 10, runs.join('\n'));
      const holders = new Set(runs.map((r) => r.split(' ')[0]));
      assert.equal(holders.size, 1, 'one runner did all of it');
      const leader = holders.has('a') ? a : b;
      const other = leader === a ? b : a;
      assert.equal(leader.state().leader, true);
      assert.equal(other.state().leader, false);
      const schedules = await storeB.automation.listSchedules();
      assert.deepEqual(schedules.map((s) => [s.database, s.runs, s.lastStatus]), [['crm', 5, 'ok'], ['sales', 5, 'ok']]);

      // The leader stops: it gives the lease up, and the other runner takes over at its next tick.
      await leader.stop();
      runs.length = 0;
      await other.tick();
      assert.equal(runs.length, 2);
      assert.ok(runs.every((r) => r.startsWith(other.holder)));
    });

    test('a holder that vanished (no release) is replaced once its lease expires; failures are recorded', async () => {
      const location = await impl.fresh();
      const [storeA, storeB] = [await location.open(), await location.open()];
      let clock = T0;
      const ran: string[] = [];
      const make = (name: string, store: typeof storeA) => new AutomationRunner({
        store: store.automation, holder: name, tickMs: 1000, leaseMs: 120_000, now: () => clock,
        run: async (schedule) => {
          ran.push(name);
          if (schedule.database === 'broken') throw new Error("Database 'broken' not found");
        },
      });
      const [a, b] = [make('a', storeA), make('b', storeB)];
      await storeA.automation.putSchedule({ database: 'broken', kind: 'backup', intervalSeconds: 60, enabled: true, options: {}, nextRunAt: new Date(T0).toISOString() }, new Date(T0).toISOString());
      await a.tick();
      assert.deepEqual(ran, ['a']);
      const failed = (await storeB.automation.getSchedule('broken', 'backup'))!;
      assert.equal(failed.lastStatus, 'failed');
      assert.equal(failed.lastError, "Database 'broken' not found");
      assert.equal(failed.nextRunAt, new Date(T0 + 60_000).toISOString());
      // `a` crashes (never ticks again). Before its lease expires, `b` cannot run anything.
      clock += 60_000;
      await b.tick();
      assert.deepEqual(ran, ['a']);
      clock += 60_001;
      await b.tick();
      assert.deepEqual(ran, ['a', 'b']);
    });

    test('the persisted switch: stopped, no runner runs anything; started, they do', async () => {
      const location = await impl.fresh();
      const store = await location.open();
      let clock = T0;
      let runs = 0;
      const runner = new AutomationRunner({ store: store.automation, holder: 'x', tickMs: 1000, leaseMs: 30_000, now: () => clock, run: async () => void runs++ });
      await store.automation.putSchedule({ database: 'sales', kind: 'sync', intervalSeconds: 60, enabled: true, options: {}, nextRunAt: new Date(T0).toISOString() }, new Date(T0).toISOString());
      await store.automation.setSetting('automation.enabled', 'false', new Date(T0).toISOString());
      assert.equal(await runner.tick(), 0);
      assert.equal(runs, 0);
      await store.automation.setSetting('automation.enabled', 'true', new Date(T0).toISOString());
      clock += 1000;
      assert.equal(await runner.tick(), 1);
      assert.equal(runs, 1);
    });
  });
}
