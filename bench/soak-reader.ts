/**
 * The soak's well-behaved client, in its own process so that the attack traffic the parent
 * generates does not delay its timers or its reads: `concurrency` loops of authenticated point
 * reads (`GET /api/find/bench_items/:id`), each with its own timeout, timed from send to the last
 * byte. Latencies are kept per phase in a bounded reservoir, so memory stays flat however long the
 * run. The parent (`soak.ts`) forks it with an IPC channel and says when each phase starts.
 */
import { percentile } from './stats.js';
import { randomId } from './seed.js';
import { COLLECTION } from './protocol.js';

export interface ReaderStart {
  type: 'start';
  url: string;
  key: string;
  rows: number;
  concurrency: number;
  timeoutMs: number;
  phase: string;
}

export type ReaderCommand = ReaderStart | { type: 'phase'; phase: string } | { type: 'stop' };

export interface PhaseFigures {
  phase: string;
  seconds: number;
  requests: number;
  ok: number;
  /** Non-2xx answers by status, plus `timeout` and `network` for requests that got none. */
  errors: Record<string, number>;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
}

export type ReaderReply = { type: 'ready' } | { type: 'report'; phases: PhaseFigures[] } | { type: 'error'; message: string };

/** Latencies kept per phase at most; past it, reservoir sampling keeps a uniform sample. */
const RESERVOIR = 200_000;

class Phase {
  readonly samples = new Float64Array(RESERVOIR);
  private seen = 0;
  requests = 0;
  ok = 0;
  maxMs = 0;
  readonly errors: Record<string, number> = {};
  readonly started = performance.now();
  ended: number | undefined;

  constructor(readonly name: string) {}

  record(ms: number): void {
    this.maxMs = Math.max(this.maxMs, ms);
    if (this.seen < RESERVOIR) this.samples[this.seen] = ms;
    else {
      const slot = Math.floor(Math.random() * (this.seen + 1));
      if (slot < RESERVOIR) this.samples[slot] = ms;
    }
    this.seen++;
  }

  error(kind: string): void {
    this.errors[kind] = (this.errors[kind] ?? 0) + 1;
  }

  figures(): PhaseFigures {
    const sorted = Array.from(this.samples.subarray(0, Math.min(this.seen, RESERVOIR))).sort((a, b) => a - b);
    const round = (value: number) => Math.round(value * 100) / 100;
    return {
      phase: this.name,
      seconds: round(((this.ended ?? performance.now()) - this.started) / 1000),
      requests: this.requests,
      ok: this.ok,
      errors: this.errors,
      p50Ms: round(percentile(sorted, 0.5)),
      p90Ms: round(percentile(sorted, 0.9)),
      p99Ms: round(percentile(sorted, 0.99)),
      maxMs: round(this.maxMs),
    };
  }
}

async function read(start: ReaderStart, phases: Phase[], stopped: () => boolean): Promise<void> {
  const headers = { 'x-api-key': start.key };
  while (!stopped()) {
    const phase = phases.at(-1)!;
    const began = performance.now();
    phase.requests++;
    try {
      const res = await fetch(`${start.url}/api/find/${COLLECTION}/${randomId(start.rows)}`, { headers, signal: AbortSignal.timeout(start.timeoutMs) });
      await res.arrayBuffer();
      // Every request counts in the phase it started in, answered or not.
      phase.record(performance.now() - began);
      if (res.ok) phase.ok++;
      else phase.error(String(res.status));
    } catch (error) {
      phase.record(performance.now() - began);
      const name = error instanceof Error ? error.name : '';
      phase.error(name === 'TimeoutError' || name === 'AbortError' ? 'timeout' : 'network');
      // A refused connection fails at once: do not spin.
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

function main(): void {
  const phases: Phase[] = [];
  let stopped = false;
  let loops: Promise<void>[] = [];
  const send = (reply: ReaderReply) => process.send!(reply);
  process.on('message', (command: ReaderCommand) => {
    if (command.type === 'start') {
      phases.push(new Phase(command.phase));
      loops = Array.from({ length: command.concurrency }, () => read(command, phases, () => stopped));
    } else if (command.type === 'phase') {
      phases.at(-1)!.ended = performance.now();
      phases.push(new Phase(command.phase));
    } else {
      stopped = true;
      phases.at(-1)!.ended = performance.now();
      void Promise.allSettled(loops).then(() => {
        send({ type: 'report', phases: phases.map((phase) => phase.figures()) });
        process.disconnect();
      });
    }
  });
  send({ type: 'ready' });
}

if (!process.send) throw new Error('soak-reader.ts is forked by bench/soak.ts: it needs an IPC channel');
try {
  main();
} catch (error) {
  process.send({ type: 'error', message: error instanceof Error ? error.stack ?? error.message : String(error) } satisfies ReaderReply);
  process.exit(1);
}
