/**
 * The change feed contract against every implementation: a change made through another connection
 * (another replica, the CLI) reaches a watcher naming exactly what changed (a key by id, a token by
 * jti with its expiry, an account by name), and writes that are not changes (last use, audit)
 * announce nothing.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { generateApiKey } from '../../src/auth/api-key.js';
import type { ChangeListener, ControlChange } from '../../src/store/changes.js';
import type { NewKey } from '../../src/store/key-store.js';
import { storeImplementations } from './implementations.js';

function newKey(id: string): NewKey {
  const { hash, prefix } = generateApiKey();
  return { id, hash, prefix, label: id, description: '', isAdmin: false, permissions: {}, expiresAt: null, rateLimit: null, allowedIps: null, createdBy: 'test' };
}

/** A listener that records what it hears, and waits for what it expects. */
function recorder() {
  const heard: (ControlChange | 'lost' | 'resumed')[] = [];
  const listener: ChangeListener = {
    changed: (change) => heard.push(change),
    lost: () => heard.push('lost'),
    resumed: () => heard.push('resumed'),
  };
  const changes = () => heard.filter((h): h is ControlChange => typeof h === 'object');
  let consumed = 0;
  return {
    listener,
    heard,
    changes,
    /**
     * The changes heard since the previous call, once at least `count` are there (or 5 s passed),
     * after a little more waiting so nothing extra is missed. Counted from the previous call, not
     * from this one: a notification may arrive before the write that caused it has answered.
     */
    async next(count: number): Promise<ControlChange[]> {
      const start = consumed;
      const deadline = Date.now() + 5000;
      while (changes().length < start + count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      await new Promise((r) => setTimeout(r, 250));
      consumed = changes().length;
      return changes().slice(start);
    },
    async live(): Promise<void> {
      const deadline = Date.now() + 3000;
      while (heard[heard.length - 1] !== 'resumed' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      assert.equal(heard[heard.length - 1], 'resumed', JSON.stringify(heard));
    },
  };
}

for (const impl of await storeImplementations()) {
  describe(`change feed: ${impl.name}`, { skip: impl.skip }, () => {
    test('changes made through another connection arrive named; last use and audit writes announce nothing', async () => {
      const location = await impl.fresh();
      const server = await location.open();
      const cli = await location.open();
      const heard = recorder();
      const stop = server.changes.watch(heard.listener);
      try {
        assert.equal(heard.heard[0], 'lost', 'not trusted before it is live');
        await heard.live();
        await cli.keys.createKey(newKey('key_a'));
        assert.deepEqual(await heard.next(1), [{ kind: 'key', keyId: 'key_a' }], `create: ${JSON.stringify(heard.heard)}`);
        await cli.keys.touchKeys(new Map([['key_a', new Date().toISOString()]]));
        await cli.audit.append([{ at: new Date().toISOString(), kind: 'auth.failure', actor: null, keyPrefix: null, ip: '1.2.3.4', userAgent: null, route: null, code: 'invalid_api_key', target: null, details: null }]);
        assert.deepEqual(await heard.next(0), [], 'last use and audit writes are not changes');
        await cli.keys.setPermissions('key_a', {});
        assert.deepEqual(await heard.next(1), [{ kind: 'key', keyId: 'key_a' }], `permissions: ${JSON.stringify(heard.heard)}`);
        // Disabling (the column added after the first triggers) is announced like every key change.
        await cli.keys.updateKey('key_a', { disabled: true });
        assert.deepEqual(await heard.next(1), [{ kind: 'key', keyId: 'key_a' }], `disable: ${JSON.stringify(heard.heard)}`);
        await cli.keys.updateKey('key_a', { disabled: false, label: 'renamed' });
        assert.deepEqual(await heard.next(1), [{ kind: 'key', keyId: 'key_a' }], `enable: ${JSON.stringify(heard.heard)}`);
        await cli.keys.replaceKeyHash('key_a', generateApiKey(), new Date(Date.now() + 60_000).toISOString());
        assert.ok((await heard.next(1)).every((c) => c.kind === 'key' && c.keyId === 'key_a'), `regenerate: ${JSON.stringify(heard.heard)}`);
        await cli.keys.revokeKey('key_a');
        assert.ok((await heard.next(1)).every((c) => c.kind === 'key' && c.keyId === 'key_a'), `revoke: ${JSON.stringify(heard.heard)}`);
        const expiresAt = '2035-06-07T08:09:10.123Z';
        await cli.accounts.revokeToken({ jti: 'jti-1', expiresAt });
        assert.deepEqual(await heard.next(1), [{ kind: 'token', jti: 'jti-1', expiresAt }], `logout: ${JSON.stringify(heard.heard)}`);
        await cli.accounts.setPassword('admin', 'hash');
        assert.deepEqual(await heard.next(1), [{ kind: 'account', username: 'admin' }], `password: ${JSON.stringify(heard.heard)}`);
      } finally {
        stop();
      }
    });

    test('after stop, nothing more is delivered', async () => {
      const location = await impl.fresh();
      const server = await location.open();
      const cli = await location.open();
      const heard = recorder();
      const stop = server.changes.watch(heard.listener);
      await heard.live();
      stop();
      await cli.keys.createKey(newKey('key_after'));
      assert.deepEqual(await heard.next(0), []);
    });
  });
}

test('sqlite: a change log pruned past the last change seen makes every cache start over', async () => {
  const { openControlStore } = await import('../../src/store/index.js');
  const { tempDir } = await import('../helpers/server.js');
  const Database = (await import('better-sqlite3')).default;
  const dataDir = tempDir('duckgate-feed-');
  const server = await openControlStore({ dataDir });
  const heard = recorder();
  const stop = server.changes.watch(heard.listener);
  const db = new Database(path.join(dataDir, 'control.sqlite'));
  try {
    await heard.live();
    // Between two polls: a change, then its log row pruned, then another change.
    const insert = db.prepare(`INSERT INTO revoked_tokens (jti, expires_at) VALUES (?, '2035-01-01T00:00:00.000Z')`);
    insert.run('first');
    db.prepare('DELETE FROM control_changes').run();
    insert.run('second');
    const deadline = Date.now() + 3000;
    while (heard.changes().length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(heard.heard.slice(-3), ['lost', 'resumed', { kind: 'token', jti: 'second', expiresAt: '2035-01-01T00:00:00.000Z' }]);
  } finally {
    stop();
    db.close();
    await server.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
