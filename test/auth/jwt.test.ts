/**
 * Token lifetimes in whole seconds: a token lives at least as long as configured (never up to a
 * second less because the signing time was rounded down), and never past a hard end it is given.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import { signToken, tokenTimes, verifyToken, type TokenKind } from '../../src/auth/jwt.js';

const KIND: TokenKind = { audience: 'duckgate:test', typ: 'dk-test+jwt' };
const SECRETS = { secret: new TextEncoder().encode('a-test-secret-that-is-at-least-32-bytes-long') };

describe('token times', () => {
  test('a token signed late in a second still lives its whole lifetime', () => {
    for (const fraction of [0, 1, 500, 999]) {
      const nowMs = 1_700_000_000_000 + fraction;
      for (const lifetime of [1, 2, 3600]) {
        const { issuedAt, expiresAt } = tokenTimes(nowMs, lifetime);
        assert.ok(expiresAt * 1000 - nowMs >= lifetime * 1000, `signed at +${fraction} ms, lifetime ${lifetime} s: lives ${expiresAt * 1000 - nowMs} ms`);
        assert.ok(expiresAt * 1000 - nowMs < (lifetime + 1) * 1000, 'and less than a second more');
        assert.ok(issuedAt * 1000 <= nowMs, 'iat is never in the future');
      }
    }
  });

  test('a hard end cuts exp back, rounded down so the token never outlives it', () => {
    const nowMs = 1_700_000_000_250;
    assert.equal(tokenTimes(nowMs, 3600, nowMs + 10_700).expiresAt, Math.floor((nowMs + 10_700) / 1000));
    assert.equal(tokenTimes(nowMs, 5, nowMs + 3_600_000).expiresAt, Math.ceil((nowMs + 5000) / 1000), 'a later end changes nothing');
  });

  test('a signed 1-second token verifies for a whole second after signing', async () => {
    // Sign at the very end of a second: with exp = floor(now) + 1 it would be dead in a millisecond.
    const nowMs = Math.ceil(Date.now() / 1000) * 1000 - 1;
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, nowMs - Date.now())));
    const { token, expiresAtMs } = await signToken(KIND, SECRETS, 'someone', 1, { nowMs });
    assert.ok(expiresAtMs - nowMs >= 1000, `lives ${expiresAtMs - nowMs} ms`);
    assert.equal(decodeJwt(token).exp! * 1000, expiresAtMs);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, nowMs + 900 - Date.now())));
    assert.equal((await verifyToken(token, KIND, SECRETS)).sub, 'someone', 'still valid 900 ms after signing');
  });
});
