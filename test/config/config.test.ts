import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config/index.js';

test('defaults match CONTRACT.md §1', () => {
  const config = loadConfig({});
  assert.equal(config.port, 3000);
  assert.equal(config.host, '127.0.0.1');
  assert.equal(config.dataDir, path.resolve('./data'));
  assert.equal(config.adminUsername, 'admin');
  assert.equal(config.jwtExpiresIn, 7 * 86400);
  assert.equal(config.tokenExpiresIn, 3600);
  assert.equal(config.apiRateLimit, 0);
  assert.equal(config.authFailureLimit, 100);
  assert.deepEqual(config.allowedIps, ['*']);
  assert.deepEqual(config.trustedProxies, []);
  assert.deepEqual(config.validApiKeys, []);
  assert.equal(config.bodyLimit, 10 * 1024 * 1024);
  assert.equal(config.ducklingApiKey, undefined);
});

test('values are parsed', () => {
  const config = loadConfig({
    PORT: '8080', HOST: '0.0.0.0', VALID_API_KEYS: 'client-key-aaaaaaaa1, client-key-bbbbbbbb2',
    JWT_EXPIRES_IN: '12h', TOKEN_EXPIRES_IN: '90', API_RATE_LIMIT: '100', ALLOWED_IPS: '192.168.1.100, 10.0.0.0/8, ::1',
    TRUSTED_PROXIES: '127.0.0.1', STORE_URL: 'postgres://localhost/test', REDIS_URL: 'redis://127.0.0.1:6379', BODY_LIMIT: '1mb',
  });
  assert.equal(config.port, 8080);
  assert.deepEqual(config.validApiKeys, ['client-key-aaaaaaaa1', 'client-key-bbbbbbbb2']);
  assert.equal(config.jwtExpiresIn, 43200);
  assert.equal(config.tokenExpiresIn, 90);
  assert.deepEqual(config.allowedIps, ['192.168.1.100', '10.0.0.0/8', '::1']);
  assert.equal(config.bodyLimit, 1024 * 1024);
});

test('each bad value names its variable', () => {
  const cases: Record<string, string> = {
    PORT: '70000', DUCKLING_API_KEY: 'short', VALID_API_KEYS: 'ok-key-0123456789,short', JWT_SECRET: 'x'.repeat(31),
    JWT_EXPIRES_IN: 'soon', TOKEN_EXPIRES_IN: '0', API_RATE_LIMIT: '-1', AUTH_FAILURE_LIMIT: '0', ALLOWED_IPS: '300.1.1.1',
    TRUSTED_PROXIES: '*', STORE_URL: 'sqlite://x', REDIS_URL: 'http://x', BODY_LIMIT: 'big', LOG_LEVEL: 'loud', DUCKDB_MEMORY_LIMIT: 'lots',
  };
  for (const [name, value] of Object.entries(cases)) {
    assert.throws(() => loadConfig({ [name]: value }), (error: unknown) => {
      assert.ok(error instanceof ConfigError, name);
      assert.match(error.message, new RegExp(`^Invalid configuration: ${name.replace(/_/g, '_')}`), error.message);
      assert.ok(!error.message.includes('\n'));
      return true;
    }, name);
  }
});

test('resource budgets (issue 10): documented defaults', () => {
  const config = loadConfig({});
  assert.equal(config.queryTimeoutMs, 30_000);
  assert.deepEqual(config.dataLimits, {
    result: { maxRows: 10_000, maxBytes: 32 * 1024 * 1024 },
    maxSqlLength: 100 * 1024,
    maxSqlNodes: 2000,
    maxSqlTableRefs: 32,
    maxSqlDepth: 1000,
    maxInValues: 1000,
    maxFilterTerms: 256,
    maxNewFieldsPerWrite: 64,
    maxColumnsPerCollection: 500,
  });
  assert.deepEqual(config.resultCeiling, { maxRows: 1_000_000, maxBytes: 256 * 1024 * 1024 });
});

test('resource budgets are parsed', () => {
  const config = loadConfig({
    MAX_RESULT_ROWS: '500', MAX_RESULT_BYTES: '1mb', RESULT_ROWS_CEILING: '5000', RESULT_BYTES_CEILING: '8mb', MAX_SQL_LENGTH: '10kb',
    MAX_SQL_NODES: '300', MAX_SQL_TABLE_REFS: '4', MAX_SQL_DEPTH: '50', MAX_IN_VALUES: '20', MAX_FILTER_TERMS: '30',
    MAX_NEW_FIELDS_PER_WRITE: '5', MAX_COLUMNS_PER_COLLECTION: '40',
  });
  assert.deepEqual(config.dataLimits, {
    result: { maxRows: 500, maxBytes: 1024 * 1024 },
    maxSqlLength: 10 * 1024, maxSqlNodes: 300, maxSqlTableRefs: 4, maxSqlDepth: 50, maxInValues: 20, maxFilterTerms: 30,
    maxNewFieldsPerWrite: 5, maxColumnsPerCollection: 40,
  });
  assert.deepEqual(config.resultCeiling, { maxRows: 5000, maxBytes: 8 * 1024 * 1024 });
});

