import assert from 'node:assert/strict';
import { test } from 'node:test';
import { generatePassword, hashPassword, passwordProblem, verifyPassword } from '../../src/auth/passwords.js';

test('passwords are argon2id at OWASP floor parameters, salted, and verify', async () => {
  const hash = await hashPassword('correct horse battery staple');
  assert.match(hash, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
  assert.notEqual(await hashPassword('correct horse battery staple'), hash, 'a fresh salt each time');
  assert.equal(await verifyPassword(hash, 'correct horse battery staple'), true);
  assert.equal(await verifyPassword(hash, 'correct horse battery stapl'), false);
  assert.equal(await verifyPassword(hash, 'Correct horse battery staple'), false);
});

test('long passwords are not truncated', async () => {
  const long = `${'x'.repeat(200)}!`;
  const hash = await hashPassword(long);
  assert.equal(await verifyPassword(hash, long), true);
  assert.equal(await verifyPassword(hash, 'x'.repeat(200)), false);
  assert.equal(await verifyPassword(hash, `${'x'.repeat(72)}`), false, 'no bcrypt-style 72-byte cut');
});

test('a malformed hash never verifies and never throws', async () => {
  for (const bad of ['', 'plain', '$argon2id$v=19$m=19456,t=2,p=1$bad', '$2b$10$abcdefghijklmnopqrstuv']) {
    assert.equal(await verifyPassword(bad, 'anything at all'), false, bad);
  }
});

test('generated passwords are 24 URL-safe characters and differ', () => {
  const a = generatePassword();
  assert.match(a, /^[A-Za-z0-9_-]{24}$/);
  assert.notEqual(generatePassword(), a);
  assert.equal(passwordProblem(a), undefined);
});

test('the policy: 12 to 1024 characters', () => {
  assert.match(passwordProblem('short') ?? '', /at least 12/);
  assert.equal(passwordProblem('twelve chars'), undefined);
  assert.match(passwordProblem('x'.repeat(1025)) ?? '', /at most 1024/);
});
