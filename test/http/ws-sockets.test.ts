/**
 * Which open sockets a control-plane change re-checks (`src/http/ws/sockets.ts`), and the
 * once-a-second sweep while the change feed is lost. The sessions here are plain objects with the
 * two members the registry reads; the real sessions are driven end to end in `ws.test.ts`.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Principal } from '../../src/auth/principal.js';
import type { SocketSession } from '../../src/http/ws/session.js';
import { OpenSockets } from '../../src/http/ws/sockets.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function session(principal: Partial<Principal>): SocketSession & { rechecks: number } {
  const counted = { principal: principal as Principal, rechecks: 0, recheck: async () => void counted.rechecks++ };
  return counted as unknown as SocketSession & { rechecks: number };
}

test('a change re-checks exactly the sockets it may concern', async () => {
  const sockets = new OpenSockets();
  const keyA = session({ id: 'key_a', authMethod: 'api-key' });
  const tokenOfA = session({ id: 'key_a', authMethod: 'jwt' });
  const keyB = session({ id: 'key_b', authMethod: 'api-key' });
  const admin = session({ id: 'session:admin', authMethod: 'jwt', username: 'admin' });
  for (const s of [keyA, tokenOfA, keyB, admin]) sockets.add(s);

  sockets.changed({ kind: 'key', keyId: 'key_a' });
  await sleep(10);
  assert.deepEqual([keyA, tokenOfA, keyB, admin].map((s) => s.rechecks), [1, 1, 0, 0]);
  sockets.changed({ kind: 'token', jti: 'j1', expiresAt: new Date(Date.now() + 60_000).toISOString() });
  await sleep(10);
  assert.deepEqual([keyA, tokenOfA, keyB, admin].map((s) => s.rechecks), [1, 2, 0, 1], 'every token socket: a principal carries no jti');
  sockets.changed({ kind: 'account', username: 'admin' });
  await sleep(10);
  assert.deepEqual([keyA, tokenOfA, keyB, admin].map((s) => s.rechecks), [1, 2, 0, 2]);
  for (const s of [keyA, tokenOfA, keyB, admin]) sockets.remove(s);
  await sockets.closeAll();
});

test('while the feed is lost every socket is re-checked each second, and once more when it is back', async () => {
  const sockets = new OpenSockets();
  const one = session({ id: 'key_a', authMethod: 'api-key' });
  sockets.add(one);
  sockets.lost();
  await sleep(2500);
  const swept = one.rechecks;
  assert.ok(swept >= 2 && swept <= 3, `${swept} sweeps in 2.5 s`);
  sockets.resumed();
  await sleep(10);
  assert.equal(one.rechecks, swept + 1);
  await sleep(1200);
  assert.equal(one.rechecks, swept + 1, 'no sweeping once the feed is live');
  sockets.remove(one);
  await sockets.closeAll();
});
