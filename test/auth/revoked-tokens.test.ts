/**
 * The revoked-token set follows the store's change feed: a logout made by another process joins it
 * when announced; while the feed is lost every check asks the store (a logout elsewhere is never
 * missed); once back, the set is reloaded and answers from memory again.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { RevokedTokens } from '../../src/auth/revoked-tokens.js';
import type { AccountStore } from '../../src/store/account-store.js';
import { SqliteAccountStore } from '../../src/store/sqlite-accounts.js';
import { tempDir } from '../helpers/server.js';

function counting(store: SqliteAccountStore): { store: AccountStore; reads: () => number } {
  let reads = 0;
  const counted = Object.create(store) as AccountStore;
  counted.isTokenRevoked = (jti, now) => {
    reads++;
    return store.isTokenRevoked(jti, now);
  };
  return { store: counted, reads: () => reads };
}

test('a logout announced by the feed joins the set; while the feed is lost, checks read through', async () => {
  const file = path.join(tempDir(), 'control.sqlite');
  const mine = new SqliteAccountStore(file);
  const other = new SqliteAccountStore(file);
  const { store, reads } = counting(mine);
  const revoked = await RevokedTokens.open(store);
  try {
    const later = new Date(Date.now() + 60_000).toISOString();
    revoked.add('announced', later);
    assert.equal(await revoked.has('announced'), true);
    revoked.add('expired', new Date(Date.now() - 1000).toISOString());
    assert.equal(await revoked.has('expired'), false, 'an expired token needs no entry');

    // Another process logs a token out while this one hears nothing.
    revoked.stopTrusting();
    await other.revokeToken({ jti: 'unheard', expiresAt: later });
    assert.equal(await revoked.has('unheard'), true, 'read through to the store');
    assert.equal(await revoked.has('fine'), false);
    assert.equal(reads(), 2);

    await revoked.resume();
    assert.equal(await revoked.has('unheard'), true, 'reloaded from the store');
    assert.equal(await revoked.has('fine'), false);
    assert.equal(reads(), 2, 'from memory again');
  } finally {
    revoked.close();
    await mine.close();
    await other.close();
  }
});
