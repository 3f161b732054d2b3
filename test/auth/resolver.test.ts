/**
 * The one credential resolver (issue 11): every refusal is an outcome naming its step and code, in
 * the order credential → principal → key's allow list → rate limit, with failures counted per
 * address. Real parts throughout: environment keys, managed keys over SQLite, the memory limiter.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { generateApiKey } from '../../src/auth/api-key.js';
import { createAuthFailureCounter } from '../../src/auth/auth-failures.js';
import { EnvironmentKeys } from '../../src/auth/environment-keys.js';
import { ManagedKeys } from '../../src/auth/managed-keys.js';
import type { Principal } from '../../src/auth/principal.js';
import { MemoryRateLimiter } from '../../src/auth/rate-limit-memory.js';
import { CredentialResolver, type AuthOutcome, type PrincipalResolver } from '../../src/auth/resolver.js';
import { loadConfig } from '../../src/config/index.js';
import { startServer } from '../../src/server.js';
import { SqliteKeyStore } from '../../src/store/sqlite.js';
import { ADMIN_KEY, CLIENT_KEY, tempDir } from '../helpers/server.js';

describe('CredentialResolver outcomes', () => {
  let store: SqliteKeyStore;
  let managedKeys: ManagedKeys;
  let limitedKey: string;
  let fencedKey: string;

  const environmentKeys = new EnvironmentKeys({ adminApiKey: ADMIN_KEY, validApiKeys: [CLIENT_KEY] });
  const resolverWith = (failureLimit: number, defaultLimit = 0) => new CredentialResolver({
    sources: { environmentKeys, managedKeys },
    authFailures: createAuthFailureCounter({ limit: failureLimit }),
    rateLimit: { limiter: new MemoryRateLimiter(), defaultLimit },
  });
  const refusal = (outcome: AuthOutcome) => {
    assert.equal(outcome.ok, false);
    return outcome as Extract<AuthOutcome, { ok: false }>;
  };

  before(async () => {
    store = new SqliteKeyStore(path.join(tempDir(), 'control.sqlite'));
    const add = async (id: string, fields: { rateLimit?: number; allowedIps?: string[] }) => {
      const generated = generateApiKey();
      await store.createKey({
        id, hash: generated.hash, prefix: generated.prefix, label: id, description: '', isAdmin: false, permissions: {},
        expiresAt: null, rateLimit: fields.rateLimit ?? null, allowedIps: fields.allowedIps ?? null, createdBy: 'test',
      });
      return generated.key;
    };
    limitedKey = await add('key_limited', { rateLimit: 2 });
    fencedKey = await add('key_fenced', { allowedIps: ['10.0.0.0/8'] });
    managedKeys = new ManagedKeys(store, { cacheWithoutFeed: true });
  });
  after(async () => {
    await managedKeys.close();
    await store.close();
  });

  test('a valid credential in either header resolves to its principal', async () => {
    const resolver = resolverWith(10);
    const viaHeader = await resolver.resolve({ credential: { 'x-api-key': CLIENT_KEY }, ip: '192.0.2.1' });
    assert.ok(viaHeader.ok);
    assert.equal(viaHeader.principal.id, 'env:client:1');
    const viaBearer = await resolver.resolve({ credential: { authorization: `Bearer ${ADMIN_KEY}` }, ip: '192.0.2.1' });
    assert.ok(viaBearer.ok && viaBearer.principal.isAdmin);
  });

  test('each refused credential names its code and counts against the address', async () => {
    const resolver = resolverWith(3);
    const ip = '192.0.2.2';
    assert.equal(refusal(await resolver.resolve({ credential: {}, ip })).code, 'missing_api_key');
    assert.equal(refusal(await resolver.resolve({ credential: { 'x-api-key': 'not-a-key' }, ip })).code, 'invalid_api_key_format');
    const unknown = refusal(await resolver.resolve({ credential: { 'x-api-key': generateApiKey().key }, ip }));
    assert.deepEqual([unknown.reason, unknown.code, unknown.error.status], ['credential', 'invalid_api_key', 401]);
    // The fourth failure of this address is past the limit: 429, with the 401 it replaces as cause.
    const limited = refusal(await resolver.resolve({ credential: { authorization: 'Bearer a.b.c' }, ip }));
    assert.equal(limited.reason, 'failure_limit');
    assert.equal(limited.error.status, 429);
    assert.equal(limited.reason === 'failure_limit' && limited.cause.code, 'invalid_token');
    // A valid credential from the same address still passes; another address is counted apart.
    assert.ok((await resolver.resolve({ credential: { 'x-api-key': CLIENT_KEY }, ip })).ok);
    assert.equal(refusal(await resolver.resolve({ credential: {}, ip: '192.0.2.3' })).reason, 'credential');
  });

  test('token exchange accepts keys only: a token is refused as invalid_token', async () => {
    const outcome = refusal(await resolverWith(10).resolve({ credential: { 'x-api-key': 'a.b.c' }, ip: '192.0.2.4', accept: 'keys' }));
    assert.equal(outcome.code, 'invalid_token');
  });

  test("a key's own allow list comes after the principal, and is not a failed authentication", async () => {
    const resolver = resolverWith(1);
    const denied = refusal(await resolver.resolve({ credential: { 'x-api-key': fencedKey }, ip: '192.0.2.5' }));
    assert.equal(denied.reason, 'key_ip');
    assert.equal(denied.code, 'ip_denied');
    assert.equal(denied.reason === 'key_ip' && denied.principal.id, 'key_fenced');
    assert.ok((await resolver.resolve({ credential: { 'x-api-key': fencedKey }, ip: '10.1.2.3' })).ok);
    // The limit of 1 failure was not spent by the denial: the next bad credential is a plain 401.
    assert.equal(refusal(await resolver.resolve({ credential: {}, ip: '192.0.2.5' })).reason, 'credential');
  });

  test("the rate limit comes last, per client, and its decision travels with the outcome", async () => {
    const resolver = resolverWith(10, 100);
    const first = await resolver.resolve({ credential: { 'x-api-key': limitedKey }, ip: '192.0.2.6' });
    assert.ok(first.ok);
    assert.deepEqual([first.rateLimit?.limit, first.rateLimit?.remaining], [2, 1], "the key's own limit beats the default");
    assert.ok((await resolver.resolve({ credential: { 'x-api-key': limitedKey }, ip: '192.0.2.7' })).ok);
    const third = refusal(await resolver.resolve({ credential: { 'x-api-key': limitedKey }, ip: '192.0.2.8' }));
    assert.equal(third.reason, 'rate_limit');
    assert.equal(third.error.status, 429);
    assert.equal(third.reason === 'rate_limit' && third.rateLimit.remaining, 0);
    const env = await resolver.resolve({ credential: { 'x-api-key': CLIENT_KEY }, ip: '192.0.2.8' });
    assert.ok(env.ok && env.rateLimit?.limit === 100, 'the default limit for keys without their own');
  });

  test("a WebSocket's re-checks: consume false leaves the rate limit alone; a refused re-check is not counted as a guess", async () => {
    const resolver = resolverWith(1, 1);
    for (let i = 0; i < 3; i++) {
      const free = await resolver.resolve({ credential: { 'x-api-key': CLIENT_KEY }, ip: '192.0.2.9', recheck: true, consume: false });
      assert.ok(free.ok && free.rateLimit === undefined);
    }
    assert.ok((await resolver.resolve({ credential: { 'x-api-key': CLIENT_KEY }, ip: '192.0.2.9' })).ok, 'the one request allowed is still there');
    // A limit of one failure per address: re-checks that fail do not spend it.
    for (let i = 0; i < 3; i++) {
      const gone = refusal(await resolver.resolve({ credential: { 'x-api-key': 'dk_live_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' }, ip: '192.0.2.10', recheck: true }));
      assert.deepEqual([gone.reason, gone.code], ['credential', 'invalid_api_key']);
    }
    const guess = refusal(await resolver.resolve({ credential: { 'x-api-key': 'dk_live_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' }, ip: '192.0.2.10' }));
    assert.equal(guess.reason, 'credential', 'the first counted failure is still under the limit');
  });
});

describe('an injected resolver', () => {
  test('replaces authentication only: the global allow list and route access still apply', async () => {
    const dataDir = tempDir();
    const reader: Principal = {
      id: 'injected', kind: 'managed-key', isAdmin: false, label: 'injected', authMethod: 'api-key', generation: 'g',
      access: { kind: 'scoped', permissions: { notes: { read: true, write: false, delete: false, select_fields: null, exclude_fields: null, writable_fields: null } } },
    };
    const resolver: PrincipalResolver = { resolve: async () => ({ ok: true, principal: reader }) };
    const server = await startServer(loadConfig({ PORT: '0', DATA_DIR: dataDir, ADMIN_API_KEY: ADMIN_KEY, LOG_LEVEL: 'silent', ALLOWED_IPS: '127.0.0.1' }), { log: false, resolver, announce: () => {} });
    try {
      const inject = (method: 'GET' | 'POST', url: string, remoteAddress = '127.0.0.1') => server.app.fastify.inject({ method, url, remoteAddress, ...(method === 'POST' ? { payload: {} } : {}) });
      assert.equal((await inject('GET', '/api/find/notes')).statusCode, 404, 'no credential needed; the collection does not exist yet');
      assert.equal((await inject('POST', '/api/insert/notes')).statusCode, 403, 'route access still decides');
      assert.equal((await inject('GET', '/api/auth/keys')).statusCode, 403, 'admin routes still need an admin');
      assert.equal((await inject('GET', '/api/find/notes', '192.0.2.9')).statusCode, 403, 'ALLOWED_IPS still holds');
    } finally {
      await server.close();
    }
  });
});
