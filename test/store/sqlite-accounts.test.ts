import assert from 'node:assert/strict';
import path from 'node:path';
import { rmSync } from 'node:fs';
import { after, test } from 'node:test';
import { SqliteAccountStore } from '../../src/store/sqlite-accounts.js';
import { tempDir } from '../helpers/server.js';

const dir = tempDir('duckgate-accounts-');
const file = path.join(dir, 'control.sqlite');
after(() => rmSync(dir, { recursive: true, force: true }));

test('accounts: create once, then each password change moves the generation', async () => {
  const store = new SqliteAccountStore(file);
  try {
    assert.equal(await store.getAccount('admin'), undefined);
    assert.equal(await store.createAccount('admin', 'hash-1'), true);
    assert.equal(await store.createAccount('admin', 'hash-other'), false, 'an existing account is kept');
    const created = await store.getAccount('admin');
    assert.equal(created?.passwordHash, 'hash-1');
    assert.equal(created?.generation, 1);
    const changed = await store.setPassword('admin', 'hash-2');
    assert.equal(changed.passwordHash, 'hash-2');
    assert.equal(changed.generation, 2);
    assert.equal(changed.createdAt, created?.createdAt);
    assert.equal((await store.setPassword('someone', 'hash-3')).generation, 1, 'setPassword creates too');
  } finally {
    await store.close();
  }
});

test('revoked tokens: kept across reopening until they expire, then pruned', async () => {
  const store = new SqliteAccountStore(file);
  const now = Date.now();
  await store.revokeToken({ jti: 'live', expiresAt: new Date(now + 60_000).toISOString() });
  await store.revokeToken({ jti: 'live', expiresAt: new Date(now + 60_000).toISOString() });
  await store.revokeToken({ jti: 'dead', expiresAt: new Date(now - 1000).toISOString() });
  await store.close();

  const reopened = new SqliteAccountStore(file);
  try {
    const at = new Date(now).toISOString();
    assert.deepEqual((await reopened.listRevokedTokens(at)).map((t) => t.jti), ['live']);
    assert.equal(await reopened.pruneRevokedTokens(at), 1);
    assert.equal(await reopened.pruneRevokedTokens(new Date(now + 120_000).toISOString()), 1);
    assert.deepEqual(await reopened.listRevokedTokens(at), []);
  } finally {
    await reopened.close();
  }
});
