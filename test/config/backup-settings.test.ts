import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config/index.js';

test('backup and automation settings: defaults', () => {
  const config = loadConfig({ DATA_DIR: '/srv/duckgate' });
  assert.deepEqual(config.backup, { dir: path.resolve('/srv/duckgate/backups'), minFreeBytes: 1024 ** 3, keep: 7, maxAgeDays: 0 });
  assert.deepEqual(config.automation, { tickMs: 10_000, leaseMs: 60_000 });
});

test('backup and automation settings: parsed', () => {
  const config = loadConfig({ DATA_DIR: '/srv/duckgate', BACKUP_DIR: '/mnt/backups', BACKUP_MIN_FREE: '5gb', BACKUP_KEEP: '0', BACKUP_MAX_AGE_DAYS: '30', AUTOMATION_TICK_MS: '500', AUTOMATION_LEASE_MS: '1000' });
  assert.deepEqual(config.backup, { dir: '/mnt/backups', minFreeBytes: 5 * 1024 ** 3, keep: 0, maxAgeDays: 30 });
  assert.deepEqual(config.automation, { tickMs: 500, leaseMs: 1000 });
  assert.equal(loadConfig({ DATA_DIR: '/srv/duckgate', BACKUP_DIR: 'elsewhere' }).backup.dir, path.resolve('/srv/duckgate/elsewhere'), 'relative to DATA_DIR');
});

test('backup and automation settings: each bad value names its variable', () => {
  const bad: [string, string, RegExp][] = [
    ['BACKUP_MIN_FREE', 'lots', /BACKUP_MIN_FREE must be a size/],
    ['BACKUP_KEEP', '-1', /BACKUP_KEEP must be a whole number/],
    ['BACKUP_MAX_AGE_DAYS', '1.5', /BACKUP_MAX_AGE_DAYS must be a whole number/],
    ['AUTOMATION_TICK_MS', '10', /AUTOMATION_TICK_MS must be a whole number from 100/],
    ['AUTOMATION_LEASE_MS', '15000', /AUTOMATION_LEASE_MS must be at least twice AUTOMATION_TICK_MS \(20000\)/],
  ];
  for (const [name, value, message] of bad) {
    assert.throws(() => loadConfig({ [name]: value }), (error: unknown) => error instanceof ConfigError && error.variable === name && message.test(error.message), name);
  }
});
