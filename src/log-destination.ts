/**
 * Where the server's log lines go (standard output), without ever holding the process up.
 *
 * pino's own destination, asked to flush at exit, retries a failed write every 100 ms until it
 * succeeds, and gives up only on EAGAIN/EBUSY: with its reader gone (EPIPE), a server sat blocked
 * in that loop for 20 minutes after SIGTERM. Here a line is handed to the stream and never waited
 * for. A reader that is gone (EPIPE, EBADF, any write error) turns every later line into a dropped
 * one; a reader too slow to keep up has lines dropped beyond `maxBufferedBytes` waiting in memory,
 * and is told how many once it catches up. Both are counted (`stats`). `flush` waits for what was
 * handed over, at most as long as it is told to.
 */
import { hostname } from 'node:os';

/** What the destination needs of a stream: `process.stdout` in production, a pipe in tests. */
export interface LineStream {
  write(chunk: string, callback: (error?: Error | null) => void): boolean;
  readonly writableLength: number;
  on(event: 'error', listener: (error: Error) => void): unknown;
}

export interface LogDestinationOptions {
  /** Bytes waiting for a slow reader at most; lines beyond are dropped (default 4 MiB). */
  maxBufferedBytes?: number;
  /** The clock of the "lines dropped" notice (tests). */
  now?: () => number;
}

export interface LogDestinationStats {
  /** Lines the stream took. */
  written: number;
  /** Lines lost: the reader was gone, or too slow. */
  dropped: number;
  /** Handed to the stream, not yet written. */
  pending: number;
  /** The error code that ended writing (`EPIPE`…); null while the reader is there. */
  brokenBy: string | null;
}

const DEFAULT_MAX_BUFFERED_BYTES = 4 * 1024 * 1024;

export class LogDestination {
  private readonly maxBufferedBytes: number;
  private readonly now: () => number;
  private readonly counts = { written: 0, dropped: 0, pending: 0 };
  private brokenBy: string | null = null;
  /** Dropped for a slow reader since the last notice. */
  private unannounced = 0;
  private readonly idle: (() => void)[] = [];

  constructor(private readonly out: LineStream, options: LogDestinationOptions = {}) {
    this.maxBufferedBytes = options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES;
    this.now = options.now ?? Date.now;
    // Without a listener, an EPIPE on standard output is an uncaught exception: the process would
    // die mid-shutdown, before its stores are closed.
    out.on('error', (error) => this.broke(error));
  }

  /** One log line (pino calls this). Never blocks, never throws. */
  write(line: string): boolean {
    if (this.brokenBy !== null) {
      this.counts.dropped++;
      return false;
    }
    // String length, not bytes: a bound, not an account.
    if (this.out.writableLength + line.length > this.maxBufferedBytes) {
      this.counts.dropped++;
      this.unannounced++;
      return false;
    }
    if (this.unannounced > 0) {
      const notice = JSON.stringify({ level: 40, time: this.now(), pid: process.pid, hostname: hostname(), dropped: this.unannounced, msg: 'log lines dropped: the reader of standard output was too slow' });
      this.unannounced = 0;
      this.hand(`${notice}\n`);
    }
    this.hand(line);
    return true;
  }

  /**
   * Resolves once every line handed over is written, the reader is gone, or `timeoutMs` passed,
   * whichever comes first; answers whether nothing was left pending.
   */
  flush(timeoutMs: number): Promise<boolean> {
    if (this.counts.pending === 0 || this.brokenBy !== null) return Promise.resolve(this.counts.pending === 0);
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        resolve(this.counts.pending === 0);
      };
      const timer = setTimeout(() => {
        const at = this.idle.indexOf(done);
        if (at >= 0) this.idle.splice(at, 1);
        resolve(false);
      }, timeoutMs);
      this.idle.push(done);
    });
  }

  stats(): LogDestinationStats {
    return { ...this.counts, brokenBy: this.brokenBy };
  }

  private hand(line: string): void {
    this.counts.pending++;
    try {
      this.out.write(line, (error) => {
        this.counts.pending--;
        if (error) {
          this.counts.dropped++;
          this.broke(error);
        } else {
          this.counts.written++;
        }
        if (this.counts.pending === 0) this.wake();
      });
    } catch (error) {
      this.counts.pending--;
      this.counts.dropped++;
      this.broke(error);
    }
  }

  private broke(error: unknown): void {
    if (this.brokenBy === null) {
      const code = (error as { code?: unknown } | null)?.code;
      this.brokenBy = typeof code === 'string' ? code : 'write_failed';
    }
    // Nothing more will be written: whoever waits for a flush can stop waiting.
    this.wake();
  }

  private wake(): void {
    for (const resolve of this.idle.splice(0)) resolve();
  }
}
