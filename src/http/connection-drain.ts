/**
 * A shutdown that ends. When the server closes, Node closes the connections that are idle and waits
 * for the others, but it also stops the timers that cut slow requests (HEADERS_TIMEOUT_MS,
 * REQUEST_RECEIVE_TIMEOUT_MS): a connection on which a request had begun to arrive and then went
 * quiet (a client that gave up half-way, a slowloris) would hold the shutdown forever, and with it
 * the audit summaries written at close. Nothing such a connection could still send would be served
 * (Fastify answers 503 while closing), so `drain` closes every connection that has no response in
 * progress at once, and the others as soon as their response is written.
 *
 * Responses in progress are counted per connection by two callback hooks (a request's arrival in
 * Fastify, its response written) on a state object the connection carries from its first byte:
 * no listener per request (issue 17: a `close` listener per response cost ≈ 8k instructions of a
 * cached point read). A response that never completes goes with its connection's `close`.
 */
import type { Socket } from 'node:net';
import type { FastifyInstance, FastifyRequest } from 'fastify';

export interface ConnectionDrain {
  /** Closes idle and half-received connections now, busy ones when their response ends. */
  drain(): void;
  /** Responses in progress now (what a shutdown waits for). */
  inFlight(): number;
}

interface Connection {
  socket: Socket;
  /** Requests that reached Fastify and whose response is not written yet. */
  responses: number;
  /** Upgraded to a WebSocket: no longer HTTP's to close. */
  upgraded: boolean;
}

const CONNECTION = Symbol('duckgate.connection');
type TrackedSocket = Socket & { [CONNECTION]?: Connection };

function connectionOf(request: FastifyRequest): Connection | undefined {
  return (request.raw.socket as TrackedSocket | null)?.[CONNECTION];
}

/** Install before `ready` (it adds hooks); tracks the connections of `app.server` from then on. */
export function trackConnections(app: FastifyInstance): ConnectionDrain {
  const open = new Set<Connection>();
  let draining = false;

  app.server.on('connection', (socket: TrackedSocket) => {
    if (draining) {
      socket.destroy();
      return;
    }
    const connection: Connection = { socket, responses: 0, upgraded: false };
    socket[CONNECTION] = connection;
    open.add(connection);
    socket.once('close', () => open.delete(connection));
  });
  // An upgraded connection (`GET /ws`) is no longer HTTP's to close: the WebSocket layer ends it
  // with a close frame (1001) once its messages in flight are answered.
  app.server.on('upgrade', (request: { socket: TrackedSocket }) => {
    const connection = request.socket[CONNECTION];
    if (connection !== undefined) {
      connection.upgraded = true;
      open.delete(connection);
    }
  });
  app.addHook('onRequest', (request, _reply, done) => {
    const connection = connectionOf(request);
    if (connection !== undefined) connection.responses++;
    done();
  });
  app.addHook('onResponse', (request, _reply, done) => {
    const connection = connectionOf(request);
    if (connection !== undefined && connection.responses > 0) {
      connection.responses--;
      // Written out by now: end the connection instead of keeping it alive.
      if (draining && connection.responses === 0 && !connection.upgraded) connection.socket.end();
    }
    done();
  });

  return {
    inFlight() {
      let total = 0;
      for (const connection of open) total += connection.responses;
      return total;
    },
    drain() {
      draining = true;
      for (const connection of open) {
        if (connection.responses === 0) connection.socket.destroy();
      }
    },
  };
}
