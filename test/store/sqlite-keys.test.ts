import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { generateApiKey } from '../../src/auth/api-key.js';
import { SqliteAuditStore } from '../../src/store/sqlite-audit.js';
import { SqliteKeyStore } from '../../src/store/sqlite.js';
import type { NewKey } from '../../src/store/key-store.js';
import { tempDir } from '../helpers/server.js';

function newKey(id: string): NewKey {
  const { hash, prefix } = generateApiKey();
  return { id, hash, prefix, label: id, description: '', isAdmin: false, permissions: {}, expiresAt: null, rateLimit: null, allowedIps: null, createdBy: 'test' };
}

test('the change marker moves for key changes made by another connection, not for last use or audit writes', async () => {
  const file = path.join(tempDir(), 'control.sqlite');
  const server = new SqliteKeyStore(file);
  const cli = new SqliteKeyStore(file);
  const audit = new SqliteAuditStore(file);
  try {
    let marker = await server.externalChangeMarker();
    const moved = async () => {
      const next = await server.externalChangeMarker();
      const changed = next !== marker;
      marker = next;
      return changed;
    };
    await cli.createKey(newKey('key_a'));
    assert.ok(await moved(), 'create');
    await cli.touchKeys(new Map([['key_a', new Date().toISOString()]]));
    assert.ok(!(await moved()), 'last use is not a key change');
    await audit.append([{ at: new Date().toISOString(), kind: 'auth.failure', actor: null, keyPrefix: null, ip: '1.2.3.4', userAgent: null, route: null, code: 'invalid_api_key', target: null, details: null }]);
    assert.ok(!(await moved()), 'audit writes are not key changes');
    await cli.setPermissions('key_a', { users: { read: true, write: false, delete: false, select_fields: null, exclude_fields: null, writable_fields: null } });
    assert.ok(await moved(), 'permissions');
    const next = generateApiKey();
    await cli.replaceKeyHash('key_a', next, new Date(Date.now() + 60_000).toISOString());
    assert.ok(await moved(), 'regenerate');
    await cli.revokeKey('key_a');
    assert.ok(await moved(), 'revoke');
  } finally {
    await server.close();
    await cli.close();
    await audit.close();
  }
});

test('a key is found by its current hash, by its previous hash during grace, never after revocation', async () => {
  const store = new SqliteKeyStore(path.join(tempDir(), 'control.sqlite'));
  try {
    const first = newKey('key_b');
    await store.createKey(first);
    assert.equal((await store.findKeyByHash(first.hash))?.key.id, 'key_b');
    const second = generateApiKey();
    const graceUntil = new Date(Date.now() + 60_000).toISOString();
    await store.replaceKeyHash('key_b', second, graceUntil);
    assert.equal((await store.findKeyByHash(first.hash))?.validUntil, graceUntil);
    assert.equal((await store.findKeyByHash(second.hash))?.key.generation, 2);
    assert.ok(await store.revokeKey('key_b'));
    assert.equal(await store.findKeyByHash(first.hash), undefined);
    assert.equal(await store.findKeyByHash(second.hash), undefined);
    assert.ok(!(await store.revokeKey('key_b')), 'revoking twice');
  } finally {
    await store.close();
  }
});
