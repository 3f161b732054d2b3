import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { generateApiKey } from '../../src/auth/api-key.js';
import { KeyService } from '../../src/auth/key-service.js';
import { isApiError } from '../../src/errors.js';
import { SqliteAuditStore } from '../../src/store/sqlite-audit.js';
import { SqliteKeyStore } from '../../src/store/sqlite.js';
import type { NewKey } from '../../src/store/key-store.js';
import { ROOT } from '../helpers/process.js';
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
    assert.equal(await store.revokeKey('key_b'), 'revoked');
    assert.equal(await store.findKeyByHash(first.hash), undefined);
    assert.equal(await store.findKeyByHash(second.hash), undefined);
    assert.equal(await store.revokeKey('key_b'), 'not_found', 'revoking twice');
  } finally {
    await store.close();
  }
});

function adminKey(id: string): NewKey {
  return { ...newKey(id), isAdmin: true };
}

test('the last-admin rule is one conditional revocation in the store', async () => {
  const store = new SqliteKeyStore(path.join(tempDir(), 'control.sqlite'));
  try {
    await store.createKey(adminKey('key_admin'));
    await store.createKey(newKey('key_plain'));
    assert.equal(await store.revokeKey('key_admin', { requireOtherAdmins: 1 }), 'last_admin');
    assert.equal(await store.countAdminKeys(), 1, 'nothing changed');
    assert.equal(await store.revokeKey('key_plain', { requireOtherAdmins: 1 }), 'revoked', 'only admin keys are held back');
    assert.equal(await store.revokeKey('key_missing', { requireOtherAdmins: 1 }), 'not_found');
    assert.equal(await store.revokeKey('key_admin', { requireOtherAdmins: 0 }), 'revoked', 'with an environment admin key, the last one may go');
  } finally {
    await store.close();
  }
});

test('two connections revoking the last two admin keys at once leave one admin', async () => {
  const file = path.join(tempDir(), 'control.sqlite');
  const one = new SqliteKeyStore(file);
  const two = new SqliteKeyStore(file);
  try {
    await one.createKey(adminKey('key_a1'));
    await one.createKey(adminKey('key_a2'));
    // Two services on two connections, interleaving at every await: a count read before the
    // revocation (check-then-act) sees two admins in both, and both would revoke.
    const outcomes = await Promise.allSettled([
      new KeyService(one, { environmentAdminKeys: 0 }).revoke('key_a1', 'one'),
      new KeyService(two, { environmentAdminKeys: 0 }).revoke('key_a2', 'two'),
    ]);
    assert.equal(outcomes.filter((o) => o.status === 'fulfilled').length, 1, JSON.stringify(outcomes));
    const refused = outcomes.find((o) => o.status === 'rejected');
    assert.ok(refused && isApiError(refused.reason) && refused.reason.status === 409);
    assert.equal(await one.countAdminKeys(), 1);
  } finally {
    await one.close();
    await two.close();
  }
});

test('processes revoking every admin key at the same moment never leave zero admins', async () => {
  const file = path.join(tempDir(), 'control.sqlite');
  const store = new SqliteKeyStore(file);
  const ids = ['key_p1', 'key_p2', 'key_p3', 'key_p4'];
  try {
    for (const id of ids) await store.createKey(adminKey(id));
    const startAt = Date.now() + 3000;
    const worker = path.join(ROOT, 'test/store/workers/revoke-admin.ts');
    const runs = ids.map((id) => new Promise<string>((resolve, reject) => {
      execFile(process.execPath, ['--import', 'tsx', worker, file, id, String(startAt)], { cwd: ROOT, timeout: 30_000 }, (error, stdout, stderr) => {
        if (error) reject(new Error(`${error.message}\n${stderr}`));
        else resolve(stdout);
      });
    }));
    const outcomes = (await Promise.all(runs)).map((line) => (JSON.parse(line) as { outcome: string }).outcome);
    assert.equal(await store.countAdminKeys(), 1, `one admin remains: ${JSON.stringify(outcomes)}`);
    assert.deepEqual(outcomes.filter((o) => o !== 'revoked'), ['409 conflict'], JSON.stringify(outcomes));
  } finally {
    await store.close();
  }
});

test('of two processes starting on an empty store at once, one creates the first admin key', async () => {
  const file = path.join(tempDir(), 'control.sqlite');
  const one = new SqliteKeyStore(file);
  const two = new SqliteKeyStore(file);
  try {
    const created = await Promise.all([
      new KeyService(one, { environmentAdminKeys: 0 }).ensureAdminKey(),
      new KeyService(two, { environmentAdminKeys: 0 }).ensureAdminKey(),
    ]);
    assert.equal(created.filter(Boolean).length, 1, 'one banner, one key');
    assert.equal(await one.countAdminKeys(), 1);
  } finally {
    await one.close();
    await two.close();
  }
});
