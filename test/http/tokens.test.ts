import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SignJWT, decodeJwt } from 'jose';
import { ADMIN_KEY, CLIENT_KEY, startTestServer, type TestServer } from '../helpers/server.js';
import { startServer } from '../../src/server.js';
import type { Config } from '../../src/config/index.js';
import { as, createKey } from '../helpers/keys.js';

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('token exchange (seed 003)', () => {
  let server: TestServer;
  let secret: Uint8Array;
  const exchange = (apiKey: string) => server.request({ method: 'POST', url: '/api/auth/token', key: null, payload: { api_key: apiKey } });
  before(async () => {
    server = await startTestServer({ JWT_SECRET: 'a-test-secret-that-is-at-least-32-bytes-long' });
    secret = new TextEncoder().encode('a-test-secret-that-is-at-least-32-bytes-long');
    await server.request({ method: 'POST', url: '/api/insert/users', payload: { id: 'u1', name: 'Ada' } });
  });
  after(async () => server.stop());

  test('a key becomes a JWT with iss, aud, sub, iat, exp, jti; the JWT works like its key', async () => {
    const { key, key_id } = await createKey(server, { collection_permissions: { users: ['read'] } });
    const res = await exchange(key);
    assert.equal(res.statusCode, 200, res.body);
    const { token, expires_in } = res.json();
    assert.equal(expires_in, 3600);
    const claims = decodeJwt(token);
    assert.equal(claims.sub, key_id);
    assert.equal(claims.iss, 'duckgate');
    assert.equal(claims.aud, 'duckgate:api');
    assert.equal(typeof claims.jti, 'string');
    // Whole seconds: exp is rounded up from the signing time, so the token lives at least 3600 s.
    assert.ok([3600, 3601].includes((claims.exp as number) - (claims.iat as number)), `exp - iat = ${(claims.exp as number) - (claims.iat as number)}`);
    assert.equal((await as(server, token)('GET', '/api/find/users/u1')).statusCode, 200);
    assert.equal((await as(server, token)('GET', '/api/auth/keys')).statusCode, 403, 'not admin');
  });

  test('an unknown key, a revoked key or a token cannot be exchanged', async () => {
    const expect401 = async (apiKey: string) => {
      const res = await exchange(apiKey);
      assert.equal(res.statusCode, 401, apiKey);
      assert.deepEqual(res.json(), { error: 'API key not found or revoked', code: 'invalid_api_key' });
    };
    await expect401(`dk_live_${'x'.repeat(32)}`);
    await expect401('garbage');
    const { key, key_id } = await createKey(server, {});
    const { token } = (await exchange(key)).json();
    await expect401(token);
    await server.request({ method: 'DELETE', url: `/api/auth/keys/${key_id}` });
    await expect401(key);
  });

  test('revoking or regenerating the key kills its tokens at once', async () => {
    const revoked = await createKey(server, { collection_permissions: { users: ['read'] } });
    const t1 = (await exchange(revoked.key)).json().token;
    assert.equal((await as(server, t1)('GET', '/api/find/users')).statusCode, 200);
    await server.request({ method: 'DELETE', url: `/api/auth/keys/${revoked.key_id}` });
    const dead = await as(server, t1)('GET', '/api/find/users');
    assert.equal(dead.statusCode, 401);
    assert.equal(dead.json().code, 'invalid_token');

    const rotated = await createKey(server, { collection_permissions: { users: ['read'] } });
    const t2 = (await exchange(rotated.key)).json().token;
    await server.request({ method: 'POST', url: `/api/auth/keys/${rotated.key_id}/regenerate`, payload: { grace_seconds: 60 } });
    assert.equal((await as(server, t2)('GET', '/api/find/users')).statusCode, 401, 'tokens die with the key generation, grace or not');
  });

  test('a token exchanged with the previous key during a grace period dies when the grace ends', async () => {
    const { key, key_id } = await createKey(server, { collection_permissions: { users: ['read'] } });
    const regenerated = await server.request({ method: 'POST', url: `/api/auth/keys/${key_id}/regenerate`, payload: { grace_seconds: 2 } });
    const graceUntil = Date.parse(regenerated.json().grace_until);
    const during = await exchange(key);
    assert.equal(during.statusCode, 200, 'the previous key still works during the grace');
    const { token, expires_in } = during.json();
    assert.ok((decodeJwt(token).exp as number) * 1000 <= graceUntil, 'exp is capped at the end of the grace');
    assert.ok(expires_in <= 2, `expires_in tells the real lifetime (${expires_in})`);
    assert.equal((await as(server, token)('GET', '/api/find/users')).statusCode, 200);
    await new Promise((resolve) => setTimeout(resolve, graceUntil - Date.now() + 50));
    assert.equal((await exchange(key)).statusCode, 401, 'the previous key is dead');
    const after = await as(server, token)('GET', '/api/find/users');
    assert.equal(after.statusCode, 401, 'and so is the token exchanged with it');
    assert.equal(after.json().code, 'invalid_token');
    // A token from the new key lives its full lifetime.
    const fresh = (await exchange(regenerated.json().key)).json();
    assert.equal(fresh.expires_in, 3600);
  });

  test('a token never outlives the key it was exchanged for', async () => {
    const expiresAt = Date.now() + 30_000;
    const { key } = await createKey(server, { collection_permissions: { users: ['read'] }, expires_at: new Date(expiresAt).toISOString() });
    const { token, expires_in } = (await exchange(key)).json();
    assert.ok((decodeJwt(token).exp as number) * 1000 <= expiresAt, 'exp is capped at the key expiry');
    assert.ok(expires_in <= 30 && expires_in >= 28, `expires_in ${expires_in}`);
  });

  test('permission changes apply to tokens already issued', async () => {
    const { key, key_id } = await createKey(server, { collection_permissions: { users: ['read'] } });
    const { token } = (await exchange(key)).json();
    assert.equal((await as(server, token)('POST', '/api/insert/users', { name: 'x' })).statusCode, 403);
    await server.request({ method: 'PUT', url: '/api/auth/permissions', payload: { key_id, collection_permissions: { users: ['read', 'write'] } } });
    assert.equal((await as(server, token)('POST', '/api/insert/users', { name: 'x' })).statusCode, 201);
  });

  test('environment keys can be exchanged too', async () => {
    const { token } = (await exchange(ADMIN_KEY)).json();
    assert.equal((await as(server, token)('GET', '/api/auth/keys')).statusCode, 200);
  });

  test('forged, alg none, stripped, re-signed, expired, future-nbf, wrong-audience and malformed tokens → 401 invalid_token', async () => {
    const { key, key_id } = await createKey(server, { collection_permissions: { users: ['read'] } });
    const good = (await exchange(key)).json().token as string;
    const claims = decodeJwt(good);
    const [header, payload] = good.split('.');
    const now = Math.floor(Date.now() / 1000);
    const sign = (build: (jwt: SignJWT) => SignJWT, withSecret = secret, alg = 'HS256') =>
      build(new SignJWT({ gen: claims.gen }).setProtectedHeader({ alg, typ: 'dk-api+jwt' })).sign(withSecret);
    const base = (jwt: SignJWT) => jwt.setIssuer('duckgate').setAudience('duckgate:api').setSubject(key_id).setJti('j').setIssuedAt();
    const attacks: Record<string, string> = {
      'alg none': `${b64({ alg: 'none', typ: 'dk-api+jwt' })}.${payload}.`,
      'alg NONE': `${b64({ alg: 'NONE', typ: 'dk-api+jwt' })}.${payload}.`,
      'alg nOnE': `${b64({ alg: 'nOnE' })}.${payload}.`,
      'signature stripped': `${header}.${payload}.`,
      'payload swapped': `${header}.${b64({ ...claims, sub: 'key_admin' })}.${good.split('.')[2]}`,
      're-signed with another secret': await sign((j) => base(j).setExpirationTime('1h'), new TextEncoder().encode('another-secret-that-is-at-least-32-bytes')),
      'HS512 with the right secret': await sign((j) => base(j).setExpirationTime('1h'), secret, 'HS512'),
      expired: await sign((j) => base(j).setExpirationTime(now - 10)),
      'future nbf': await sign((j) => base(j).setExpirationTime('1h').setNotBefore(now + 3600)),
      'wrong audience': await sign((j) => j.setIssuer('duckgate').setAudience('duckgate:session').setSubject(key_id).setJti('j').setIssuedAt().setExpirationTime('1h')),
      'wrong issuer': await sign((j) => j.setIssuer('evil').setAudience('duckgate:api').setSubject(key_id).setJti('j').setIssuedAt().setExpirationTime('1h')),
      'no exp': await sign((j) => base(j)),
      'no jti': await sign((j) => j.setIssuer('duckgate').setAudience('duckgate:api').setSubject(key_id).setIssuedAt().setExpirationTime('1h')),
      malformed: 'aaa.bbb.ccc',
      'bad base64 json': `${b64({ alg: 'HS256' })}.bm90IGpzb24.abc`,
    };
    for (const [name, token] of Object.entries(attacks)) {
      const res = await as(server, token)('GET', '/api/find/users');
      assert.equal(res.statusCode, 401, `${name}: ${res.statusCode} ${res.body}`);
      assert.deepEqual(res.json(), { error: 'Invalid or expired token', code: 'invalid_token' }, name);
      assert.equal(res.headers['www-authenticate'], 'Bearer', name);
    }
    // The control: the same construction with the right secret and claims is accepted.
    const control = await sign((j) => base(j).setExpirationTime('1h'));
    assert.equal((await as(server, control)('GET', '/api/find/users')).statusCode, 200);
  });

  test('a short TOKEN_EXPIRES_IN expires tokens', async () => {
    const short = await startTestServer({ TOKEN_EXPIRES_IN: '1' });
    try {
      const { key } = await createKey(short, { collection_permissions: { '*': ['read'] } });
      const { token } = (await short.request({ method: 'POST', url: '/api/auth/token', key: null, payload: { api_key: key } })).json();
      assert.equal((await short.request({ method: 'GET', url: '/api/collections', key: token })).statusCode, 200);
      await new Promise((r) => setTimeout(r, 2100));
      assert.equal((await short.request({ method: 'GET', url: '/api/collections', key: token })).statusCode, 401);
    } finally {
      await short.stop();
    }
  });

  test('rotating JWT_SECRET with JWT_SECRET_PREVIOUS keeps tokens of environment and managed keys alive across a restart', async () => {
    const first = 'the-first-secret-which-is-32-bytes-long!';
    const next = 'the-next-secret-which-is-32-bytes-long!!';
    const own = await startTestServer({ JWT_SECRET: first });
    try {
      const { key } = await createKey(own, { collection_permissions: { '*': ['read'] } });
      const tokens: Record<string, string> = {};
      for (const [name, apiKey] of Object.entries({ admin: ADMIN_KEY, client: CLIENT_KEY, managed: key })) {
        tokens[name] = (await own.request({ method: 'POST', url: '/api/auth/token', key: null, payload: { api_key: apiKey } })).json().token;
      }
      await own.close();
      const statusesWith = async (config: Config) => {
        const running = await startServer(config, { log: false });
        try {
          const out: Record<string, number> = {};
          for (const [name, token] of Object.entries(tokens)) {
            out[name] = (await running.app.fastify.inject({ method: 'GET', url: '/api/collections', headers: { authorization: `Bearer ${token}` } })).statusCode;
          }
          return out;
        } finally {
          await running.close();
        }
      };
      assert.deepEqual(await statusesWith({ ...own.config, jwtSecret: next, jwtSecretPrevious: first }), { admin: 200, client: 200, managed: 200 });
      assert.deepEqual(await statusesWith({ ...own.config, jwtSecret: next }), { admin: 401, client: 401, managed: 401 }, 'without the previous secret: nothing verifies');
      // Rotating a key (not the secret) still kills the tokens exchanged for it, and only those.
      assert.deepEqual(
        await statusesWith({ ...own.config, jwtSecret: next, jwtSecretPrevious: first, adminApiKey: 'a-brand-new-admin-key-0123456789' }),
        { admin: 401, client: 200, managed: 200 },
      );
    } finally {
      await own.stop();
    }
  });
});
