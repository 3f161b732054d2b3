/**
 * The in-process in-flight limiter: per client, a count of slots in use and a FIFO of waiting
 * requests. A released slot goes straight to the oldest waiter of the same client, so a busy
 * client's queue drains in order and no other client's request can slip in between.
 *
 * Memory is bounded by the requests themselves: a client's entry exists only while it has a request
 * in flight or queued, and each queue holds at most `maxQueued` waiters.
 */
import type { AcquireOptions, InFlightLimiter, InFlightStats, SlotOutcome, SlotRefusal, WaitSignal } from './in-flight.js';

export interface MemoryInFlightOptions {
  /** Slots per client (>= 1). */
  maxInFlight: number;
  /** Requests per client that may wait for a slot (>= 0); beyond them, `queue_full` at once. */
  maxQueued: number;
  /** The clock deadlines are read on (tests); `performance.now()` by default. */
  now?: () => number;
}

interface Waiter {
  resolve: (outcome: SlotOutcome) => void;
  queuedAt: number;
  timer: NodeJS.Timeout | undefined;
  signal: WaitSignal | undefined;
  onAbort: (() => void) | undefined;
}

interface ClientState {
  active: number;
  waiting: Waiter[];
}

/** A granted slot: one object, no closure per request (every authenticated request takes one). */
class Grant {
  readonly granted = true;
  private released = false;

  constructor(private readonly limiter: MemoryInFlightLimiter, private readonly client: string, private readonly state: ClientState, readonly waitedMs: number) {}

  release(): void {
    if (this.released) return;
    this.released = true;
    this.limiter.giveBack(this.client, this.state);
  }
}

export class MemoryInFlightLimiter implements InFlightLimiter {
  private readonly clients = new Map<string, ClientState>();
  private readonly maxInFlight: number;
  private readonly maxQueued: number;
  private readonly now: () => number;
  private inFlight = 0;
  private queued = 0;
  private readonly counts = { granted: 0, grantedAfterWait: 0, refused: { queue_full: 0, deadline: 0, aborted: 0 } as Record<SlotRefusal, number> };

  constructor(options: MemoryInFlightOptions) {
    if (!Number.isInteger(options.maxInFlight) || options.maxInFlight < 1) throw new RangeError(`maxInFlight must be a whole number >= 1 (got ${options.maxInFlight})`);
    if (!Number.isInteger(options.maxQueued) || options.maxQueued < 0) throw new RangeError(`maxQueued must be a whole number >= 0 (got ${options.maxQueued})`);
    this.maxInFlight = options.maxInFlight;
    this.maxQueued = options.maxQueued;
    this.now = options.now ?? (() => performance.now());
  }

  acquire(client: string, options: AcquireOptions): SlotOutcome | Promise<SlotOutcome> {
    let state = this.clients.get(client);
    if (!state) {
      state = { active: 0, waiting: [] };
      this.clients.set(client, state);
    }
    // Decided at once on the common path: no promise, no timer, no signal.
    if (state.active < this.maxInFlight) return this.grant(client, state, 0);
    if (state.waiting.length >= this.maxQueued) return this.refuse('queue_full');
    const signal = options.signal;
    if (signal?.aborted) return this.refuse('aborted');
    const wait = options.deadline - this.now();
    if (!(wait > 0)) return this.refuse('deadline');

    return new Promise<SlotOutcome>((resolve) => {
      const waiter: Waiter = { resolve, queuedAt: this.now(), timer: undefined, signal, onAbort: undefined };
      const giveUp = (reason: SlotRefusal) => {
        if (!this.dequeue(client, waiter)) return;
        resolve(this.refuse(reason));
      };
      waiter.timer = setTimeout(() => giveUp('deadline'), wait);
      if (signal) {
        waiter.onAbort = () => giveUp('aborted');
        signal.addEventListener('abort', waiter.onAbort);
      }
      state.waiting.push(waiter);
      this.queued++;
    });
  }

  stats(): InFlightStats {
    return { inFlight: this.inFlight, queued: this.queued, clients: this.clients.size, ...this.counts, refused: { ...this.counts.refused } };
  }

  close(): void {
    for (const [client, state] of this.clients) {
      for (const waiter of [...state.waiting]) {
        this.dequeue(client, waiter);
        waiter.resolve(this.refuse('aborted'));
      }
    }
  }

  private grant(client: string, state: ClientState, waitedMs: number): SlotOutcome {
    state.active++;
    this.inFlight++;
    this.counts.granted++;
    if (waitedMs > 0) this.counts.grantedAfterWait++;
    return new Grant(this, client, state, waitedMs);
  }

  /** A granted slot's way back (`Grant.release`). */
  giveBack(client: string, state: ClientState): void {
    state.active--;
    this.inFlight--;
    const next = state.waiting.shift();
    if (next) {
      this.queued--;
      this.settle(next);
      next.resolve(this.grant(client, state, Math.max(this.now() - next.queuedAt, Number.EPSILON)));
    } else if (state.active === 0) {
      this.clients.delete(client);
    }
  }

  /** Takes `waiter` out of its queue; false when it was already granted or refused. */
  private dequeue(client: string, waiter: Waiter): boolean {
    const state = this.clients.get(client);
    const index = state ? state.waiting.indexOf(waiter) : -1;
    if (!state || index < 0) return false;
    state.waiting.splice(index, 1);
    this.queued--;
    this.settle(waiter);
    if (state.active === 0 && state.waiting.length === 0) this.clients.delete(client);
    return true;
  }

  private settle(waiter: Waiter): void {
    if (waiter.timer) clearTimeout(waiter.timer);
    if (waiter.signal && waiter.onAbort) waiter.signal.removeEventListener('abort', waiter.onAbort);
  }

  private refuse(reason: SlotRefusal): SlotOutcome {
    this.counts.refused[reason]++;
    return { granted: false, reason };
  }
}
