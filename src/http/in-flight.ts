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
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { InFlightLimiter, SlotRefusal } from '../auth/in-flight.js';
import { errors } from '../errors.js';

export interface InFlightSlots {
  /** Holds a slot for `client` until this request's work is over; throws the refusal otherwise. */
  take(request: FastifyRequest, reply: FastifyReply, client: string): Promise<void>;
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

interface Hold {
  release: () => void;
  /** The handler has produced its answer (or error). */
  answered: boolean;
  /** The connection closed before the response was complete. */
  abandoned: boolean;
}

export function installInFlightSlots(app: FastifyInstance, limiter: InFlightLimiter, options: InFlightSlotOptions): InFlightSlots {
  const holds = new WeakMap<FastifyRequest, Hold>();

  app.addHook('onSend', async (request) => {
    const hold = holds.get(request);
    if (!hold) return;
    hold.answered = true;
    if (hold.abandoned) hold.release();
  });
  app.addHook('onResponse', async (request) => {
    holds.get(request)?.release();
  });
  app.addHook('onClose', async () => limiter.close());

  return {
    async take(request, reply, client) {
      // Only a request still waiting needs to hear that its client left: the signal (and its
      // listener) are made only when the limiter asks for it, i.e. when the request must queue.
      let abandoned: AbortController | undefined;
      const onClose = () => abandoned?.abort();
      // Waiting for a slot spends the request's own deadline (set on arrival), not a fresh one.
      const deadline = request.deadline > 0 ? request.deadline : performance.now() + options.queueTimeoutMs;
      const outcome = await limiter.acquire(client, {
        deadline,
        get signal() {
          if (abandoned === undefined) {
            abandoned = new AbortController();
            if (reply.raw.destroyed) abandoned.abort();
            else reply.raw.once('close', onClose);
          }
          return abandoned.signal;
        },
      });
      if (abandoned !== undefined) reply.raw.removeListener('close', onClose);
      if (!outcome.granted) {
        options.onRefused?.(outcome.reason);
        if (outcome.reason === 'deadline') throw errors.queryTimeout();
        // `aborted`: nobody is left to read the answer; the refusal only stops the request here.
        throw errors.tooManyInFlight();
      }
      const hold: Hold = { release: outcome.release, answered: false, abandoned: false };
      holds.set(request, hold);
      if (reply.raw.destroyed) hold.abandoned = true;
      reply.raw.once('close', () => {
        if (reply.raw.writableFinished) return;
        hold.abandoned = true;
        if (hold.answered) hold.release();
      });
    },
  };
}
