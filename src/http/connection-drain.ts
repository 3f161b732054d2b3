/**
 * A shutdown that ends. When the server closes, Node closes the connections that are idle and waits
 * for the others, but it also stops the timers that cut slow requests (HEADERS_TIMEOUT_MS,
 * REQUEST_RECEIVE_TIMEOUT_MS): a connection on which a request had begun to arrive and then went
 * quiet (a client that gave up half-way, a slowloris) would hold the shutdown forever, and with it
 * the audit summaries written at close. Nothing such a connection could still send would be served
 * (Fastify answers 503 while closing), so `drain` closes every connection that has no response in
 * progress at once, and the others as soon as their response is written.
 */
import type { Server } from 'node:http';
import type { Socket } from 'node:net';

export interface ConnectionDrain {
  /** Closes idle and half-received connections now, busy ones when their response ends. */
  drain(): void;
  /** Responses in progress now (what a shutdown waits for). */
  inFlight(): number;
}

export function trackConnections(server: Server): ConnectionDrain {
  /** Responses in progress per open connection. */
  const busy = new Map<Socket, number>();
  let draining = false;

  server.on('connection', (socket: Socket) => {
    if (draining) {
      socket.destroy();
      return;
    }
    busy.set(socket, 0);
    socket.once('close', () => busy.delete(socket));
  });
  // An upgraded connection (`GET /ws`) is no longer HTTP's to close: the WebSocket layer ends it
  // with a close frame (1001) once its messages in flight are answered.
  server.on('upgrade', (request: { socket: Socket }) => {
    busy.delete(request.socket);
  });
  server.on('request', (request: { socket: Socket }, response: { once(event: 'close', listener: () => void): unknown }) => {
    const socket = request.socket;
    busy.set(socket, (busy.get(socket) ?? 0) + 1);
    response.once('close', () => {
      const left = (busy.get(socket) ?? 1) - 1;
      if (busy.has(socket)) busy.set(socket, left);
      // Written out by now ('close' follows 'finish'): end the connection instead of keeping it alive.
      if (draining && left === 0) socket.end();
    });
  });

  return {
    inFlight() {
      let total = 0;
      for (const responses of busy.values()) total += responses;
      return total;
    },
    drain() {
      draining = true;
      for (const [socket, responses] of busy) {
        if (responses === 0) socket.destroy();
      }
    },
  };
}
