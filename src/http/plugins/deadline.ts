/**
 * One deadline per request (issue 10 item 2). `QUERY_TIMEOUT_MS` counts from the request's arrival:
 * this `onRequest` hook is installed before authentication, so queueing for an in-flight slot,
 * reading the body, authenticating, waiting for a connection and the data work all spend the
 * same budget. Handlers hand `request.deadline` to the data layer, which interrupts DuckDB at it.
 */
import type { FastifyInstance } from 'fastify';

declare module 'fastify' {
  interface FastifyRequest {
    /** When this request must be answered, on the `performance.now()` clock. */
    deadline: number;
  }
}

export function installDeadline(app: FastifyInstance, timeoutMs: number): void {
  app.decorateRequest('deadline', 0);
  // Callback style: an async hook costs a promise per request for one assignment.
  app.addHook('onRequest', (request, _reply, done) => {
    request.deadline = performance.now() + timeoutMs;
    done();
  });
}
