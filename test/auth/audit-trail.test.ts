import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, test } from 'node:test';
import Database from 'better-sqlite3';
import { generateApiKey } from '../../src/auth/api-key.js';
import { AuditTrail, type AuditTrailOptions } from '../../src/auth/audit-trail.js';
import type { AuditEvent, AuditQuery, AuditStore, StoredAuditEvent } from '../../src/store/audit-store.js';
import { SqliteAuditStore } from '../../src/store/sqlite-audit.js';

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** The real SQLite store, wrapped to count batches and optionally fail or stall them. */
class SpyStore implements AuditStore {
  readonly batches: number[] = [];
  fail: Error | undefined;
  gate: Promise<void> | undefined;
  readonly inner: SqliteAuditStore;

  constructor(readonly file: string) {
    this.inner = new SqliteAuditStore(file);
  }

  async append(events: readonly AuditEvent[]): Promise<void> {
    this.batches.push(events.length);
    if (this.gate) await this.gate;
    if (this.fail) throw this.fail;
    return this.inner.append(events);
  }

  query(query: AuditQuery): Promise<StoredAuditEvent[]> {
    return this.inner.query(query);
  }

  prune(olderThan: string): Promise<number> {
    return this.inner.prune(olderThan);
  }

  trim(keep: number): Promise<number> {
    return this.inner.trim(keep);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

function setup(options: AuditTrailOptions = {}) {
  const dir = mkdtempSync(path.join(tmpdir(), 'duckgate-trail-'));
  dirs.push(dir);
  const store = new SpyStore(path.join(dir, 'control.sqlite'));
  const errors: unknown[] = [];
  const trail = new AuditTrail(store, { onError: (error) => errors.push(error), ...options });
  const stored = () => store.inner.query({ limit: 100_000 });
  return { store, trail, errors, stored };
}

const failure = (n = 0) => ({ kind: 'auth.failure' as const, code: 'invalid_api_key', ip: '198.51.100.1', target: `t${n}` });

test('record only queues; one transaction writes the batch after the flush interval', async () => {
  const { store, trail, stored } = setup({ flushIntervalMs: 30 });
  for (let i = 0; i < 3; i++) trail.record(failure(i));
  assert.deepEqual(store.batches, [], 'nothing is written synchronously');
  assert.equal(trail.stats().queued, 3);
  await sleep(10);
  assert.deepEqual(store.batches, [], 'nor before the interval');
  await sleep(80);
  assert.deepEqual(store.batches, [3]);
  const events = await stored();
  assert.deepEqual(events.map((e) => e.target), ['t2', 't1', 't0']);
  assert.equal(events[0]!.actor, null);
  assert.match(events[0]!.at, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
  assert.deepEqual(trail.stats(), { queued: 0, written: 3, dropped: 0, failed: 0, pruned: 0, summarised: 0 });
  await trail.close();
  await store.close();
});

test('a full batch is written at once, without waiting for the interval', async () => {
  const { store, trail, stored } = setup({ flushIntervalMs: 60_000, batchSize: 5 });
  for (let i = 0; i < 5; i++) trail.record(failure(i));
  assert.deepEqual(store.batches, []);
  await new Promise((resolve) => setImmediate(resolve));
  await sleep(5);
  assert.deepEqual(store.batches, [5]);
  assert.equal((await stored()).length, 5);
  await trail.close();
  await store.close();
});

test('close writes what is queued, then later events are ignored and counted', async () => {
  const { store, trail, stored } = setup({ flushIntervalMs: 60_000 });
  trail.record({ kind: 'key.created', actor: 'env:admin', target: 'key_a', details: { label: 'ci' } });
  trail.record({ kind: 'key.revoked', actor: 'env:admin', target: 'key_a' });
  await trail.close();
  assert.deepEqual((await stored()).map((e) => e.kind), ['key.revoked', 'key.created']);
  trail.record(failure());
  await trail.flush();
  assert.equal((await stored()).length, 2);
  assert.equal(trail.stats().dropped, 1);
  await store.close();
});

test('flush and query: an event recorded just before is visible at once', async () => {
  const { trail, store } = setup({ flushIntervalMs: 60_000 });
  trail.record({ kind: 'auth.login', actor: 'admin', ip: '127.0.0.1' });
  const events = await trail.query({ limit: 10, kinds: ['auth.login'] });
  assert.equal(events.length, 1);
  assert.equal(events[0]!.actor, 'admin');
  await trail.close();
  await store.close();
});

test('a flood beyond the queue bound drops the oldest events and counts them', async () => {
  const dropped: number[] = [];
  const { store, trail, stored } = setup({ flushIntervalMs: 60_000, batchSize: 50, maxQueue: 100, onDropped: (n) => dropped.push(n) });
  for (let i = 0; i < 250; i++) trail.record(failure(i));
  assert.equal(trail.stats().queued, 100);
  assert.equal(trail.stats().dropped, 150);
  await trail.flush();
  assert.deepEqual(dropped, [150], 'reported once per flush, not once per event');
  const targets = (await stored()).map((e) => e.target);
  assert.equal(targets.length, 100);
  assert.equal(targets[0], 't249');
  assert.equal(targets[99], 't150');
  await trail.flush();
  assert.deepEqual(dropped, [150]);
  await trail.close();
  await store.close();
});

test('events recorded while a batch is being written go into the next one, in order', async () => {
  const { store, trail, stored } = setup({ flushIntervalMs: 20 });
  let open!: () => void;
  store.gate = new Promise((resolve) => (open = resolve));
  trail.record(failure(0));
  const first = trail.flush();
  await sleep(5);
  assert.deepEqual(store.batches, [1], 'the first batch is being written');
  trail.record(failure(1));
  const second = trail.flush();
  open();
  await Promise.all([first, second]);
  assert.deepEqual(store.batches, [1, 1]);
  assert.deepEqual((await stored()).map((e) => e.target), ['t1', 't0']);
  await trail.close();
  await store.close();
});

test('record never throws: bad input and store failures go to onError', async () => {
  const { store, trail, errors, stored } = setup({ flushIntervalMs: 60_000 });
  const circular: Record<string, unknown> = {};
  circular.self = circular;
  const hostile = { toString: () => { throw new Error('toString'); } };
  assert.doesNotThrow(() => {
    trail.record(null as never);
    trail.record(undefined as never);
    trail.record({ kind: 'no.such.kind' } as never);
    trail.record({ kind: 'auth.failure', actor: hostile as never });
    trail.record({ kind: 'auth.failure', details: circular, target: 'circular' });
    trail.record({ kind: 'auth.failure', details: { get boom() { throw new Error('getter'); } }, target: 'getter' });
    trail.record({ kind: 'auth.failure', details: { n: 10n } as never, target: 'bigint' });
    trail.record({ kind: 'auth.failure', at: 'not a date', target: 'bad-at' });
    trail.record({ kind: 'auth.failure', at: '+275760-09-13T00:00:00.000Z', target: 'far-at' });
    trail.record({ kind: 'auth.failure', userAgent: 'x'.repeat(100_000), target: 'long' });
  });
  assert.equal(errors.length, 4, 'null, undefined, unknown kind, hostile actor');
  await trail.flush();
  const events = await stored();
  assert.deepEqual(events.map((e) => e.target), ['long', 'far-at', 'bad-at', 'bigint', 'getter', 'circular']);
  assert.deepEqual(events.find((e) => e.target === 'circular')!.details, { unserializable: true });
  assert.ok(events.every((e) => /^\d{4}-/.test(e.at)));
  assert.ok(events.find((e) => e.target === 'long')!.userAgent!.length <= 512);

  // The store refuses: the batch is lost and counted, the caller never sees it.
  store.fail = new Error('disk full');
  trail.record(failure(1));
  await trail.flush();
  assert.equal(errors.at(-1), store.fail);
  assert.equal(trail.stats().failed, 1);
  store.fail = undefined;

  // A closed store, and an onError that itself throws.
  await store.inner.close();
  const angry = new AuditTrail(store, { onError: () => { throw new Error('callback'); } });
  assert.doesNotThrow(() => angry.record(failure(2)));
  await angry.flush();
  assert.equal(angry.stats().failed, 1);
  await angry.close();
  await trail.close();
});

test('no stored row ever holds a full managed key, whatever the caller passes', async () => {
  const { store, trail } = setup({ flushIntervalMs: 60_000 });
  const live = generateApiKey('live').key;
  const test = generateApiKey('test').key;
  trail.record({ kind: 'auth.failure', keyPrefix: live, code: 'invalid_api_key', target: 'prefix-field' });
  trail.record({ kind: 'auth.failure', keyPrefix: live.slice(0, 16), target: 'prefix-only' });
  trail.record({
    kind: 'auth.failure',
    keyPrefix: `  ${live}`,
    actor: live,
    userAgent: `agent ${test} and ${live}`,
    route: `GET /api/x/${live}`,
    code: live,
    target: live,
    ip: live,
    details: { key: live, nested: [{ again: test }], text: `Bearer ${live}` },
  });
  await trail.close();

  const db = new Database(store.file, { readonly: true });
  const rows = db.prepare('SELECT * FROM audit_events').all() as Record<string, unknown>[];
  db.close();
  assert.equal(rows.length, 3);
  const dump = JSON.stringify(rows);
  for (const key of [live, test]) {
    assert.ok(!dump.includes(key), 'the full key is nowhere');
    assert.ok(!dump.includes(key.slice(0, 17)), 'nor anything longer than its 16-character prefix');
  }
  assert.doesNotMatch(dump, /dk_(live|test)_[A-Za-z0-9_-]{9}/);
  const byTarget = new Map(rows.map((row) => [row.target, row]));
  assert.equal(byTarget.get('prefix-field')!.key_prefix, live.slice(0, 16));
  assert.equal(byTarget.get('prefix-only')!.key_prefix, live.slice(0, 16));
  for (const row of rows) assert.ok(row.key_prefix === null || (row.key_prefix as string).length <= 16);
  await store.close();
});

test('retention prunes old events at start and then periodically, keeping recent ones', async () => {
  let now = Date.parse('2024-06-01T00:00:00.000Z');
  const { store, trail, stored } = setup({ flushIntervalMs: 60_000, now: () => now });
  const daysAgo = (days: number) => new Date(now - days * 86_400_000).toISOString();
  trail.record({ ...failure(), at: daysAgo(120), target: 'old' });
  trail.record({ ...failure(), at: daysAgo(91), target: 'just-old' });
  trail.record({ ...failure(), at: daysAgo(89), target: 'recent' });
  trail.record({ ...failure(), target: 'now' });
  await trail.flush();

  assert.equal(await trail.startRetention({ retentionDays: 90, intervalMs: 20 }), 2);
  assert.deepEqual((await stored()).map((e) => e.target), ['now', 'recent']);

  // Time passes: the periodic run catches up.
  now += 2 * 86_400_000;
  await sleep(80);
  assert.deepEqual((await stored()).map((e) => e.target), ['now']);
  assert.equal(trail.stats().pruned, 3);

  // Zero days keeps everything and stops the timer.
  now += 365 * 86_400_000;
  assert.equal(await trail.startRetention({ retentionDays: 0 }), 0);
  await sleep(50);
  assert.deepEqual((await stored()).map((e) => e.target), ['now']);
  await trail.close();
  await store.close();
});

test('a failing prune goes to onError and startRetention still resolves', async () => {
  const { store, trail, errors } = setup();
  const prune = store.prune.bind(store);
  store.prune = async () => { throw new Error('locked'); };
  assert.equal(await trail.startRetention({ retentionDays: 90 }), 0);
  assert.equal((errors[0] as Error).message, 'locked');
  store.prune = prune;
  await trail.close();
  await store.close();
});

test('identical failures within the window are written once, then as one summary with their count', async () => {
  // The window is judged on the trail's clock, which this test moves; only the check runs on timers.
  let now = Date.parse('2024-06-01T00:00:00.000Z');
  const { store, trail, stored } = setup({ flushIntervalMs: 10, summaryWindowMs: 100, now: () => now });
  const attempt = (userAgent: string, keyPrefix: string) =>
    trail.record({ kind: 'auth.failure', code: 'invalid_api_key', ip: '198.51.100.7', route: 'GET /api/find/:collection', userAgent, keyPrefix, details: { method: 'api-key' } });
  const until = async (count: number) => {
    for (let i = 0; i < 200 && (await stored()).length < count; i++) await sleep(10);
    return stored();
  };
  attempt('guesser/1', 'dk_live_AAAAAAAA');
  assert.equal((await until(1)).length, 1, 'the first one is written at once');
  for (let i = 2; i <= 1000; i++) {
    now += 0.05;
    attempt(`guesser/${i}`, `dk_live_${String(i).padStart(8, 'B')}`);
  }
  await sleep(250);
  assert.equal((await stored()).length, 1, 'the repeats are only counted while the window is open');
  assert.equal(trail.stats().summarised, 999);

  now += 100;
  const events = await until(2);
  assert.equal(events.length, 2, 'the window closed: one summary');
  const [summary, first] = events as [StoredAuditEvent, StoredAuditEvent];
  assert.equal(first.userAgent, 'guesser/1');
  assert.equal(first.details?.repeated, undefined);
  assert.equal(summary.kind, 'auth.failure');
  assert.equal(summary.code, 'invalid_api_key');
  assert.equal(summary.ip, '198.51.100.7');
  assert.equal(summary.route, 'GET /api/find/:collection');
  assert.equal(summary.userAgent, 'guesser/1000', 'the fields of the last one');
  assert.equal(summary.details?.method, 'api-key');
  assert.equal(summary.details?.repeated, 999);
  assert.ok(Date.parse(String(summary.details?.first_at)) < Date.parse(String(summary.details?.last_at)));
  assert.equal(summary.at, summary.details?.last_at);

  // After the window, the next failure is written at once again.
  attempt('guesser/again', 'dk_live_CCCCCCCC');
  assert.equal((await until(3)).length, 3);
  await trail.close();
  await store.close();
});

test('failures from other addresses, codes, routes or kinds are summarised apart; IPv6 per /64', async () => {
  const { store, trail, stored } = setup({ flushIntervalMs: 60_000, summaryWindowMs: 60_000 });
  const base = { kind: 'auth.failure' as const, code: 'invalid_api_key', ip: '198.51.100.7', route: 'GET /api/collections' };
  const variants = [
    base,
    { ...base, ip: '198.51.100.8' },
    { ...base, code: 'invalid_token' },
    { ...base, route: 'POST /api/query' },
    { ...base, kind: 'auth.login_failed' as const, target: 'user:admin', route: 'POST /api/login', code: 'invalid_credentials' },
    { ...base, ip: '2001:db8:1:2::1' },
  ];
  for (let round = 0; round < 3; round++) for (const variant of variants) trail.record(variant);
  // The same /64 as the last variant: one client rotating its addresses.
  for (let i = 2; i < 50; i++) trail.record({ ...base, ip: `2001:db8:1:2::${i.toString(16)}` });
  await trail.flush();
  const events = await stored();
  const firsts = events.filter((e) => e.details?.repeated === undefined);
  const summaries = events.filter((e) => e.details?.repeated !== undefined);
  assert.equal(firsts.length, variants.length);
  assert.equal(summaries.length, variants.length);
  assert.deepEqual(summaries.map((e) => e.details!.repeated).sort((a, b) => Number(a) - Number(b)), [2, 2, 2, 2, 2, 2 + 48]);
  await trail.close();
  await store.close();
});

test('successes and key changes are never summarised', async () => {
  const { store, trail, stored } = setup({ flushIntervalMs: 60_000, summaryWindowMs: 60_000 });
  for (let i = 0; i < 5; i++) {
    trail.record({ kind: 'auth.login', actor: 'user:admin', target: 'user:admin', ip: '127.0.0.1', route: 'POST /api/login' });
    trail.record({ kind: 'key.permissions', actor: 'env:admin', target: 'key_a', ip: '127.0.0.1' });
  }
  await trail.flush();
  assert.equal((await stored()).length, 10);
  assert.equal(trail.stats().summarised, 0);
  await trail.close();
  await store.close();
});

test('close writes the summaries of open windows; a window of 0 writes every failure', async () => {
  const summarising = setup({ flushIntervalMs: 60_000, summaryWindowMs: 3_600_000 });
  for (let i = 0; i < 100; i++) summarising.trail.record(failure());
  await summarising.trail.close();
  const events = await summarising.stored();
  assert.deepEqual(events.map((e) => e.details?.repeated ?? null), [99, null]);
  await summarising.store.close();

  const plain = setup({ flushIntervalMs: 60_000, summaryWindowMs: 0 });
  for (let i = 0; i < 100; i++) plain.trail.record(failure());
  await plain.trail.close();
  assert.equal((await plain.stored()).length, 100);
  await plain.store.close();
});

test('maxEvents bounds the store: after each write the oldest beyond it are deleted', async () => {
  const { store, trail, stored } = setup({ flushIntervalMs: 60_000, maxEvents: 50 });
  for (let batch = 0; batch < 4; batch++) {
    for (let i = 0; i < 30; i++) trail.record(failure(batch * 30 + i));
    await trail.flush();
    assert.ok((await stored()).length <= 50);
  }
  const targets = (await stored()).map((e) => e.target);
  assert.equal(targets.length, 50);
  assert.equal(targets[0], 't119', 'the newest are kept');
  assert.equal(targets[49], 't70');
  assert.equal(trail.stats().pruned, 70);
  await trail.close();
  await store.close();
});

test('retention also applies the size bound to a store that grew past it', async () => {
  const { store, trail, stored } = setup({ flushIntervalMs: 60_000 });
  for (let i = 0; i < 40; i++) trail.record(failure(i));
  await trail.close();
  const bounded = new AuditTrail(store, { maxEvents: 10 });
  assert.equal(await bounded.startRetention({ retentionDays: 90 }), 30);
  assert.equal((await stored()).length, 10);
  await bounded.close();
  await store.close();
});
