/**
 * What SIGTERM and SIGINT do to `duckgate serve`: stop taking requests, give those in flight and
 * the stores `drainTimeoutMs` to finish and close, then give the log `flushTimeoutMs` to reach its
 * reader, and exit. Every step has a deadline, so a stuck request or a standard output nobody reads
 * can delay the exit but never prevent it. A second signal exits at once.
 *
 * Exiting past a deadline loses nothing that was answered: writes and admin events are committed
 * before their answer (see docs/decisions.md), so what is cut short is what kill -9 would cut.
 */

export interface ShutdownSteps {
  /** The graceful part: stop listening, let requests in flight finish, close the stores. */
  close(): Promise<void>;
  /** When `close` missed its deadline: write what can still be written quickly (queued audit events). */
  salvage(): Promise<void>;
  /** Waits for the log lines written so far to reach their reader, at most `timeoutMs`. */
  flushLogs(timeoutMs: number): Promise<unknown>;
  /** What the drain waits for now (for the line that says so). */
  inFlight?(): { requests: number; sockets: number };
  /** One line for the operator. */
  say(line: string): void;
  exit(code: number): void;
}

export interface ShutdownOptions {
  /** SHUTDOWN_TIMEOUT_MS. */
  drainTimeoutMs: number;
  /** The clock that tells a repeated delivery from a second Ctrl-C (tests). */
  now?: () => number;
  /** How long the last log lines may take to be written. */
  flushTimeoutMs: number;
}

/** The longest `salvage` may take once the drain deadline has passed. */
const SALVAGE_TIMEOUT_MS = 1000;

/**
 * One Ctrl-C under `npm start` (or `npx`) arrives twice: from the terminal, to the whole foreground
 * process group, and forwarded by npm a moment later. A repeat of the same signal this soon after
 * the first is that echo, not a second Ctrl-C; a person pressing twice takes longer.
 */
const ECHO_WINDOW_MS = 250;

/** A handler for SIGTERM and SIGINT: the first shuts down, a second one exits at once. */
export function shutdownOnSignal(steps: ShutdownSteps, options: ShutdownOptions): (signal: NodeJS.Signals) => void {
  const now = options.now ?? Date.now;
  let first: { signal: NodeJS.Signals; at: number } | undefined;
  return (signal) => {
    if (first) {
      if (signal === first.signal && now() - first.at < ECHO_WINDOW_MS) return;
      const waiting = steps.inFlight?.();
      const cut = waiting && waiting.requests + waiting.sockets > 0 ? ` (${describe(waiting)} cut short)` : '';
      steps.say(`duckgate: second ${signal}: exiting now, without waiting for the shutdown to finish${cut}`);
      steps.exit(1);
      return;
    }
    first = { signal, at: now() };
    void shutdown(steps, options, signal);
  };
}

async function shutdown(steps: ShutdownSteps, options: ShutdownOptions, signal: NodeJS.Signals): Promise<void> {
  const waiting = steps.inFlight?.();
  const what = waiting ? `waiting for ${describe(waiting)}` : 'requests in flight';
  steps.say(`duckgate: ${signal} received, shutting down: ${what}, at most ${options.drainTimeoutMs} ms (SHUTDOWN_TIMEOUT_MS); ${signal === 'SIGINT' ? 'Ctrl-C again' : 'a second signal'} exits now`);
  let code = 0;
  const closed = await settle(steps.close(), options.drainTimeoutMs);
  if (closed.kind === 'timeout') {
    steps.say(`duckgate: shutdown deadline passed (SHUTDOWN_TIMEOUT_MS=${options.drainTimeoutMs}) with work in flight; exiting without it`);
    await settle(steps.salvage(), SALVAGE_TIMEOUT_MS);
    code = 1;
  } else if (closed.kind === 'failed') {
    steps.say(`duckgate: shutdown failed: ${closed.error instanceof Error ? closed.error.message : String(closed.error)}`);
    code = 1;
  }
  await settle(steps.flushLogs(options.flushTimeoutMs), options.flushTimeoutMs);
  steps.exit(code);
}

function describe({ requests, sockets }: { requests: number; sockets: number }): string {
  const parts = [`${requests} request${requests === 1 ? '' : 's'} in flight`];
  if (sockets > 0) parts.push(`${sockets} WebSocket${sockets === 1 ? '' : 's'}`);
  return parts.join(' and ');
}

type Settled = { kind: 'done' } | { kind: 'failed'; error: unknown } | { kind: 'timeout' };

/** How `work` ended, or that it had not after `timeoutMs` (it is left running). */
function settle(work: Promise<unknown>, timeoutMs: number): Promise<Settled> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve({ kind: 'timeout' }), timeoutMs);
    work.then(
      () => {
        clearTimeout(timer);
        resolve({ kind: 'done' });
      },
      (error: unknown) => {
        clearTimeout(timer);
        resolve({ kind: 'failed', error });
      },
    );
  });
}
