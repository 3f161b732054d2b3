/**
 * The KeyStore contract, run against every implementation (SQLite, PostgreSQL): lookups by hash and
 * grace, the invariants as conditional operations (last admin, first admin) under real concurrency
 * (two connections, four processes), and times that round-trip to the same ISO strings.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { describe, test } from 'node:test';
import { generateApiKey } from '../../src/auth/api-key.js';
import { KeyService } from '../../src/auth/key-service.js';
import { isApiError } from '../../src/errors.js';
import type { NewKey } from '../../src/store/key-store.js';
import { ROOT } from '../helpers/process.js';
import { storeImplementations } from './implementations.js';

function newKey(id: string, overrides: Partial<NewKey> = {}): NewKey {
  const { hash, prefix } = generateApiKey();
  return { id, hash, prefix, label: id, description: '', isAdmin: false, permissions: {}, expiresAt: null, rateLimit: null, allowedIps: null, createdBy: 'test', ...overrides };
}

function adminKey(id: string): NewKey {
  return newKey(id, { isAdmin: true });
}

for (const impl of await storeImplementations()) {
  describe(`key store: ${impl.name}`, { skip: impl.skip }, () => {
    test('every field round-trips, times as the same ISO strings, JSON as written', async () => {
      const { keys } = await (await impl.fresh()).open();
      const expiresAt = '2031-02-03T04:05:06.789Z';
      const permissions = { zeta: { read: true, write: false, delete: false, select_fields: ['b', 'a'], exclude_fields: null, writable_fields: null } };
      const before = Date.now();
      const created = await keys.createKey(newKey('key_rt', { label: 'round trip', description: 'd', permissions, expiresAt, rateLimit: 42, allowedIps: ['10.0.0.0/8', '::1'] }));
      assert.equal(created.expiresAt, expiresAt);
      assert.deepEqual(Object.keys(created.permissions), ['zeta']);
      assert.deepEqual(created.permissions.zeta!.select_fields, ['b', 'a']);
      assert.equal(created.rateLimit, 42);
      assert.deepEqual(created.allowedIps, ['10.0.0.0/8', '::1']);
      assert.equal(created.generation, 1);
      assert.equal(created.lastUsedAt, null);
      assert.match(created.createdAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      assert.ok(Date.parse(created.createdAt) >= before - 5);
      assert.deepEqual(await keys.getKey('key_rt'), created);
      assert.deepEqual((await keys.listKeys()).map((k) => k.id), ['key_rt']);
      const usedAt = '2030-01-01T00:00:00.001Z';
      await keys.touchKeys(new Map([['key_rt', usedAt]]));
      await keys.touchKeys(new Map([['key_rt', '2029-01-01T00:00:00.000Z']]));
      assert.equal((await keys.getKey('key_rt'))?.lastUsedAt, usedAt, 'only a later use moves last_used_at');
      assert.equal(await keys.setPermissions('key_missing', {}), undefined);
      assert.deepEqual((await keys.setPermissions('key_rt', {}))?.permissions, {});
    });

    test('updateKey changes only the named fields, disables and enables, and keeps the last working admin', async () => {
      const location = await impl.fresh();
      const { keys } = await location.open();
      const record = newKey('key_u', { label: 'u', rateLimit: 5, allowedIps: ['::1'] });
      const created = await keys.createKey(record);
      assert.equal(created.disabledAt, null);
      const changed = await keys.updateKey('key_u', { label: 'renamed', rateLimit: null, expiresAt: '2040-01-01T00:00:00.000Z' });
      assert.deepEqual(changed, { outcome: 'updated', key: { ...created, label: 'renamed', rateLimit: null, expiresAt: '2040-01-01T00:00:00.000Z' } });
      const disabled = await keys.updateKey('key_u', { disabled: true });
      assert.ok(disabled.outcome === 'updated' && disabled.key.disabledAt !== null);
      // The store still finds it (and says it is disabled): refusing it is the authenticator's job.
      assert.equal((await keys.findKeyByHash(record.hash))?.key.disabledAt, disabled.key.disabledAt);
      const enabled = await keys.updateKey('key_u', { disabled: false });
      assert.ok(enabled.outcome === 'updated' && enabled.key.disabledAt === null);
      assert.deepEqual(await keys.updateKey('key_missing', { label: 'x' }), { outcome: 'not_found' });

      await keys.createKey(adminKey('key_admin_a'));
      await keys.createKey(adminKey('key_admin_b'));
      const require = { requireOtherAdmins: 1 };
      assert.equal((await keys.updateKey('key_admin_a', { disabled: true }, require)).outcome, 'updated');
      assert.equal((await keys.updateKey('key_admin_b', { isAdmin: false }, require)).outcome, 'last_admin', 'a disabled admin does not count');
      assert.equal((await keys.updateKey('key_admin_b', { disabled: true }, require)).outcome, 'last_admin');
      assert.equal((await keys.getKey('key_admin_b'))?.isAdmin, true, 'nothing applied');
      assert.equal(await keys.revokeKey('key_admin_b', require), 'last_admin');
      assert.equal((await keys.updateKey('key_admin_a', { disabled: false }, require)).outcome, 'updated');

      // Two connections demoting the last two admins at once: one wins, the other is refused.
      const other = (await location.open()).keys;
      const outcomes = await Promise.all([
        keys.updateKey('key_admin_a', { isAdmin: false }, require),
        other.updateKey('key_admin_b', { disabled: true }, require),
      ]);
      assert.deepEqual(outcomes.map((o) => o.outcome).sort(), ['last_admin', 'updated']);
    });

    test('a key is found by its current hash, by its previous hash during grace, never after revocation', async () => {
      const { keys } = await (await impl.fresh()).open();
      const first = newKey('key_b');
      await keys.createKey(first);
      assert.equal((await keys.findKeyByHash(first.hash))?.key.id, 'key_b');
      assert.equal(await keys.findKeyByHash('0'.repeat(64)), undefined);
      const second = generateApiKey();
      const graceUntil = new Date(Date.now() + 60_000).toISOString();
      await keys.replaceKeyHash('key_b', second, graceUntil);
      assert.equal((await keys.findKeyByHash(first.hash))?.validUntil, graceUntil);
      assert.equal((await keys.findKeyByHash(second.hash))?.key.generation, 2);
      assert.equal((await keys.findKeyByHash(second.hash))?.validUntil, null);
      // A second regeneration ends the first one's grace.
      const third = generateApiKey();
      await keys.replaceKeyHash('key_b', third, null);
      assert.equal(await keys.findKeyByHash(first.hash), undefined);
      assert.equal(await keys.findKeyByHash(second.hash), undefined);
      assert.equal((await keys.findKeyByHash(third.hash))?.key.generation, 3);
      assert.equal(await keys.revokeKey('key_b'), 'revoked');
      assert.equal(await keys.findKeyByHash(third.hash), undefined);
      assert.equal(await keys.getKey('key_b'), undefined);
      assert.equal(await keys.revokeKey('key_b'), 'not_found', 'revoking twice');
      assert.equal(await keys.replaceKeyHash('key_b', generateApiKey(), null), undefined, 'a revoked key is not regenerated');
    });

    test('a grace period never outlives the key\'s own expiry', async () => {
      const { keys } = await (await impl.fresh()).open();
      const expiresAt = new Date(Date.now() + 30_000).toISOString();
      const first = newKey('key_g', { expiresAt });
      await keys.createKey(first);
      await keys.replaceKeyHash('key_g', generateApiKey(), new Date(Date.now() + 3_600_000).toISOString());
      assert.equal((await keys.findKeyByHash(first.hash))?.validUntil, expiresAt);
    });

    test('one live key per id: creating an id twice fails and changes nothing', async () => {
      const { keys } = await (await impl.fresh()).open();
      await keys.createKey(newKey('key_same', { label: 'first' }));
      await assert.rejects(keys.createKey(newKey('key_same', { label: 'second' })));
      assert.equal((await keys.getKey('key_same'))?.label, 'first');
    });

    test('the last-admin rule is one conditional revocation in the store', async () => {
      const { keys } = await (await impl.fresh()).open();
      await keys.createKey(adminKey('key_admin'));
      await keys.createKey(newKey('key_plain'));
      assert.equal(await keys.revokeKey('key_admin', { requireOtherAdmins: 1 }), 'last_admin');
      assert.equal(await keys.countAdminKeys(), 1, 'nothing changed');
      assert.equal(await keys.revokeKey('key_plain', { requireOtherAdmins: 1 }), 'revoked', 'only admin keys are held back');
      assert.equal(await keys.revokeKey('key_missing', { requireOtherAdmins: 1 }), 'not_found');
      assert.equal(await keys.revokeKey('key_admin', { requireOtherAdmins: 0 }), 'revoked', 'with an environment admin key, the last one may go');
    });

    test('two connections revoking the last two admin keys at once leave one admin', async () => {
      const location = await impl.fresh();
      const one = await location.open();
      const two = await location.open();
      await one.keys.createKey(adminKey('key_a1'));
      await one.keys.createKey(adminKey('key_a2'));
      // Two services on two connections, interleaving at every await: a count read before the
      // revocation (check-then-act) sees two admins in both, and both would revoke.
      const outcomes = await Promise.allSettled([
        new KeyService(one.keys, { environmentAdminKeys: 0 }).revoke('key_a1', 'one'),
        new KeyService(two.keys, { environmentAdminKeys: 0 }).revoke('key_a2', 'two'),
      ]);
      assert.equal(outcomes.filter((o) => o.status === 'fulfilled').length, 1, JSON.stringify(outcomes));
      const refused = outcomes.find((o) => o.status === 'rejected');
      assert.ok(refused && isApiError(refused.reason) && refused.reason.status === 409);
      assert.equal(await one.keys.countAdminKeys(), 1);
    });

    test('processes revoking every admin key at the same moment never leave zero admins', async () => {
      const location = await impl.fresh();
      const { keys } = await location.open();
      const ids = ['key_p1', 'key_p2', 'key_p3', 'key_p4'];
      for (const id of ids) await keys.createKey(adminKey(id));
      const startAt = Date.now() + 4000;
      const worker = path.join(ROOT, 'test/store/workers/revoke-admin.ts');
      const runs = ids.map((id) => new Promise<string>((resolve, reject) => {
        execFile(process.execPath, ['--import', 'tsx', worker, JSON.stringify(location.config), id, String(startAt)], { cwd: ROOT, timeout: 30_000 }, (error, stdout, stderr) => {
          if (error) reject(new Error(`${error.message}\n${stderr}`));
          else resolve(stdout);
        });
      }));
      const outcomes = (await Promise.all(runs)).map((line) => (JSON.parse(line) as { outcome: string }).outcome);
      assert.equal(await keys.countAdminKeys(), 1, `one admin remains: ${JSON.stringify(outcomes)}`);
      assert.deepEqual(outcomes.filter((o) => o !== 'revoked'), ['409 conflict'], JSON.stringify(outcomes));
    });

    test('of two processes starting on an empty store at once, one creates the first admin key', async () => {
      const location = await impl.fresh();
      const one = await location.open();
      const two = await location.open();
      const created = await Promise.all([
        new KeyService(one.keys, { environmentAdminKeys: 0 }).ensureAdminKey(),
        new KeyService(two.keys, { environmentAdminKeys: 0 }).ensureAdminKey(),
      ]);
      assert.equal(created.filter(Boolean).length, 1, 'one banner, one key');
      assert.equal(await one.keys.countAdminKeys(), 1);
      assert.equal(await one.keys.createFirstAdminKey(adminKey('key_late')), undefined, 'never a second first admin');
    });
  });
}
