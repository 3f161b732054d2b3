import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { generateApiKey } from '../../src/auth/api-key.js';
import { ManagedKeys } from '../../src/auth/managed-keys.js';
import { RevokedTokens } from '../../src/auth/revoked-tokens.js';
import { followStoreChanges } from '../../src/auth/store-sync.js';
import { SqliteAccountStore } from '../../src/store/sqlite-accounts.js';
import { SqliteChangeFeed } from '../../src/store/sqlite-changes.js';
import type { KeyStore } from '../../src/store/key-store.js';
import { SqliteKeyStore } from '../../src/store/sqlite.js';
import { tempDir } from '../helpers/server.js';

/** The real store, with its hash lookups counted. */
function countingStore(store: SqliteKeyStore): { store: KeyStore; lookups: () => number } {
  let lookups = 0;
  const counted = Object.create(store) as KeyStore;
  counted.findKeyByHash = (hash) => {
    lookups++;
    return store.findKeyByHash(hash);
  };
  return { store: counted, lookups: () => lookups };
}

async function storeWithKey() {
  const file = path.join(tempDir(), 'control.sqlite');
  const store = new SqliteKeyStore(file);
  const generated = generateApiKey();
  await store.createKey({
    id: 'key_t', hash: generated.hash, prefix: generated.prefix, label: 't', description: '', isAdmin: false,
    permissions: {}, expiresAt: null, rateLimit: 7, allowedIps: null, createdBy: 'test',
  });
  return { file, store, key: generated.key };
}

test('a known key resolves to its principal; repeated use hits the cache, not the store', async () => {
  const { store, key } = await storeWithKey();
  const { store: counted, lookups } = countingStore(store);
  const keys = new ManagedKeys(counted, { cacheWithoutFeed: true });
  try {
    const principal = await keys.verify(key);
    assert.equal(principal?.id, 'key_t');
    assert.equal(principal?.rateLimit, 7);
    assert.equal(principal?.access.kind, 'scoped');
    for (let i = 0; i < 10; i++) await keys.verify(key);
    assert.equal(lookups(), 1);
  } finally {
    await keys.close();
    await store.close();
  }
});

test('a key with a bad checksum never reaches the store', async () => {
  const { store, key } = await storeWithKey();
  const { store: counted, lookups } = countingStore(store);
  const keys = new ManagedKeys(counted, { cacheWithoutFeed: true });
  try {
    const typo = `${key.slice(0, 12)}${key[12] === 'x' ? 'y' : 'x'}${key.slice(13)}`;
    assert.equal(await keys.verify(typo), undefined);
    assert.equal(await keys.verify(`dk_live_${'a'.repeat(32)}`), undefined);
    assert.equal(lookups(), 0);
  } finally {
    await keys.close();
    await store.close();
  }
});

test('a change made by another process drops that key\'s entries only, through the change feed', async () => {
  const { file, store, key } = await storeWithKey();
  const other = new SqliteKeyStore(file);
  const second = generateApiKey();
  await other.createKey({
    id: 'key_u', hash: second.hash, prefix: second.prefix, label: 'u', description: '', isAdmin: false,
    permissions: {}, expiresAt: null, rateLimit: null, allowedIps: null, createdBy: 'test',
  });
  const { store: counted, lookups } = countingStore(store);
  const keys = new ManagedKeys(counted);
  const feed = new SqliteChangeFeed(file, { pollMs: 20 });
  const accounts = new SqliteAccountStore(file);
  const revoked = await RevokedTokens.open(accounts);
  const stop = followStoreChanges(feed, { keys, revoked });
  try {
    await new Promise((r) => setTimeout(r, 50));
    assert.ok(await keys.verify(key));
    assert.ok(await keys.verify(second.key));
    assert.equal(lookups(), 2);
    await other.revokeKey('key_t');
    const revokedAt = Date.now();
    while (await keys.verify(key)) {
      assert.ok(Date.now() - revokedAt < 1000, 'still valid a second after another process revoked it');
      await new Promise((r) => setTimeout(r, 5));
    }
    const before = lookups();
    assert.ok(await keys.verify(second.key));
    assert.equal(lookups(), before, 'the other key is still cached');
  } finally {
    stop();
    revoked.close();
    await feed.close();
    await accounts.close();
    await keys.close();
    await other.close();
    await store.close();
  }
});

test('while the change feed is lost, every verification reads through; once back, the cache is used again', async () => {
  const { store, key } = await storeWithKey();
  const { store: counted, lookups } = countingStore(store);
  const keys = new ManagedKeys(counted);
  try {
    keys.startCaching();
    await keys.verify(key);
    await keys.verify(key);
    assert.equal(lookups(), 1, 'cached');
    keys.stopCaching();
    await keys.verify(key);
    await keys.verify(key);
    assert.equal(lookups(), 3, 'read through, nothing kept');
    assert.equal(keys.cachedEntries, 0);
    keys.startCaching();
    await keys.verify(key);
    await keys.verify(key);
    assert.equal(lookups(), 4, 'cached again');
  } finally {
    await keys.close();
    await store.close();
  }
});

test('last_used_at is written in batches, at most once an interval per key', async () => {
  const { store, key } = await storeWithKey();
  let batches = 0;
  const counted = Object.create(store) as KeyStore;
  counted.touchKeys = (times) => {
    batches++;
    return store.touchKeys(times);
  };
  const keys = new ManagedKeys(counted, { cacheWithoutFeed: true, touchFlushMs: 50, touchIntervalMs: 60_000 });
  try {
    for (let i = 0; i < 20; i++) await keys.verify(key);
    assert.equal((await store.getKey('key_t'))?.lastUsedAt, null, 'nothing written inside the requests');
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(batches, 1);
    assert.ok((await store.getKey('key_t'))?.lastUsedAt);
  } finally {
    await keys.close();
    await store.close();
  }
});
