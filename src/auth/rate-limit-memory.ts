/**
 * The sliding-window limiter of `rate-limit.ts` for one process. It runs on every request, so a
 * decision is a map lookup and a few array operations: per client a fixed ring of counters and
 * their running sum, nothing allocated but the answer.
 */
import {
  assertLimit,
  bucketOf,
  decision,
  msUntilBucketLeaves,
  slidingWindow,
  slotOf,
  slotsToFree,
  type RateLimitDecision,
  type RateLimiter,
  type SlidingWindow,
  type SlidingWindowOptions,
} from './rate-limit.js';

export interface MemoryRateLimiterOptions extends SlidingWindowOptions {
  /** Milliseconds since the epoch; injectable so tests can stand at a window edge. */
  now?: () => number;
  /** How often clients with nothing left in their window are forgotten; 0: never (tests sweep by hand). */
  sweepIntervalMs?: number;
}

/** One client's window: `counts[slotOf(b)]` holds bucket b for the buckets `head - buckets + 1 … head`. */
class ClientWindow {
  readonly counts: Uint32Array;
  head: number;
  sum = 0;

  constructor(buckets: number, head: number) {
    this.counts = new Uint32Array(buckets);
    this.head = head;
  }
}

export class MemoryRateLimiter implements RateLimiter {
  private readonly clients = new Map<string, ClientWindow>();
  private readonly window: SlidingWindow;
  private readonly now: () => number;
  private readonly sweeper: NodeJS.Timeout | undefined;

  constructor(options: MemoryRateLimiterOptions = {}) {
    this.window = slidingWindow(options);
    this.now = options.now ?? Date.now;
    const sweepIntervalMs = options.sweepIntervalMs ?? 5 * 60_000;
    if (sweepIntervalMs > 0) {
      this.sweeper = setInterval(() => this.sweep(), sweepIntervalMs);
      this.sweeper.unref();
    }
  }

  consume(clientKey: string, limit: number): Promise<RateLimitDecision> {
    try {
      return Promise.resolve(this.consumeNow(clientKey, limit));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** `consume` without the promise, for callers that can use the answer synchronously. */
  consumeNow(clientKey: string, limit: number): RateLimitDecision {
    assertLimit(limit);
    const nowMs = this.now();
    const current = bucketOf(nowMs, this.window);
    let client = this.clients.get(clientKey);
    if (client === undefined) {
      client = new ClientWindow(this.window.buckets, current);
      this.clients.set(clientKey, client);
    } else {
      this.advance(client, current);
    }
    const allowed = client.sum < limit;
    if (allowed) {
      client.counts[slotOf(client.head, this.window)]! += 1;
      client.sum += 1;
    }
    const freed = this.bucketFreeing(client, slotsToFree(allowed, client.sum, limit));
    return decision(allowed, limit, client.sum, msUntilBucketLeaves(freed, nowMs, this.window));
  }

  /** Forgets clients whose every counted request has left the window; returns how many. */
  sweep(): number {
    const current = bucketOf(this.now(), this.window);
    let forgotten = 0;
    for (const [key, client] of this.clients) {
      if (current - client.head >= this.window.buckets) {
        this.clients.delete(key);
        forgotten += 1;
      }
    }
    return forgotten;
  }

  /** Clients currently remembered. */
  get size(): number {
    return this.clients.size;
  }

  async close(): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper);
    this.clients.clear();
  }

  /**
   * Moves the ring forward to `current`, dropping the buckets that leave the window. Each bucket is
   * dropped once, so this is O(1) amortised. A clock that steps back is ignored (the head stays):
   * counting into a newer bucket only makes the limit stricter, never looser.
   */
  private advance(client: ClientWindow, current: number): void {
    const steps = current - client.head;
    if (steps <= 0) return;
    if (steps >= this.window.buckets) {
      client.counts.fill(0);
      client.sum = 0;
    } else {
      for (let bucket = client.head + 1; bucket <= current; bucket++) {
        const slot = slotOf(bucket, this.window);
        client.sum -= client.counts[slot]!;
        client.counts[slot] = 0;
      }
    }
    client.head = current;
  }

  /** The bucket whose departure frees `needed` slots, scanning from the oldest. */
  private bucketFreeing(client: ClientWindow, needed: number): number {
    const oldest = client.head - this.window.buckets + 1;
    let freed = 0;
    for (let bucket = oldest; bucket <= client.head; bucket++) {
      freed += client.counts[slotOf(bucket, this.window)]!;
      if (freed >= needed) return bucket;
    }
    // Unreachable while `sum` matches the counters (an admission counted one, a refusal saw >= limit);
    // "now" is the harmless answer for what is only a hint.
    return client.head - this.window.buckets;
  }
}