test('each bad resource budget names its variable in one line', () => {
  const cases: [Record<string, string>, string][] = [
    [{ MAX_RESULT_ROWS: '0' }, 'MAX_RESULT_ROWS'],
    [{ MAX_RESULT_ROWS: '2000000' }, 'MAX_RESULT_ROWS'],
    [{ MAX_RESULT_ROWS: '600', RESULT_ROWS_CEILING: '500' }, 'MAX_RESULT_ROWS'],
    [{ MAX_RESULT_BYTES: 'lots' }, 'MAX_RESULT_BYTES'],
    [{ MAX_RESULT_BYTES: '300mb' }, 'MAX_RESULT_BYTES'],
    [{ RESULT_ROWS_CEILING: '-5' }, 'RESULT_ROWS_CEILING'],
    [{ RESULT_BYTES_CEILING: '5gb' }, 'RESULT_BYTES_CEILING'],
    [{ MAX_SQL_LENGTH: '10' }, 'MAX_SQL_LENGTH'],
    [{ MAX_SQL_NODES: 'many' }, 'MAX_SQL_NODES'],
    [{ MAX_SQL_TABLE_REFS: '0' }, 'MAX_SQL_TABLE_REFS'],
    [{ MAX_SQL_DEPTH: '2' }, 'MAX_SQL_DEPTH'],
    [{ MAX_IN_VALUES: '1.5' }, 'MAX_IN_VALUES'],
    [{ MAX_FILTER_TERMS: '0' }, 'MAX_FILTER_TERMS'],
    [{ MAX_NEW_FIELDS_PER_WRITE: '0' }, 'MAX_NEW_FIELDS_PER_WRITE'],
    [{ MAX_COLUMNS_PER_COLLECTION: '1' }, 'MAX_COLUMNS_PER_COLLECTION'],
  ];
  for (const [env, name] of cases) {
    assert.throws(() => loadConfig(env), (error: unknown) => {
      assert.ok(error instanceof ConfigError, name);
      assert.match(error.message, new RegExp(`^Invalid configuration: ${name} `), error.message);
      assert.ok(!error.message.includes('\n'));
      return true;
    }, JSON.stringify(env));
  }
});

test('CHANGE_CHANNEL: the store\'s own feed by default, Redis when REDIS_URL is set; redis without REDIS_URL is refused', () => {
  assert.equal(loadConfig({}).changeChannel, 'store');
  assert.equal(loadConfig({ REDIS_URL: 'redis://127.0.0.1:6379' }).changeChannel, 'redis');
  assert.equal(loadConfig({ REDIS_URL: 'redis://127.0.0.1:6379', CHANGE_CHANNEL: 'store' }).changeChannel, 'store');
  for (const env of [{ CHANGE_CHANNEL: 'redis' }, { CHANGE_CHANNEL: 'kafka', REDIS_URL: 'redis://127.0.0.1:6379' }]) {
    assert.throws(() => loadConfig(env), (error: unknown) => error instanceof ConfigError && /^Invalid configuration: CHANGE_CHANNEL/.test(error.message) && !error.message.includes('\n'));
  }
});

test('RECORD_CACHE_BYTES (issue 17): 64mb by default, 0 turns it off, off and refused with DATA_URL, bad values named', () => {
  assert.equal(loadConfig({}).recordCacheBytes, 64 * 1024 * 1024);
  assert.equal(loadConfig({ RECORD_CACHE_BYTES: '0' }).recordCacheBytes, 0);
  assert.equal(loadConfig({ RECORD_CACHE_BYTES: '8mb' }).recordCacheBytes, 8 * 1024 * 1024);
  assert.equal(loadConfig({ DATA_URL: 'postgres://db/x' }).recordCacheBytes, 0);
  assert.equal(loadConfig({ DATA_URL: 'postgres://db/x', RECORD_CACHE_BYTES: '0' }).recordCacheBytes, 0);
  for (const env of [{ RECORD_CACHE_BYTES: 'lots' }, { RECORD_CACHE_BYTES: '10' }, { RECORD_CACHE_BYTES: '100gb' }, { DATA_URL: 'postgres://db/x', RECORD_CACHE_BYTES: '64mb' }]) {
    assert.throws(() => loadConfig(env), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.match(error.message, /^Invalid configuration: RECORD_CACHE_BYTES/);
      assert.ok(!error.message.includes('\n'));
      return true;
    }, JSON.stringify(env));
  }
});
