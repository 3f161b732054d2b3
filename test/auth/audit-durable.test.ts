/** `AuditTrail.recordDurable`: admin events are stored, durably, before the caller answers (issue 18). */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { AuditTrail } from '../../src/auth/audit-trail.js';
import type { AppendOptions, AuditEvent } from '../../src/store/audit-store.js';
import { SqliteAuditStore } from '../../src/store/sqlite-audit.js';
import { tempDir } from '../helpers/server.js';

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** The real store, noting how each batch was asked to be written. */
class RecordingStore extends SqliteAuditStore {
  readonly appends: { kinds: string[]; durable: boolean }[] = [];
  fail: Error | undefined;

  constructor() {
    const dir = tempDir('duckgate-durable-trail-');
    dirs.push(dir);
    super(path.join(dir, 'control.sqlite'));
  }

  override async append(events: readonly AuditEvent[], options?: AppendOptions): Promise<void> {
    this.appends.push({ kinds: events.map((e) => e.kind), durable: options?.durable === true });
    if (this.fail) throw this.fail;
    return super.append(events, options);
  }
}

test('recordDurable writes at once, durably, with what was queued before it, in order', async () => {
  const store = new RecordingStore();
  const trail = new AuditTrail(store, { flushIntervalMs: 60_000 });
  trail.record({ kind: 'auth.login_failed', target: 'user:admin', code: 'invalid_credentials' });
  trail.record({ kind: 'auth.failure', code: 'invalid_api_key' });
  assert.deepEqual(store.appends, [], 'failures wait for the batch');

  await trail.recordDurable({ kind: 'auth.login', actor: 'user:admin', target: 'user:admin' });
  assert.deepEqual(store.appends, [{ kinds: ['auth.login_failed', 'auth.failure', 'auth.login'], durable: true }]);
  assert.deepEqual((await store.query({ limit: 10 })).map((e) => e.kind).reverse(), ['auth.login_failed', 'auth.failure', 'auth.login']);
  assert.equal(trail.stats().written, 3);

  trail.record({ kind: 'auth.failure', code: 'missing_api_key' });
  await trail.flush();
  assert.deepEqual(store.appends.at(-1), { kinds: ['auth.failure'], durable: false }, 'later batches are not synced');
  await trail.close();
  await store.close();
});

test('recordDurable never rejects: a refusing store goes to onError, and bad input too', async () => {
  const store = new RecordingStore();
  const errors: unknown[] = [];
  const trail = new AuditTrail(store, { flushIntervalMs: 60_000, onError: (error) => errors.push(error) });
  store.fail = new Error('disk full');
  await trail.recordDurable({ kind: 'database.dropped', target: 'database:sales' });
  assert.equal(errors[0], store.fail);
  assert.equal(trail.stats().failed, 1);
  store.fail = undefined;
  await trail.recordDurable({ kind: 'no.such.kind' } as never);
  assert.equal(errors.length, 2);
  assert.match(String(errors[1]), /Unknown audit event kind/);
  await trail.close();
  await store.close();
});

test('recordDurable still writes after close: requests drain after the trail has closed', async () => {
  const store = new RecordingStore();
  const trail = new AuditTrail(store, { flushIntervalMs: 60_000 });
  await trail.close();
  await trail.recordDurable({ kind: 'collection.dropped', target: 'collection:default.orders' });
  assert.deepEqual((await store.query({ limit: 10 })).map((e) => e.target), ['collection:default.orders']);
  await store.close();
});
