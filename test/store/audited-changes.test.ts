/**
 * A change to a key or an account and its audit event commit together (issue 18): both, or, when
 * the change fails or changes nothing, neither. Run against every store implementation.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { generateApiKey } from '../../src/auth/api-key.js';
import type { AuditEvent, AuditKind } from '../../src/store/audit-store.js';
import type { NewKey } from '../../src/store/key-store.js';
import type { ControlStore } from '../../src/store/index.js';
import { storeImplementations } from './implementations.js';

function newKey(id: string, isAdmin = false): NewKey {
  const { hash, prefix } = generateApiKey();
  return { id, hash, prefix, label: id, description: '', isAdmin, permissions: {}, expiresAt: null, rateLimit: null, allowedIps: null, createdBy: 'test' };
}

function event(kind: AuditKind, target: string): AuditEvent {
  return { at: new Date().toISOString(), kind, actor: 'tester', keyPrefix: null, ip: null, userAgent: null, route: null, code: null, target, details: { n: 1 } };
}

/** An event the store must refuse (a required column left empty): the change must go with it. */
function broken(target: string): AuditEvent {
  return { ...event('key.created', target), kind: null as unknown as AuditKind };
}

async function trail(stores: ControlStore): Promise<string[]> {
  return (await stores.audit.query({ limit: 100 })).map((e) => `${e.kind} ${e.target}`).reverse();
}

for (const impl of await storeImplementations()) {
  describe(`audited changes: ${impl.name}: a change and its audit event commit together`, { skip: impl.skip }, () => {
    const open = async () => (await impl.fresh()).open();
    test('every key change writes the event it is handed, with the change', async () => {
      const stores = await open();
      try {
        const created = await stores.keys.createKey(newKey('key_a'), event('key.created', 'key_a'));
        assert.equal(created.id, 'key_a');
        const next = generateApiKey();
        assert.ok(await stores.keys.replaceKeyHash('key_a', next, null, event('key.regenerated', 'key_a')));
        assert.ok(await stores.keys.setPermissions('key_a', {}, event('key.permissions', 'key_a')));
        assert.equal(await stores.keys.revokeKey('key_a', undefined, event('key.revoked', 'key_a')), 'revoked');
        assert.ok(await stores.keys.createFirstAdminKey(newKey('key_admin', true), event('key.created', 'key_admin')));
        assert.deepEqual(await trail(stores), [
          'key.created key_a', 'key.regenerated key_a', 'key.permissions key_a', 'key.revoked key_a', 'key.created key_admin',
        ]);
        const [stored] = await stores.audit.query({ limit: 1, target: 'key_a', kinds: ['key.revoked'] });
        assert.equal(stored?.actor, 'tester');
        assert.deepEqual(stored?.details, { n: 1 });
      } finally {
        await stores.close();
      }
    });

    test('a key write that changes nothing writes no event', async () => {
      const stores = await open();
      try {
        await stores.keys.createKey(newKey('key_admin', true));
        assert.equal(await stores.keys.createFirstAdminKey(newKey('key_second', true), event('key.created', 'key_second')), undefined);
        assert.equal(await stores.keys.revokeKey('key_none', undefined, event('key.revoked', 'key_none')), 'not_found');
        assert.equal(await stores.keys.revokeKey('key_admin', { requireOtherAdmins: 1 }, event('key.revoked', 'key_admin')), 'last_admin');
        assert.equal(await stores.keys.replaceKeyHash('key_none', generateApiKey(), null, event('key.regenerated', 'key_none')), undefined);
        assert.equal(await stores.keys.setPermissions('key_none', {}, event('key.permissions', 'key_none')), undefined);
        assert.deepEqual(await trail(stores), []);
      } finally {
        await stores.close();
      }
    });

    test('an event the store refuses fails the change: no key change without its trace', async () => {
      const stores = await open();
      try {
        await assert.rejects(stores.keys.createKey(newKey('key_x'), broken('key_x')));
        assert.equal(await stores.keys.getKey('key_x'), undefined, 'not created');

        const kept = newKey('key_b');
        await stores.keys.createKey(kept);
        await assert.rejects(stores.keys.replaceKeyHash('key_b', generateApiKey(), null, broken('key_b')));
        assert.equal((await stores.keys.findKeyByHash(kept.hash))?.key.id, 'key_b', 'the old key still works');
        await assert.rejects(stores.keys.setPermissions('key_b', { menu: { read: true, write: false, delete: false, select_fields: null, exclude_fields: null, writable_fields: null } }, broken('key_b')));
        assert.deepEqual((await stores.keys.getKey('key_b'))?.permissions, {}, 'permissions unchanged');
        await assert.rejects(stores.keys.revokeKey('key_b', undefined, broken('key_b')));
        assert.ok(await stores.keys.getKey('key_b'), 'not revoked');
        await assert.rejects(stores.keys.createFirstAdminKey(newKey('key_admin', true), broken('key_admin')));
        assert.equal(await stores.keys.countAdminKeys(), 0, 'no first admin');
        assert.deepEqual(await trail(stores), []);
      } finally {
        await stores.close();
      }
    });

    test('a password change and a logout write their event with the change, or fail with it', async () => {
      const stores = await open();
      try {
        const expiresAt = new Date(Date.now() + 60_000).toISOString();
        await stores.accounts.setPassword('admin', 'hash-1', event('admin.password', 'user:admin'));
        await stores.accounts.revokeToken({ jti: 'jti-1', expiresAt }, event('auth.logout', 'user:admin'));
        assert.deepEqual(await trail(stores), ['admin.password user:admin', 'auth.logout user:admin']);

        await assert.rejects(stores.accounts.setPassword('admin', 'hash-2', broken('user:admin')));
        assert.equal((await stores.accounts.getAccount('admin'))?.passwordHash, 'hash-1', 'password unchanged');
        await assert.rejects(stores.accounts.revokeToken({ jti: 'jti-2', expiresAt }, broken('user:admin')));
        assert.deepEqual((await stores.accounts.listRevokedTokens(new Date().toISOString())).map((t) => t.jti), ['jti-1'], 'jti-2 still valid');
        assert.equal((await trail(stores)).length, 2);
      } finally {
        await stores.close();
      }
    });

    test('a durable append is written like a batch, in order', async () => {
      const stores = await open();
      try {
        await stores.audit.append([event('auth.login', 'user:admin'), event('database.dropped', 'database:sales')], { durable: true });
        assert.deepEqual(await trail(stores), ['auth.login user:admin', 'database.dropped database:sales']);
        await assert.rejects(stores.audit.append([event('collection.dropped', 'collection:default.x'), broken('x')], { durable: true }));
        assert.equal((await trail(stores)).length, 2, 'a refused durable batch writes none of its events');
      } finally {
        await stores.close();
      }
    });
  });
}
