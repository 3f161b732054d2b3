/**
 * The credential cache seam's contract, run against every implementation (one today: memory; Redis
 * is the change channel, not a cache, see src/auth/credential-cache.ts): namespaces keep apart,
 * each removal drops exactly the entries tagged with what changed, a read that overlapped a removal
 * is not cached, and the bound holds.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { describe, test } from 'node:test';
import { credentialCaches, type CredentialCaches } from '../../src/auth/credential-cache.js';
import { ManagedKeys } from '../../src/auth/managed-keys.js';
import { RevokedTokens } from '../../src/auth/revoked-tokens.js';
import { followStoreChanges } from '../../src/auth/store-sync.js';
import { openControlStore } from '../../src/store/index.js';
import { tempDir } from '../helpers/server.js';

const implementations: { name: string; make(maxEntriesPerNamespace?: number): CredentialCaches }[] = [
  { name: 'memory', make: (maxEntriesPerNamespace) => credentialCaches({ maxEntriesPerNamespace }) },
];

for (const impl of implementations) {
  describe(`credential cache: ${impl.name}`, () => {
    test('get answers what set stored, per namespace; the same namespace name is the same cache', () => {
      const caches = impl.make();
      const a = caches.namespace<string>('a');
      const b = caches.namespace<string>('b');
      a.set('x', 'in a', {});
      b.set('x', 'in b', {});
      assert.equal(a.get('x'), 'in a');
      assert.equal(b.get('x'), 'in b');
      assert.equal(caches.namespace<string>('a').get('x'), 'in a');
      assert.equal(a.get('y'), undefined);
      assert.equal(caches.size, 2);
    });

    test('removal by key hash, key id and token id drops exactly the tagged entries', () => {
      const caches = impl.make();
      const hashes = caches.namespace<string>('key-hash');
      const ids = caches.namespace<string>('key-id');
      const tokens = caches.namespace<string>('token');
      hashes.set('h1', 'k1 current', { keyHash: 'h1', keyId: 'k1' });
      hashes.set('h0', 'k1 in grace', { keyHash: 'h0', keyId: 'k1' });
      hashes.set('h2', 'k2', { keyHash: 'h2', keyId: 'k2' });
      hashes.set('h9', 'unknown hash', { keyHash: 'h9' });
      ids.set('k1', 'k1', { keyId: 'k1' });
      ids.set('k2', 'k2', { keyId: 'k2' });
      tokens.set('t1', 'token 1', { tokenId: 'j1', keyId: 'k2' });
      tokens.set('t2', 'token 2', { tokenId: 'j2' });

      assert.equal(hashes.removeByKeyHash('h9'), 1);
      assert.equal(hashes.get('h9'), undefined);
      assert.equal(hashes.get('h1'), 'k1 current');

      // Across namespaces from the root: both hashes of k1 and its id entry, nothing of k2.
      assert.equal(caches.removeByKeyId('k1'), 3);
      assert.deepEqual([hashes.get('h1'), hashes.get('h0'), ids.get('k1')], [undefined, undefined, undefined]);
      assert.deepEqual([hashes.get('h2'), ids.get('k2'), tokens.get('t1')], ['k2', 'k2', 'token 1']);

      assert.equal(caches.removeByTokenId('j1'), 1);
      assert.equal(tokens.get('t1'), undefined);
      assert.equal(tokens.get('t2'), 'token 2');
      assert.equal(caches.removeByTokenId('j1'), 0, 'removing again finds nothing');
      assert.equal(caches.size, 3);
    });

    test('an entry overwritten with new tags is no longer found by its old ones', () => {
      const cache = impl.make().namespace<string>('n');
      cache.set('x', 'v1', { keyId: 'old' });
      cache.set('x', 'v2', { keyId: 'new' });
      assert.equal(cache.removeByKeyId('old'), 0);
      assert.equal(cache.get('x'), 'v2');
      assert.equal(cache.removeByKeyId('new'), 1);
    });

    test('a read that overlapped a removal or a clear is not cached', () => {
      const caches = impl.make();
      const cache = caches.namespace<string>('n');
      let ticket = cache.ticket();
      // Reading the store for h1 ... meanwhile key k1 changes (even with nothing cached for it).
      assert.equal(cache.removeByKeyId('k1'), 0);
      assert.equal(cache.set('h1', 'stale', { keyHash: 'h1', keyId: 'k1' }, ticket), false);
      assert.equal(cache.get('h1'), undefined);
      ticket = cache.ticket();
      caches.clear();
      assert.equal(cache.set('h1', 'stale', { keyHash: 'h1' }, ticket), false);
      ticket = cache.ticket();
      assert.equal(cache.set('h1', 'fresh', { keyHash: 'h1' }, ticket), true);
      assert.equal(cache.get('h1'), 'fresh');
    });

    test('each namespace holds at most its bound, oldest out first, and forgets the evicted tags', () => {
      const caches = impl.make(3);
      const cache = caches.namespace<number>('n');
      for (let i = 0; i < 5; i++) cache.set(`e${i}`, i, { keyId: `k${i}`, tokenId: 'shared' });
      assert.equal(cache.size, 3);
      assert.deepEqual([0, 1, 2, 3, 4].map((i) => cache.get(`e${i}`)), [undefined, undefined, 2, 3, 4]);
      assert.equal(cache.removeByKeyId('k0'), 0);
      assert.equal(cache.removeByTokenId('shared'), 3);
      assert.equal(cache.size, 0);
      // Another namespace has a bound of its own.
      caches.namespace<number>('m').set('e', 1, {});
      assert.equal(caches.size, 1);
    });
  });
}

test('a logout announced by the change feed drops that token\'s cached entries, and only them', async () => {
  const dataDir = tempDir('duckgate-cache-sync-');
  const server = await openControlStore({ dataDir });
  const cli = await openControlStore({ dataDir });
  const caches = credentialCaches();
  const keys = new ManagedKeys(server.keys, { caches });
  const revoked = await RevokedTokens.open(server.accounts);
  const stop = followStoreChanges(server.changes, { keys, revoked, caches });
  try {
    const tokens = caches.namespace<string>('api-token');
    tokens.set('token-1', 'claims 1', { tokenId: 'jti-1' });
    tokens.set('token-2', 'claims 2', { tokenId: 'jti-2' });
    await cli.accounts.revokeToken({ jti: 'jti-1', expiresAt: new Date(Date.now() + 60_000).toISOString() });
    const deadline = Date.now() + 5000;
    while (tokens.get('token-1') !== undefined && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(tokens.get('token-1'), undefined);
    assert.equal(tokens.get('token-2'), 'claims 2');
    assert.equal(await revoked.has('jti-1'), true);
  } finally {
    stop();
    revoked.close();
    await keys.close();
    await cli.close();
    await server.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
