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
