/**
 * The HTTP side of the per-client in-flight cap (`auth/in-flight.ts`): `take` holds a slot for one
 * request, or refuses it (429 `too_many_in_flight` with `Retry-After: 1` when the client's queue is
 * full, 408 `query_timeout` when it waited until its deadline).
 *
 * The slot is given back when the request's work is over, not merely when its client is gone:
 *  - normally when the response has been written (`onResponse`);
 *  - when the client disconnects first, once the handler has produced its answer (`onSend`, which
 *    Fastify runs even for a closed connection), or at once if it already had.
 * Giving the slot back at the disconnect itself would let a client start a heavy query, drop the
 * connection, and start the next one while the first still runs: no cap at all.
 *
 * Every authenticated request takes a slot, so the common case (a slot free at once) costs no
 * promise, no closure and no listener of its own: the slot lives on the request, and a
 * connection's one `close` listener (added with its first slot, kept for its keep-alive life) tells
 * the slots still open on it that their client left. Only a request that must queue gets a
 * `WaitSignal` on its response's `close`, so that a client that gives up frees its queue place.
 */
import type { Socket } from 'node:net';
import type { ServerResponse } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { InFlightLimiter, SlotOutcome, SlotRefusal, WaitSignal } from '../auth/in-flight.js';
import { errors } from '../errors.js';

export interface InFlightSlots {
  /**
   * Holds a slot for `client` until this request's work is over. Returns at once when a slot is
   * free (the common case) or throws the refusal; returns a promise only when the request queues.
   */
  take(request: FastifyRequest, reply: FastifyReply, client: string): void | Promise<void>;
}

export interface InFlightSlotOptions {
  /**
   * Longest a request waits for a slot, from when it asks (QUERY_TIMEOUT_MS: waiting is part of the
   * request's deadline, and a request that waited that long could not run anyway).
   */
  queueTimeoutMs: number;
  /** Each refusal, for the metrics. */
  onRefused?: (reason: SlotRefusal) => void;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The in-flight slot this request holds; null before one is taken, or without a cap. */
    inFlightSlot: HeldSlot | null;
  }
}

/** The slots still open on one connection: told when it closes. */
const OPEN_SLOTS = Symbol('duckgate.openSlots');
type TrackedSocket = Socket & { [OPEN_SLOTS]?: Set<HeldSlot> };

/** A slot held by one request, given back once (the limiter's `release` is idempotent too). */
export class HeldSlot {
  /** The handler has produced its answer (or error). */
  private answered = false;
  /** The connection closed before the response was complete. */
  private abandoned = false;

  constructor(private readonly grant: { release(): void }, private readonly open: Set<HeldSlot> | undefined) {}

  /** `onSend`: the answer exists; if nobody is left to read it, the work is over. */
  answer(): void {
    this.answered = true;
    if (this.abandoned) this.done();
  }

  /** `onResponse`: the response was written. */
  done(): void {
    this.open?.delete(this);
    this.grant.release();
  }

  /** The connection closed first: the slot is given back once the handler is done, not before. */
  clientLeft(): void {
    this.abandoned = true;
    if (this.answered) this.done();
  }
}

/** A waiting request's "the client left", from its response's `close` (a response cannot finish while it waits). */
class ResponseClosed implements WaitSignal {
  constructor(private readonly response: ServerResponse) {}
  get aborted(): boolean {
    return this.response.destroyed || this.response.socket?.destroyed === true;
  }
  addEventListener(_type: 'abort', listener: () => void): void {
    this.response.once('close', listener);
  }
  removeEventListener(_type: 'abort', listener: () => void): void {
    this.response.removeListener('close', listener);
  }
}

export function installInFlightSlots(app: FastifyInstance, limiter: InFlightLimiter, options: InFlightSlotOptions): InFlightSlots {
  app.decorateRequest('inFlightSlot', null);
  // Callback style: an async hook costs a promise per request for a field check.
  app.addHook('onSend', (request, _reply, payload, done) => {
    request.inFlightSlot?.answer();
    done(null, payload);
  });
  app.addHook('onResponse', (request, _reply, done) => {
    request.inFlightSlot?.done();
    done();
  });
  app.addHook('onClose', async () => limiter.close());

  const hold = (request: FastifyRequest, reply: FastifyReply, outcome: SlotOutcome): void => {
    if (!outcome.granted) {
      options.onRefused?.(outcome.reason);
      if (outcome.reason === 'deadline') throw errors.queryTimeout();
      // `aborted`: nobody is left to read the answer; the refusal only stops the request here.
      throw errors.tooManyInFlight();
    }
    const socket = request.raw.socket as TrackedSocket | null;
    const gone = reply.raw.destroyed || socket?.destroyed === true;
    const open = socket && !gone ? openSlotsOf(socket) : undefined;
    const slot = new HeldSlot(outcome, open);
    open?.add(slot);
    request.inFlightSlot = slot;
    if (gone) slot.clientLeft();
  };

  return {
    take(request, reply, client) {
      // Waiting for a slot spends the request's own deadline (set on arrival), not a fresh one.
      const deadline = request.deadline > 0 ? request.deadline : performance.now() + options.queueTimeoutMs;
      // The signal listens to nothing until the limiter queues the request and subscribes.
      const outcome = limiter.acquire(client, { deadline, signal: new ResponseClosed(reply.raw) });
      if (outcome instanceof Promise) return outcome.then((settled) => hold(request, reply, settled));
      hold(request, reply, outcome);
    },
  };
}

/** The connection's set of open slots, with its one `close` listener (added with the first slot it carries). */
function openSlotsOf(socket: TrackedSocket): Set<HeldSlot> {
  let open = socket[OPEN_SLOTS];
  if (open === undefined) {
    const slots = new Set<HeldSlot>();
    open = slots;
    socket[OPEN_SLOTS] = slots;
    socket.once('close', () => {
      for (const slot of [...slots]) slot.clientLeft();
    });
  }
  return open;
}
