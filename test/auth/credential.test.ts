import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readCredential } from '../../src/auth/credential.js';
import { EnvironmentKeys } from '../../src/auth/environment-keys.js';
import { ApiError } from '../../src/errors.js';

test('credentials are classified by shape', () => {
  const managed = `dk_live_${'a'.repeat(32)}`;
  assert.deepEqual(readCredential({ authorization: `Bearer ${managed}` }), { kind: 'managed-key', value: managed });
  assert.deepEqual(readCredential({ 'x-api-key': 'aaa.bbb.ccc' }), { kind: 'jwt', value: 'aaa.bbb.ccc' });
  assert.deepEqual(readCredential({ 'x-api-key': 'some-env-key' }), { kind: 'opaque', value: 'some-env-key' });
});

test('Bearer wins over x-api-key; a non-Bearer Authorization falls back to x-api-key', () => {
  assert.equal(readCredential({ authorization: 'Bearer first-key-xxxxxxxx', 'x-api-key': 'second' }).value, 'first-key-xxxxxxxx');
  assert.equal(readCredential({ authorization: 'Basic abc', 'x-api-key': 'second' }).value, 'second');
});

test('no credential throws missing_api_key', () => {
  for (const headers of [{}, { authorization: 'Bearer' }, { authorization: 'bearer   ' }, { authorization: 'Bearerx-key-0123456789' }, { 'x-api-key': '  ' }]) {
    assert.throws(() => readCredential(headers), (e: unknown) => e instanceof ApiError && e.code === 'missing_api_key');
  }
});

test('the Bearer scheme is case-insensitive (RFC 7235 §2.1)', () => {
  for (const scheme of ['bearer', 'BEARER', 'Bearer', 'bEARER']) {
    assert.deepEqual(readCredential({ authorization: `${scheme} some-env-key-0123` }), { kind: 'opaque', value: 'some-env-key-0123' });
  }
});

test('an overlong credential is refused before any hashing', () => {
  assert.throws(() => readCredential({ 'x-api-key': 'x'.repeat(5000) }), (e: unknown) => e instanceof ApiError && e.code === 'invalid_api_key_format');
});

test('environment keys resolve in contract order and never match a near miss', () => {
  const keys = new EnvironmentKeys({ adminApiKey: 'admin-key-0123456789', validApiKeys: ['client-key-0123456789'], ducklingApiKey: 'duck-key-0123456789' });
  assert.equal(keys.match('admin-key-0123456789')?.id, 'env:admin');
  assert.equal(keys.match('admin-key-0123456789')?.isAdmin, true);
  assert.equal(keys.match('client-key-0123456789')?.isAdmin, false);
  assert.equal(keys.match('duck-key-0123456789')?.id, 'env:duckling');
  assert.equal(keys.match('admin-key-012345678'), undefined);
  assert.equal(keys.match('admin-key-01234567890'), undefined);
  assert.equal(keys.match(''), undefined);
});

test('the same key configured twice resolves to the first in contract order', () => {
  const keys = new EnvironmentKeys({ adminApiKey: 'same-key-0123456789', validApiKeys: ['same-key-0123456789'] });
  assert.equal(keys.match('same-key-0123456789')?.id, 'env:admin');
});
