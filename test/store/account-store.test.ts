/** The AccountStore contract (accounts, logged-out tokens, known login addresses) against every implementation. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { storeImplementations } from './implementations.js';

for (const impl of await storeImplementations()) {
  describe(`account store: ${impl.name}`, { skip: impl.skip }, () => {
    test('accounts: create once, then each password change moves the generation', async () => {
      const { accounts } = await (await impl.fresh()).open();
      assert.equal(await accounts.getAccount('admin'), undefined);
      assert.equal(await accounts.createAccount('admin', 'hash-1'), true);
      assert.equal(await accounts.createAccount('admin', 'hash-other'), false, 'an existing account is kept');
      const created = await accounts.getAccount('admin');
      assert.equal(created?.passwordHash, 'hash-1');
      assert.equal(created?.generation, 1);
      assert.match(created!.createdAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      const changed = await accounts.setPassword('admin', 'hash-2');
      assert.equal(changed.passwordHash, 'hash-2');
      assert.equal(changed.generation, 2);
      assert.equal(changed.createdAt, created?.createdAt);
      assert.deepEqual(await accounts.getAccount('admin'), changed);
      assert.equal((await accounts.setPassword('someone', 'hash-3')).generation, 1, 'setPassword creates too');
    });

    test('revoked tokens: kept across reopening until they expire, then pruned', async () => {
      const location = await impl.fresh();
      const first = await location.open();
      const now = Date.now();
      const liveUntil = new Date(now + 60_000).toISOString();
      await first.accounts.revokeToken({ jti: 'live', expiresAt: liveUntil });
      await first.accounts.revokeToken({ jti: 'live', expiresAt: liveUntil });
      await first.accounts.revokeToken({ jti: 'dead', expiresAt: new Date(now - 1000).toISOString() });
      await first.close();

      const { accounts } = await location.open();
      const at = new Date(now).toISOString();
      assert.deepEqual(await accounts.listRevokedTokens(at), [{ jti: 'live', expiresAt: liveUntil }]);
      assert.equal(await accounts.isTokenRevoked('live', at), true);
      assert.equal(await accounts.isTokenRevoked('dead', at), false, 'expired: no longer worth refusing');
      assert.equal(await accounts.isTokenRevoked('never', at), false);
      assert.equal(await accounts.pruneRevokedTokens(at), 1);
      assert.equal(await accounts.pruneRevokedTokens(new Date(now + 120_000).toISOString()), 1);
      assert.deepEqual(await accounts.listRevokedTokens(at), []);
    });

    test('known login addresses: per account, expire after the retention, at most maxPerAccount kept', async () => {
      const { accounts } = await (await impl.fresh()).open();
      const day = 86_400_000;
      const retention = { since: new Date(Date.now() - 30 * day).toISOString(), maxPerAccount: 5 };
      await accounts.rememberLoginAddress('admin', '192.0.2.12', new Date(Date.now() - 31 * day).toISOString(), retention);
      assert.equal(await accounts.isKnownLoginAddress('admin', '192.0.2.12', retention.since), false, 'seen 31 days ago');
      for (let i = 0; i < 7; i++) await accounts.rememberLoginAddress('admin', `10.0.0.${i}`, new Date(Date.now() - (7 - i) * 1000).toISOString(), retention);
      assert.equal(await accounts.isKnownLoginAddress('admin', '10.0.0.0', retention.since), false, 'the oldest went');
      assert.equal(await accounts.isKnownLoginAddress('admin', '10.0.0.1', retention.since), false);
      assert.equal(await accounts.isKnownLoginAddress('admin', '10.0.0.2', retention.since), true);
      assert.equal(await accounts.isKnownLoginAddress('admin', '10.0.0.6', retention.since), true);
      assert.equal(await accounts.isKnownLoginAddress('someone-else', '10.0.0.6', retention.since), false, 'per account');
    });
  });
}
