/**
 * Does a login for an unknown username take as long as a wrong password for the real one? Both
 * must run one argon2id verification (the unknown user's against a dummy hash), or the response
 * time tells an attacker which usernames exist. Times `AdminLogin.attempt`, what `POST /api/login`
 * runs (the HTTP layer around it is the same for both cases), on a real store, with the throttle's
 * caps raised so that it never answers first. The two cases are interleaved so drift hits both.
 *
 *   node --import tsx bench/login-timing.ts [samples per case, default 100]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { AdminLogin, ensureAdminAccount } from '../src/auth/admin-login.js';
import { LoginThrottle } from '../src/auth/login-throttle.js';
import { SqliteAccountStore } from '../src/store/sqlite-accounts.js';
import { percentile } from './stats.js';

const samples = Number(process.argv[2] ?? 100);
const dataDir = mkdtempSync(path.join(tmpdir(), 'duckgate-login-bench-'));
const accounts = new SqliteAccountStore(path.join(dataDir, 'control.sqlite'));
await ensureAdminAccount(accounts, 'admin', 'the real admin password');
const throttle = new LoginThrottle({ knownAddresses: accounts, limits: { perIp: 1e9, perAccount: 1e9, freeAttempts: 1e9 } });
const login = await AdminLogin.create({ username: 'admin', accounts, throttle });

const cases = { 'wrong password': 'admin', 'unknown user': 'nobody' } as const;
const times: Record<keyof typeof cases, number[]> = { 'wrong password': [], 'unknown user': [] };
try {
  for (let i = 0; i < samples + 10; i++) {
    const order = Object.entries(cases) as [keyof typeof cases, string][];
    if (i % 2) order.reverse();
    for (const [name, username] of order) {
      const started = process.hrtime.bigint();
      const outcome = await login.attempt(username, 'not the password', '10.0.0.1');
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      if (outcome.kind !== 'invalid') throw new Error(`${name}: expected invalid, got ${outcome.kind}`);
      if (i >= 10) times[name].push(ms);
    }
  }
} finally {
  await accounts.close();
  rmSync(dataDir, { recursive: true, force: true });
}

const p50: Record<string, number> = {};
for (const [name, series] of Object.entries(times)) {
  const sorted = [...series].sort((a, b) => a - b);
  p50[name] = percentile(sorted, 0.5);
  console.log(`${name.padEnd(15)} n=${sorted.length}  p50 ${percentile(sorted, 0.5).toFixed(2)} ms  p90 ${percentile(sorted, 0.9).toFixed(2)} ms  min ${sorted[0]!.toFixed(2)} ms`);
}
console.log(`unknown user / wrong password (p50): ${(p50['unknown user']! / p50['wrong password']!).toFixed(3)}`);
