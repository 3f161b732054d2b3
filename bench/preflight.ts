/**
 * Checks before anything is measured: every server answers the exact seeded record, refuses (or,
 * bypassed, accepts) a request without a credential, runs a rate limiter exactly where one should
 * run (and in Redis where it should), and the managed key and its exchanged JWT resolve to the
 * bench's reader key. Otherwise a fast figure could be a fast 401, or a limiter that never ran.
 */
import { generateApiKey } from '../src/auth/api-key.js';
import type { RedisRun } from './limiters.js';
import { BenchFailure } from './load.js';
import { BENCH_ADMIN_KEY, COLLECTION } from './protocol.js';
import { expectedRecord, idOf, sortKeys } from './seed.js';

/** The bench's managed key (see `key-seed.ts`): non-admin, read on `bench_items` only. */
export interface ManagedCredential {
  key: string;
  keyId: string;
}

const recordPath = (index: number): string => `/api/find/${COLLECTION}/${idOf(index)}`;

async function expectStatus(response: Response, status: number, what: string): Promise<unknown> {
  const text = await response.text();
  if (response.status !== status) throw new BenchFailure(`preflight: ${what} answered ${response.status} ${text}, expected ${status}`);
  return text === '' ? undefined : JSON.parse(text);
}

/** The server answers the exact seeded record to a request with these headers; answers the response's headers. */
async function expectRecord(url: string, rows: number, headers: Record<string, string>, what: string): Promise<Headers> {
  const index = Math.floor(rows / 3);
  const response = await fetch(`${url}${recordPath(index)}`, { headers });
  const body = await expectStatus(response, 200, what) as Record<string, never>;
  if (JSON.stringify(sortKeys(body)) !== JSON.stringify(sortKeys(expectedRecord(index)))) {
    throw new BenchFailure(`preflight: ${what} answered ${JSON.stringify(body)}, expected ${JSON.stringify(expectedRecord(index))}`);
  }
  return response.headers;
}

/**
 * Before measuring, prove the server answers what we think it answers: the right record, and (for
 * the auth scenario) a refusal without a key, (for the bypass) an answer without one. Otherwise a
 * fast figure could be a fast 401. And a rate limiter runs exactly where one should: the answer
 * carries `RateLimit-Limit: <rateLimit>` on the limiter rows, and no such header elsewhere.
 */
export async function preflight(url: string, auth: boolean, rows: number, rateLimit?: number): Promise<void> {
  const headers = await expectRecord(url, rows, { 'x-api-key': BENCH_ADMIN_KEY }, 'the environment key');
  const limit = headers.get('ratelimit-limit');
  const expected = rateLimit === undefined ? null : String(rateLimit);
  if (limit !== expected) {
    throw new BenchFailure(`preflight: RateLimit-Limit is ${limit ?? 'absent'}, expected ${expected ?? 'none (no rate limiter on this server)'}`);
  }
  await expectStatus(await fetch(`${url}${recordPath(0)}`), auth ? 401 : 200, auth ? 'no credential' : 'bypass without credential');
}

/**
 * Row 5b's limiter counts in Redis, not in its in-process fallback (which it uses, silently at
 * LOG_LEVEL=silent, while its connection is not ready): the run's window in Redis must grow with
 * a request. Retried for a few seconds, as the server's connection may still be opening.
 */
export async function expectCountedInRedis(url: string, rows: number, run: RedisRun): Promise<void> {
  for (let attempt = 0; attempt < 25; attempt++) {
    const before = await run.countedRequests();
    await expectRecord(url, rows, { 'x-api-key': BENCH_ADMIN_KEY }, 'the environment key (Redis limiter)');
    if ((await run.countedRequests()) > before) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new BenchFailure(`preflight: the Redis limiter's server counts nothing under ${run.prefix}:rl:* in ${run.url}`);
}

/**
 * The managed key reads the record, resolves to itself (a scoped, non-admin key, so it really went
 * through the store and not the environment keys), and a well-formed key that is not in the store
 * is refused. Then the key is exchanged through the real route, and the token is checked the same way.
 * Answers the token.
 */
export async function preflightCredentials(url: string, rows: number, managed: ManagedCredential): Promise<string> {
  await expectRecord(url, rows, { 'x-api-key': managed.key }, 'the managed key');
  const me = await expectStatus(await fetch(`${url}/api/auth/permissions`, { headers: { 'x-api-key': managed.key } }), 200, 'permissions of the managed key') as
    { key_id: string; is_admin: boolean };
  if (me.key_id !== managed.keyId || me.is_admin) throw new BenchFailure(`preflight: the managed key resolved to ${JSON.stringify(me)}`);
  await expectStatus(await fetch(`${url}${recordPath(0)}`, { headers: { 'x-api-key': generateApiKey().key } }), 401, 'an unknown managed key');

  const exchanged = await expectStatus(await fetch(`${url}/api/auth/token`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ api_key: managed.key }),
  }), 200, 'POST /api/auth/token') as { token: string };
  const bearer = { authorization: `Bearer ${exchanged.token}` };
  await expectRecord(url, rows, bearer, 'the exchanged JWT');
  const tokenMe = await expectStatus(await fetch(`${url}/api/auth/permissions`, { headers: bearer }), 200, 'permissions of the JWT') as { key_id: string };
  if (tokenMe.key_id !== managed.keyId) throw new BenchFailure(`preflight: the JWT resolved to ${JSON.stringify(tokenMe)}`);
  // Flip one character of the signature: the server must check it, not only decode the token.
  const last = exchanged.token.at(-2) === 'A' ? 'B' : 'A';
  const forged = `${exchanged.token.slice(0, -2)}${last}${exchanged.token.at(-1)}`;
  await expectStatus(await fetch(`${url}${recordPath(0)}`, { headers: { authorization: `Bearer ${forged}` } }), 401, 'a forged JWT');
  return exchanged.token;
}
