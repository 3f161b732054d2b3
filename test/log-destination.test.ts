/**
 * The log destination over real pipes (issue 18): a reader that is gone or stopped never blocks
 * the writer; lines it cannot take are dropped and counted.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { LogDestination } from '../src/log-destination.js';

const line = (n: number, size = 200) => `${JSON.stringify({ level: 30, n, msg: 'x'.repeat(size) })}\n`;

/** `cat`, reading our pipe and echoing to its standard output, which we collect. */
function cat(): { child: ChildProcess; output: () => string } {
  const child = spawn('cat', [], { stdio: ['pipe', 'pipe', 'ignore'] });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return { child, output: () => output };
}

test('lines reach a reader that keeps up, and flush waits for them', async () => {
  const { child, output } = cat();
  const log = new LogDestination(child.stdin!);
  for (let i = 0; i < 100; i++) assert.equal(log.write(line(i)), true);
  assert.equal(await log.flush(5000), true);
  assert.deepEqual(log.stats(), { written: 100, dropped: 0, pending: 0, brokenBy: null });
  child.stdin!.end();
  await once(child, 'exit');
  assert.equal(output().split('\n').filter(Boolean).length, 100);
});

test('a reader that is gone: later lines are dropped and counted, nothing throws, flush returns at once', async () => {
  // The reader closes its end of the pipe and lives on, as a log collector that died leaves it.
  const child = spawn('sh', ['-c', 'exec 0<&-; echo closed; sleep 30'], { stdio: ['pipe', 'pipe', 'ignore'] });
  await once(child.stdout!, 'data');
  const log = new LogDestination(child.stdin!);
  for (let i = 0; i < 50; i++) log.write(line(i));
  // The first write learns of the broken pipe (EPIPE) asynchronously.
  const started = Date.now();
  await log.flush(10_000);
  for (let i = 0; i < 50; i++) assert.equal(log.write(line(i)), false);
  assert.ok(Date.now() - started < 2000, 'flush did not wait for a reader that is gone');
  assert.equal(await log.flush(10_000), true, 'nothing left pending');
  const stats = log.stats();
  assert.equal(stats.brokenBy, 'EPIPE');
  assert.equal(stats.written + stats.dropped, 100);
  assert.ok(stats.dropped >= 50);
  child.kill('SIGKILL');
});

test('a stopped reader: memory stays bounded, flush gives up at its deadline, the reader is told what it missed', async () => {
  const { child, output } = cat();
  try {
    child.kill('SIGSTOP');
    const log = new LogDestination(child.stdin!, { maxBufferedBytes: 64 * 1024 });
    let accepted = 0;
    // A pipe holds 64 KiB; the rest waits in memory up to the bound, then lines are dropped.
    for (let i = 0; i < 2000; i++) if (log.write(line(i))) accepted++;
    const stats = log.stats();
    assert.ok(stats.dropped > 0, 'lines beyond the bound were dropped');
    assert.equal(accepted + stats.dropped, 2000);
    assert.ok(child.stdin!.writableLength <= 64 * 1024 + 1024, `buffered ${child.stdin!.writableLength}`);

    const started = Date.now();
    assert.equal(await log.flush(300), false, 'lines still pending');
    assert.ok(Date.now() - started < 2000);

    child.kill('SIGCONT');
    assert.equal(await log.flush(10_000), true);
    log.write(line(9999, 10));
    assert.equal(await log.flush(10_000), true);
    child.stdin!.end();
    await once(child, 'exit');
    const lines = output().split('\n').filter(Boolean).map((text) => JSON.parse(text) as { n?: number; dropped?: number; msg: string });
    assert.equal(lines.length, accepted + 2);
    const notice = lines.at(-2)!;
    assert.equal(notice.dropped, stats.dropped);
    assert.match(notice.msg, /log lines dropped/);
    assert.equal(lines.at(-1)!.n, 9999);
  } finally {
    child.kill('SIGKILL');
  }
});

test('flush with nothing pending resolves at once', async () => {
  const { child } = cat();
  const log = new LogDestination(child.stdin!);
  assert.equal(await log.flush(10_000), true);
  child.kill('SIGKILL');
  await sleep(1);
});
