/**
 * Per-client concurrency (`MAX_IN_FLIGHT_PER_CLIENT`, `MAX_QUEUED_PER_CLIENT`): a client may have a
 * few requests running at once and a few more waiting their turn; past that it is refused at once,
 * before it costs anything. Duckling's "query governor" does the same for queries (concurrency cap,
 * timeout, queue, stats); here it holds for every authenticated request, so that one key cannot
 * take every DuckDB read connection or every byte of memory while other clients wait.
 *
 * The rate limit (`rate-limit.ts`) counts requests over an hour; this counts requests at one
 * moment, which is what a handful of slow or huge requests abuse. The limiter knows nothing of
 * HTTP: `http/in-flight.ts` takes a slot for a request and gives it back when its work is over.
 *
 * `client` is the caller's identity (a key id, an admin user), as for the rate limit: never
 * anything a client chooses freely, or it could mint itself fresh slots.
 */

/** Why a slot was not granted. */
export type SlotRefusal =
  /** The client already has its maximum in flight and its queue is full. */
  | 'queue_full'
  /** The request waited in the queue until its deadline. */
  | 'deadline'
  /** The caller gave up (the client went away) while waiting. */
  | 'aborted';

export type SlotOutcome =
  | {
      granted: true;
      /** Milliseconds spent in the queue (0 when a slot was free at once). */
      waitedMs: number;
      /** Gives the slot back (to the next waiting request of the same client, if any). Idempotent. A method: call it on the outcome. */
      release(): void;
    }
  | { granted: false; reason: SlotRefusal };

/**
 * Tells a waiting request that its caller left. An `AbortSignal` is one; `http/in-flight.ts` passes
 * a small adapter over the response's `close` event instead, so a request that has to queue does
 * not cost an AbortController (and none that does not queue costs anything).
 */
export interface WaitSignal {
  readonly aborted: boolean;
  addEventListener(type: 'abort', listener: () => void): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

export interface AcquireOptions {
  /** When to stop waiting, on the limiter's clock (`performance.now()` unless a test says otherwise). */
  deadline: number;
  /**
   * Aborting it while the request waits refuses it with `aborted` and frees its queue place. Only
   * subscribed to when the request has to queue.
   */
  signal?: WaitSignal;
}

export interface InFlightStats {
  /** Requests holding a slot now. */
  inFlight: number;
  /** Requests waiting for one now. */
  queued: number;
  /** Clients with at least one request in flight or queued. */
  clients: number;
  /** Since start: slots granted, of which after waiting; refusals by reason. */
  granted: number;
  grantedAfterWait: number;
  refused: Record<SlotRefusal, number>;
}

export interface InFlightLimiter {
  /**
   * Takes a slot for `client`, waiting in its queue if it has none free. Answers at once (no
   * promise) when it can decide without waiting: a free slot, a full queue, a past deadline. Never
   * throws or rejects.
   */
  acquire(client: string, options: AcquireOptions): SlotOutcome | Promise<SlotOutcome>;
  stats(): InFlightStats;
  /** Refuses every waiting request (`aborted`); slots in use stay valid until released. */
  close(): void;
}
