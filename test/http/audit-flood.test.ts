/**
 * Audit and log flooding (issue 10, item 6): a flood of bad keys used to write one audit row
 * (~660 B) and two log lines per request. Identical failures are now summarised, log lines too,
 * and the audit store has a size bound besides its age bound.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { loadConfig } from '../../src/config/index.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { ADMIN_KEY, tempDir } from '../helpers/server.js';

interface Flooded {
  server: RunningServer;
  dataDir: string;
  lines: Record<string, unknown>[];
}

async function start(env: Record<string, string> = {}): Promise<Flooded> {
  const dataDir = tempDir();
  const config = loadConfig({ PORT: '0', DATA_DIR: dataDir, ADMIN_API_KEY: ADMIN_KEY, LOG_LEVEL: 'info', ...env });
  const lines: Record<string, unknown>[] = [];
  const server = await startServer(config, { logDestination: { write: (line) => void lines.push(JSON.parse(line) as Record<string, unknown>) }, announce: () => {} });
  return { server, dataDir, lines };
}

/** `count` requests with a well-formed but unknown managed key each, `parallel` at a time; answers the statuses seen. */
async function flood(server: RunningServer, count: number, address: (i: number) => string, parallel = 200): Promise<Map<number, number>> {
  const statuses = new Map<number, number>();
  for (let start = 0; start < count; start += parallel) {
    const batch = [];
    for (let i = start; i < Math.min(count, start + parallel); i++) {
      batch.push(server.app.fastify.inject({
        method: 'GET',
        url: '/api/find/notes/n1',
        remoteAddress: address(i),
        headers: { 'x-api-key': `dk_live_${randomBytes(24).toString('base64url')}`, 'user-agent': `guesser/${i}` },
      }));
    }
    for (const res of await Promise.all(batch)) statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
  }
  return statuses;
}

function auditRows(dataDir: string): { kind: string; code: string; details: string | null }[] {
  const db = new Database(path.join(dataDir, 'control.sqlite'), { readonly: true });
  try {
    return db.prepare('SELECT kind, code, details FROM audit_events ORDER BY id').all() as { kind: string; code: string; details: string | null }[];
  } finally {
    db.close();
  }
}

function storeBytes(dataDir: string): number {
  let total = 0;
  for (const suffix of ['', '-wal']) {
    try {
      total += statSync(path.join(dataDir, `control.sqlite${suffix}`)).size;
    } catch {
      // No WAL file right now.
    }
  }
  return total;
}

const failureLines = (lines: Record<string, unknown>[]) => lines.filter((line) => line.event === 'auth.failure' || line.event === 'rate_limited');

test('30,000 bad-key requests from one address add two audit rows and four log lines', { timeout: 180_000 }, async () => {
  const { server, dataDir, lines } = await start();
  try {
    const bytesBefore = storeBytes(dataDir);
    const statuses = await flood(server, 30_000, () => '198.51.100.66');
    // AUTH_FAILURE_LIMIT (100): the rest were throttled, and audited as failures all the same.
    assert.deepEqual(Object.fromEntries(statuses), { 401: 100, 429: 29_900 });

    const logged = failureLines(lines);
    assert.equal(logged.length, 2, 'one line for the first failure, one for the first throttled one');
    assert.deepEqual(logged.map((line) => [line.event, line.msg]), [['auth.failure', 'authentication failed'], ['rate_limited', 'rate limit exceeded']]);

    await server.app.audit.flush();
    const rows = auditRows(dataDir).filter((row) => row.kind === 'auth.failure');
    assert.equal(rows.length, 2, 'the first failure, then one summary');
    assert.equal(rows[0]!.details, JSON.stringify({ method: 'api-key' }));
    const summary = JSON.parse(rows[1]!.details!) as { repeated: number; first_at: string; last_at: string };
    assert.equal(summary.repeated, 29_999);
    assert.ok(storeBytes(dataDir) - bytesBefore < 512 * 1024, `the control store grew by ${storeBytes(dataDir) - bytesBefore} bytes`);
  } finally {
    await server.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
  // Closing logs what was still being counted: one "N similar failures suppressed" line per kind.
  const summaries = failureLines(lines).filter((line) => typeof line.suppressed === 'number');
  assert.deepEqual(summaries.map((line) => [line.event, line.suppressed]).sort(), [['auth.failure', 29_999], ['rate_limited', 29_899]]);
  assert.match(String(summaries[0]!.msg), /^\d+ similar failures suppressed \(/);
  assert.equal(failureLines(lines).length, 4);
});

test('the audit store stays within AUDIT_MAX_EVENTS, oldest pruned first, whatever the number of addresses', { timeout: 180_000 }, async () => {
  const { server, dataDir } = await start({ AUDIT_MAX_EVENTS: '1000', LOG_LEVEL: 'silent' });
  try {
    const statuses = await flood(server, 3000, (i) => `10.9.${i >> 8}.${i & 255}`);
    assert.deepEqual(Object.fromEntries(statuses), { 401: 3000 });
    await server.app.audit.flush();
    const rows = auditRows(dataDir);
    assert.equal(rows.length, 1000);
    // The newest thousand: the last addresses of the flood.
    const newest = await server.app.audit.query({ limit: 1, kinds: ['auth.failure'] });
    assert.equal(newest[0]!.ip, `10.9.${2999 >> 8}.${2999 & 255}`);
    const oldest = await server.app.audit.query({ limit: 1, kinds: ['auth.failure'], before: Number.MAX_SAFE_INTEGER, ip: '10.9.0.0' });
    assert.equal(oldest.length, 0, 'the first addresses were pruned');
  } finally {
    await server.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
