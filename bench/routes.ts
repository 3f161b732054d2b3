/**
 * Rows 3, 3b, 3c and 4: `GET /api/find/bench_items/:id` presented with the environment key, a
 * managed key and an exchanged JWT (all three on the same authenticating server), and with
 * authentication bypassed (its own server). A credential's cost is a few percent at most, less
 * than a shared machine's drift over a minute: so both servers run side by side, each on its own
 * byte-identical copy of the seeded directory (a DuckDB file opens in one process only), and the
 * measured runs alternate, each round rotating which scenario goes first: drift hits all alike.
 */
import { generateApiKey } from '../src/auth/api-key.js';
import type { BenchChild } from './child.js';
import { progress, startChild, stopChild } from './children.js';
import { BenchFailure, measureOnce, summarize, warmUp, type HttpFigures, type LoadOptions, type Sample, type Target } from './load.js';
import { BENCH_ADMIN_KEY, COLLECTION } from './protocol.js';
import { expectedRecord, idOf, randomId, sortKeys } from './seed.js';

/** The bench's managed key (see `key-seed.ts`): non-admin, read on `bench_items` only. */
export interface ManagedCredential {
  key: string;
  keyId: string;
}

export interface RouteFigures {
  authRoute: HttpFigures;
  bypassRoute: HttpFigures;
  managedKeyRoute?: HttpFigures;
  jwtRoute?: HttpFigures;
}

const recordPath = (index: number): string => `/api/find/${COLLECTION}/${idOf(index)}`;

async function expectStatus(response: Response, status: number, what: string): Promise<unknown> {
  const text = await response.text();
  if (response.status !== status) throw new BenchFailure(`preflight: ${what} answered ${response.status} ${text}, expected ${status}`);
  return text === '' ? undefined : JSON.parse(text);
}

/** The server answers the exact seeded record to a request with these headers. */
async function expectRecord(url: string, rows: number, headers: Record<string, string>, what: string): Promise<void> {
  const index = Math.floor(rows / 3);
  const body = await expectStatus(await fetch(`${url}${recordPath(index)}`, { headers }), 200, what) as Record<string, never>;
  if (JSON.stringify(sortKeys(body)) !== JSON.stringify(sortKeys(expectedRecord(index)))) {
    throw new BenchFailure(`preflight: ${what} answered ${JSON.stringify(body)}, expected ${JSON.stringify(expectedRecord(index))}`);
  }
}

/**
 * Before measuring, prove the server answers what we think it answers: the right record, and (for
 * the auth scenario) a refusal without a key, (for the bypass) an answer without one. Otherwise a
 * fast figure could be a fast 401.
 */
async function preflight(url: string, auth: boolean, rows: number): Promise<void> {
  await expectRecord(url, rows, { 'x-api-key': BENCH_ADMIN_KEY }, 'the environment key');
  await expectStatus(await fetch(`${url}${recordPath(0)}`), auth ? 401 : 200, auth ? 'no credential' : 'bypass without credential');
}

/**
 * The managed key reads the record, resolves to itself (a scoped, non-admin key, so it really went
 * through the store and not the environment keys), and a well-formed key that is not in the store
 * is refused. Then the key is exchanged through the real route, and the token is checked the same way.
 * Answers the token.
 */
async function preflightCredentials(url: string, rows: number, managed: ManagedCredential): Promise<string> {
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

interface Scenario {
  label: string;
  target: Target;
  samples: Sample[];
}

export async function measureRoutes(authDir: string, bypassDir: string, options: LoadOptions & { rows: number; rounds: number }, managed?: ManagedCredential): Promise<RouteFigures> {
  const { rows } = options;
  const authChild = await startChild({ role: 'duckgate', dataDir: authDir, auth: true });
  const bypassChild = await startChild({ role: 'duckgate', dataDir: bypassDir, auth: false });
  await preflight(authChild.url!, true, rows);
  await preflight(bypassChild.url!, false, rows);
  const token = managed ? await preflightCredentials(authChild.url!, rows, managed) : undefined;

  const scenario = (label: string, child: BenchChild, sibling: BenchChild, headers: Record<string, string>): Scenario => ({
    label, samples: [], target: { name: `${label} route`, child, siblings: [sibling], headers, path: () => `/api/find/${COLLECTION}/${randomId(rows)}` },
  });
  // The bypass sends the environment key's header too (ignored): the same bytes as row 3.
  const env = scenario('env key', authChild, bypassChild, { 'x-api-key': BENCH_ADMIN_KEY });
  const bypass = scenario('bypass', bypassChild, authChild, { 'x-api-key': BENCH_ADMIN_KEY });
  const key = managed ? scenario('managed key', authChild, bypassChild, { 'x-api-key': managed.key }) : undefined;
  const jwt = token ? scenario('JWT', authChild, bypassChild, { authorization: `Bearer ${token}` }) : undefined;
  const all = [env, key, jwt, bypass].filter((s): s is Scenario => s !== undefined);

  for (const s of all) await warmUp(s.target, options);
  const rate = (s: Scenario) => (s.samples.at(-1)!.requests / s.samples.at(-1)!.seconds).toFixed(0);
  for (let round = 0; round < options.rounds; round++) {
    // Rotate which goes first, so none always follows the same other.
    for (let k = 0; k < all.length; k++) {
      const s = all[(k + round) % all.length]!;
      s.samples.push(await measureOnce(s.target, options));
    }
    progress(`   round ${round + 1}: ${all.map((s) => `${s.label} ${rate(s)}`).join(', ')} req/s`);
  }
  await stopChild(authChild);
  await stopChild(bypassChild);
  return {
    authRoute: summarize(env.samples),
    bypassRoute: summarize(bypass.samples),
    ...(key ? { managedKeyRoute: summarize(key.samples) } : {}),
    ...(jwt ? { jwtRoute: summarize(jwt.samples) } : {}),
  };
}
