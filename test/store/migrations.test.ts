import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import Database from 'better-sqlite3';
import { MIGRATIONS } from '../../src/store/migrations.js';
import { SqliteAuditStore } from '../../src/store/sqlite-audit.js';
import { migrate } from '../../src/store/sqlite-file.js';
import { SqliteKeyStore } from '../../src/store/sqlite.js';

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function tempFile(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'duckgate-migrate-'));
  dirs.push(dir);
  return path.join(dir, 'control.sqlite');
}

function versions(file: string): number[] {
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare<[], { version: number }>('SELECT version FROM schema_migrations ORDER BY version').all().map((r) => r.version);
  } finally {
    db.close();
  }
}

const NEW_KEY = {
  id: 'key_one', hash: 'a'.repeat(64), prefix: 'dk_live_abcdefgh', label: 'one', description: '', isAdmin: true,
  permissions: {}, expiresAt: null, rateLimit: null, allowedIps: null, createdBy: 'test',
};

test('migration versions are unique, increasing, and version 1 is still the key schema', () => {
  const numbers = MIGRATIONS.map((m) => m.version);
  assert.deepEqual(numbers, [...numbers].sort((a, b) => a - b));
  assert.equal(new Set(numbers).size, numbers.length);
  assert.equal(numbers[0], 1);
  assert.match(MIGRATIONS[0]!.sql, /CREATE TABLE api_keys/);
  assert.doesNotMatch(MIGRATIONS[0]!.sql, /audit_events/);
});

test('an existing version-1 store file is upgraded in place by the audit store, keys intact', async () => {
  const file = tempFile();
  // The file as the previous release left it: the key store's schema (version 1 only), with a key.
  const v1 = new Database(file);
  v1.pragma('journal_mode = WAL');
  migrate(v1, MIGRATIONS.filter((m) => m.version === 1));
  v1.prepare(`INSERT INTO api_keys (id, prefix, key_hash, label, created_at) VALUES ('key_old', 'dk_live_oldoldol', ?, 'old', '2024-01-01T00:00:00.000Z')`).run('b'.repeat(64));
  v1.close();
  assert.deepEqual(versions(file), [1]);

  const audit = new SqliteAuditStore(file);
  assert.deepEqual(versions(file), MIGRATIONS.map((m) => m.version));
  await audit.append([{ at: new Date().toISOString(), kind: 'key.created', actor: 'env:admin', keyPrefix: null, ip: null, userAgent: null, route: null, code: null, target: 'key_old', details: null }]);
  assert.equal((await audit.query({ limit: 10 })).length, 1);
  await audit.close();

  const keys = new SqliteKeyStore(file);
  assert.equal((await keys.getKey('key_old'))?.prefix, 'dk_live_oldoldol');
  await keys.close();
  assert.deepEqual(versions(file), MIGRATIONS.map((m) => m.version));
});

test('the key store upgrades a version-1 file too, and the audit store then opens it as is', async () => {
  const file = tempFile();
  const v1 = new Database(file);
  migrate(v1, MIGRATIONS.filter((m) => m.version === 1));
  v1.close();
  const keys = new SqliteKeyStore(file);
  await keys.createKey(NEW_KEY);
  await keys.close();
  assert.deepEqual(versions(file), MIGRATIONS.map((m) => m.version));
  const audit = new SqliteAuditStore(file);
  assert.deepEqual(await audit.query({ limit: 1 }), []);
  await audit.close();
});

test('a store made by SqliteKeyStore, then the audit store on the same file, both open at once', async () => {
  const file = tempFile();
  const keys = new SqliteKeyStore(file);
  await keys.createKey(NEW_KEY);
  const audit = new SqliteAuditStore(file);
  await audit.append([{ at: new Date().toISOString(), kind: 'key.created', actor: 'env:admin', keyPrefix: 'dk_live_abcdefgh', ip: null, userAgent: null, route: null, code: null, target: 'key_one', details: null }]);
  // Each connection sees the other's writes.
  await keys.revokeKey('key_one');
  assert.equal((await audit.query({ limit: 10 }))[0]?.target, 'key_one');
  assert.equal(await keys.getKey('key_one'), undefined);
  assert.deepEqual(versions(file), MIGRATIONS.map((m) => m.version));
  await audit.close();
  await keys.close();
});

test('migrating twice, or from two connections, applies each migration once', () => {
  const file = tempFile();
  const a = new Database(file);
  const b = new Database(file);
  a.pragma('journal_mode = WAL');
  a.pragma('busy_timeout = 5000');
  b.pragma('busy_timeout = 5000');
  migrate(a);
  migrate(b);
  migrate(a);
  const rows = a.prepare<[], { n: number }>('SELECT count(*) AS n FROM schema_migrations').get()!;
  assert.equal(rows.n, MIGRATIONS.length);
  a.close();
  b.close();
});
