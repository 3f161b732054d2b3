/** The AuditStore contract against every implementation (SQLite, PostgreSQL). */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { AuditEvent, AuditStore } from '../../src/store/audit-store.js';
import { storeImplementations, type StoreImplementation } from './implementations.js';

function event(overrides: Partial<AuditEvent> = {}): AuditEvent {
  return {
    at: '2024-05-01T12:00:00.000Z',
    kind: 'auth.failure',
    actor: null,
    keyPrefix: null,
    ip: '203.0.113.7',
    userAgent: 'curl/8.0',
    route: 'GET /api/find/:collection',
    code: 'invalid_api_key',
    target: null,
    details: null,
    ...overrides,
  };
}

async function openStore(impl: StoreImplementation): Promise<AuditStore> {
  return (await (await impl.fresh()).open()).audit;
}

for (const impl of await storeImplementations()) {
  describe(`audit store: ${impl.name}`, { skip: impl.skip }, () => {
    test('append then query: every field round-trips, newest first, ids increasing', async () => {
      const store = await openStore(impl);
      await store.append([
        event({ keyPrefix: 'dk_live_abcdefgh', details: { method: 'api-key' } }),
        event({ kind: 'key.created', actor: 'env:admin', target: 'key_1', code: null, ip: null, userAgent: null, route: 'POST /api/auth/register', at: '2024-05-01T12:00:01.000Z', details: { label: 'ci', is_admin: false } }),
      ]);
      const events = await store.query({ limit: 10 });
      assert.equal(events.length, 2);
      assert.ok(events[0]!.id > events[1]!.id);
      assert.deepEqual(events[0], {
        id: events[0]!.id, at: '2024-05-01T12:00:01.000Z', kind: 'key.created', actor: 'env:admin', keyPrefix: null, ip: null,
        userAgent: null, route: 'POST /api/auth/register', code: null, target: 'key_1', details: { label: 'ci', is_admin: false },
      });
      assert.deepEqual(events[1], { ...event({ keyPrefix: 'dk_live_abcdefgh', details: { method: 'api-key' } }), id: events[1]!.id });
      await store.close();
    });

    test('appending nothing is a no-op; a failing batch writes none of its events', async () => {
      const store = await openStore(impl);
      await store.append([]);
      await assert.rejects(store.append([event(), event({ kind: null as unknown as 'auth.failure' })]));
      assert.deepEqual(await store.query({ limit: 10 }), []);
      await store.close();
    });

    test('filters: kinds, actor, ip, code, target, since (inclusive), until (exclusive), combined', async () => {
      const store = await openStore(impl);
      await store.append([
        event({ at: '2024-05-01T00:00:00.000Z', ip: '10.0.0.1', code: 'invalid_api_key' }),
        event({ at: '2024-05-02T00:00:00.000Z', ip: '10.0.0.2', code: 'missing_api_key' }),
        event({ at: '2024-05-03T00:00:00.000Z', kind: 'key.revoked', actor: 'key_admin', target: 'key_a', code: null, ip: '10.0.0.1' }),
        event({ at: '2024-05-04T00:00:00.000Z', kind: 'key.created', actor: 'env:admin', target: 'key_b', code: null }),
        event({ at: '2024-05-05T00:00:00.000Z', kind: 'auth.login', actor: 'admin', code: null }),
      ]);
      const ats = async (q: Parameters<typeof store.query>[0]) => (await store.query(q)).map((e) => e.at.slice(8, 10));
      assert.deepEqual(await ats({ limit: 10 }), ['05', '04', '03', '02', '01']);
      assert.deepEqual(await ats({ limit: 10, kinds: ['key.created', 'key.revoked'] }), ['04', '03']);
      assert.deepEqual(await ats({ limit: 10, kinds: [] }), []);
      assert.deepEqual(await ats({ limit: 10, actor: 'env:admin' }), ['04']);
      assert.deepEqual(await ats({ limit: 10, ip: '10.0.0.1' }), ['03', '01']);
      assert.deepEqual(await ats({ limit: 10, code: 'missing_api_key' }), ['02']);
      assert.deepEqual(await ats({ limit: 10, target: 'key_a' }), ['03']);
      assert.deepEqual(await ats({ limit: 10, since: '2024-05-03T00:00:00.000Z' }), ['05', '04', '03']);
      assert.deepEqual(await ats({ limit: 10, until: '2024-05-03T00:00:00Z' }), ['02', '01']);
      assert.deepEqual(await ats({ limit: 10, since: '2024-05-02', until: '2024-05-04' }), ['03', '02']);
      assert.deepEqual(await ats({ limit: 10, kinds: ['auth.failure'], ip: '10.0.0.1' }), ['01']);
      // Values go in as parameters, never as SQL.
      assert.deepEqual(await ats({ limit: 10, actor: "' OR 1=1 --" }), []);
      await assert.rejects(store.query({ limit: 10, since: 'yesterday' }), RangeError);
      await store.close();
    });

    test('keyset paging by id walks every event once, newest first', async () => {
      const store = await openStore(impl);
      await store.append(Array.from({ length: 25 }, (_, i) => event({ target: `key_${i}` })));
      const seen: string[] = [];
      let before: number | undefined;
      for (let page = 0; page < 10; page++) {
        const events = await store.query({ limit: 10, before });
        seen.push(...events.map((e) => e.target!));
        if (events.length < 10) break;
        before = events[events.length - 1]!.id;
      }
      assert.deepEqual(seen, Array.from({ length: 25 }, (_, i) => `key_${24 - i}`));
      assert.deepEqual(await store.query({ limit: 0 }), []);
      await store.close();
    });

    test('prune deletes only events older than the cutoff, in chunks, and counts them', async () => {
      const store = await openStore(impl);
      const old = Array.from({ length: 12_000 }, () => event({ at: '2024-01-01T00:00:00.000Z' }));
      await store.append([...old, event({ at: '2024-03-01T00:00:00.000Z', target: 'kept' }), event({ at: '2024-02-01T00:00:00.000Z', target: 'edge' })]);
      assert.equal(await store.prune('2024-02-01T00:00:00.000Z'), 12_000);
      assert.deepEqual((await store.query({ limit: 100 })).map((e) => e.target), ['edge', 'kept']);
      assert.equal(await store.prune('2024-02-01T00:00:00.000Z'), 0);
      await store.close();
      await store.close();
    });

    test('trim keeps the newest `keep` events, deleting the oldest in chunks, and counts them', async () => {
      const store = await openStore(impl);
      assert.equal(await store.trim(10), 0, 'an empty store');
      await store.append(Array.from({ length: 12_000 }, (_, i) => event({ target: `t${i}` })));
      assert.equal(await store.trim(20_000), 0, 'under the bound: nothing');
      assert.equal(await store.trim(1000), 11_000);
      const kept = await store.query({ limit: 5000 });
      assert.equal(kept.length, 1000);
      assert.equal(kept[0]!.target, 't11999');
      assert.equal(kept.at(-1)!.target, 't11000');
      // One more event at the bound pushes out the oldest one.
      await store.append([event({ target: 'new' })]);
      assert.equal(await store.trim(1000), 1);
      assert.equal((await store.query({ limit: 5000 })).length, 1000);
      assert.equal(await store.trim(0), 1000, 'keep 0 empties it');
      await store.close();
    });
  });
}
