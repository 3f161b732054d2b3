/**
 * Issue 18: shutdown always completes. The real server process, its output piped to this one: a
 * closed or stalled standard output never keeps it from exiting after SIGTERM, requests in flight
 * get SHUTDOWN_TIMEOUT_MS, and a second signal exits at once.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { describe, test } from 'node:test';
import { once } from 'node:events';
import { shutdownOnSignal } from '../../src/cli/shutdown.js';
import { loadConfig } from '../../src/config/index.js';
import { ADMIN_KEY, tempDir } from '../helpers/server.js';
import { startCli, stopCli, type CliProcess } from '../helpers/process.js';

/** Resolves with how the process ended and how long after `since` it did; rejects after `limitMs`. */
async function exitWithin(cli: CliProcess, limitMs: number, since = Date.now()): Promise<{ code: number | null; ms: number }> {
  const exited = cli.child.exitCode !== null || cli.child.signalCode !== null
    ? Promise.resolve([cli.child.exitCode])
    : once(cli.child, 'exit');
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`still running ${limitMs} ms after SIGTERM:\n${cli.output()}`)), limitMs);
  });
  try {
    const [code] = (await Promise.race([exited, limit])) as [number | null];
    return { code, ms: Date.now() - since };
  } finally {
    clearTimeout(timer);
    if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill('SIGKILL');
  }
}

/** Requests that each log a warning (a refused key): log lines written after the pipe closed. */
async function failedRequests(url: string, count: number, userAgent = 'shutdown-test'): Promise<void> {
  await Promise.all(Array.from({ length: count }, (_, i) => fetch(`${url}/api/collections`, {
    headers: { 'x-api-key': `dk_live_${String(i).padStart(32, 'x')}`, 'user-agent': userAgent },
  }).then((res) => res.arrayBuffer())));
}

/**
 * A request whose headers the server has parsed (it answered `100 Continue`, so the request is
 * active, not an idle connection) and whose body never ends: in flight for as long as we like.
 */
async function requestInFlight(url: string): Promise<() => void> {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  socket.on('error', () => {});
  await once(socket, 'connect');
  socket.write(`POST /api/insert/slow HTTP/1.1\r\nHost: ${hostname}\r\nx-api-key: ${ADMIN_KEY}\r\ncontent-type: application/json\r\ncontent-length: 100\r\nexpect: 100-continue\r\n\r\n`);
  const [first] = (await once(socket, 'data')) as [Buffer];
  assert.match(first.toString('latin1'), /^HTTP\/1\.1 100 Continue/);
  socket.write('{"a":');
  return () => socket.destroy();
}

describe('shutdown', () => {
  test('a closed standard output never keeps the server from exiting cleanly on SIGTERM (5 runs)', async () => {
    const env = { DATA_DIR: tempDir(), ADMIN_API_KEY: ADMIN_KEY, LOG_LEVEL: 'warn' };
    for (let run = 0; run < 5; run++) {
      const cli = await startCli(env);
      // The reader goes away; everything the server logs from here on meets a closed pipe.
      cli.child.stdout!.destroy();
      await failedRequests(cli.url, 20, `run-${run}`);
      const since = Date.now();
      cli.child.kill('SIGTERM');
      const { code, ms } = await exitWithin(cli, 10_000, since);
      assert.equal(code, 0, `run ${run}: a clean exit, not a crash:\n${cli.output()}`);
      assert.ok(ms < 8000, `run ${run}: exited ${ms} ms after SIGTERM`);
      assert.doesNotMatch(cli.output(), /Unhandled 'error' event|EPIPE\n\s+at /);
      assert.match(cli.output(), /log lines dropped \(standard output: EPIPE\)/);
    }
    // The shutdowns were graceful: the refusals logged after the close reached the audit trail.
    const cli = await startCli(env);
    try {
      const res = await fetch(`${cli.url}/api/audit?kind=auth.failure&limit=1000`, { headers: { 'x-api-key': ADMIN_KEY } });
      const agents = new Set(((await res.json()) as { events: { user_agent: string }[] }).events.map((e) => e.user_agent));
      for (let run = 0; run < 5; run++) assert.ok(agents.has(`run-${run}`), `run ${run}'s failures were written at shutdown`);
    } finally {
      await stopCli(cli);
    }
  });

  test('a reader that stops reading holds the exit no longer than the log flush deadline', async () => {
    const cli = await startCli({ DATA_DIR: tempDir(), ADMIN_API_KEY: ADMIN_KEY, LOG_LEVEL: 'warn' });
    cli.child.stdout!.removeAllListeners('data');
    cli.child.stdout!.pause();
    // Far more than a pipe holds (64 KiB): the server's writes stall.
    await failedRequests(cli.url, 300, 'y'.repeat(240));
    const since = Date.now();
    cli.child.kill('SIGTERM');
    const { code, ms } = await exitWithin(cli, 20_000, since);
    // What the server left in the pipe is never read: let go of it, or this process stays up.
    cli.child.stdout!.destroy();
    assert.equal(code, 0, cli.output());
    assert.ok(ms < 10_000, `exited ${ms} ms after SIGTERM (the log gets 2 s)`);
  });

  test('past SHUTDOWN_TIMEOUT_MS a request in flight no longer holds the exit; queued audit events are still written', async () => {
    const env = { DATA_DIR: tempDir(), ADMIN_API_KEY: ADMIN_KEY, SHUTDOWN_TIMEOUT_MS: '100' };
    const cli = await startCli(env);
    const end = await requestInFlight(cli.url);
    try {
      // Queued for the next batch (200 ms), which the deadline comes before.
      await failedRequests(cli.url, 1, 'queued-at-deadline');
      const since = Date.now();
      cli.child.kill('SIGTERM');
      const { code, ms } = await exitWithin(cli, 10_000, since);
      assert.equal(code, 1, cli.output());
      assert.ok(ms >= 90 && ms < 8000, `exited ${ms} ms after SIGTERM`);
      assert.match(cli.output(), /shutdown deadline passed \(SHUTDOWN_TIMEOUT_MS=100\)/);
    } finally {
      end();
    }
    const again = await startCli(env);
    try {
      const res = await fetch(`${again.url}/api/audit?kind=auth.failure`, { headers: { 'x-api-key': ADMIN_KEY } });
      const events = ((await res.json()) as { events: { user_agent: string }[] }).events;
      assert.ok(events.some((e) => e.user_agent === 'queued-at-deadline'), 'the queued failure was written before the exit');
    } finally {
      await stopCli(again);
    }
  });

  test('without a deadline passing, the server waits for the request in flight, and a second signal exits at once', async () => {
    const cli = await startCli({ DATA_DIR: tempDir(), ADMIN_API_KEY: ADMIN_KEY, SHUTDOWN_TIMEOUT_MS: '60000' });
    const end = await requestInFlight(cli.url);
    try {
      cli.child.kill('SIGTERM');
      for (const started = Date.now(); !cli.output().includes('SIGTERM received'); await new Promise((resolve) => setTimeout(resolve, 20))) {
        assert.ok(Date.now() - started < 10_000, `no shutdown line:\n${cli.output()}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
      assert.equal(cli.child.exitCode, null, 'still draining');
      const since = Date.now();
      cli.child.kill('SIGINT');
      const { code, ms } = await exitWithin(cli, 5000, since);
      assert.equal(code, 1);
      assert.ok(ms < 4000, `exited ${ms} ms after the second signal`);
      assert.match(cli.output(), /SIGTERM received, shutting down: waiting for 1 request in flight, at most 60000 ms \(SHUTDOWN_TIMEOUT_MS\)/);
      assert.match(cli.output(), /second SIGINT: exiting now, without waiting for the shutdown to finish \(1 request in flight cut short\)/);
    } finally {
      end();
    }
  });

  test('one Ctrl-C delivered twice (terminal and npm) is one; a second Ctrl-C later exits now', () => {
    let clock = 0;
    const said: string[] = [];
    const exits: number[] = [];
    let closes = 0;
    const onSignal = shutdownOnSignal({
      close: () => {
        closes++;
        return new Promise(() => {});
      },
      salvage: async () => {},
      flushLogs: async () => true,
      inFlight: () => ({ requests: 2, sockets: 1 }),
      say: (line) => said.push(line),
      exit: (code) => exits.push(code),
    }, { drainTimeoutMs: 60_000, flushTimeoutMs: 10, now: () => clock });
    onSignal('SIGINT');
    clock += 20;
    onSignal('SIGINT');
    assert.equal(closes, 1);
    assert.deepEqual(exits, [], 'the echo of the first Ctrl-C does not exit');
    assert.match(said[0]!, /SIGINT received, shutting down: waiting for 2 requests in flight and 1 WebSocket, at most 60000 ms \(SHUTDOWN_TIMEOUT_MS\); Ctrl-C again exits now/);
    clock += 1000;
    onSignal('SIGINT');
    assert.deepEqual(exits, [1]);
    assert.match(said[1]!, /second SIGINT: exiting now, without waiting for the shutdown to finish \(2 requests in flight and 1 WebSocket cut short\)/);
  });

  test('SHUTDOWN_TIMEOUT_MS: 10 s by default, from 100 ms to an hour', () => {
    assert.equal(loadConfig({}).shutdownTimeoutMs, 10_000);
    assert.equal(loadConfig({ SHUTDOWN_TIMEOUT_MS: '2500' }).shutdownTimeoutMs, 2500);
    for (const bad of ['50', 'soon', '3600001']) assert.throws(() => loadConfig({ SHUTDOWN_TIMEOUT_MS: bad }), /Invalid configuration: SHUTDOWN_TIMEOUT_MS must be a whole number/);
  });
});
