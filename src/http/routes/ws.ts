/**
 * `GET /ws`: Duckling's WebSocket protocol on duckgate's port (`@fastify/websocket`, over `ws`).
 * The upgrade itself is public (Duckling's SDK sends its key in the first message, not on the
 * upgrade), but it goes through the same `onRequest` path as every request, so ALLOWED_IPS refuses
 * an address before anything is upgraded; the socket then authenticates its first message through
 * the resolver (`ws/session.ts`).
 */
import fastifyWebsocket from '@fastify/websocket';
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { ChangeFeed } from '../../store/changes.js';
import { ReadQuery } from '../schemas.js';
import { SocketSession, type SessionContext } from '../ws/session.js';
import { OpenSockets } from '../ws/sockets.js';

export interface WebSocketRouteOptions extends SessionContext {
  /** The control plane's change feed: a change re-checks the sockets it concerns. Unset (benches): only messages re-check. */
  changes?: ChangeFeed;
}

/**
 * Registers `@fastify/websocket`. Its `onRequest` hook marks an upgrade so that a refused one
 * (ALLOWED_IPS) is answered and its socket destroyed: it must run before authentication's hooks,
 * so this is called before `installAuthentication`.
 */
export async function installWebSockets(app: FastifyInstance, maxMessageBytes: number): Promise<OpenSockets> {
  const sockets = new OpenSockets();
  await app.register(fastifyWebsocket, {
    options: {
      maxPayload: maxMessageBytes,
      perMessageDeflate: false,
    },
    // Server shutdown: every socket answers what it has in flight, then closes 1001.
    preClose: async function closeSockets(this: FastifyInstance) {
      await sockets.closeAll();
      await new Promise<void>((resolve) => this.websocketServer.close(() => resolve()));
    },
    // A socket that fails (a peer gone mid-frame) is ended; nothing to answer.
    errorHandler: (error, socket, request) => {
      request.log.debug({ err: error }, 'websocket error');
      socket.terminate();
    },
  });
  return sockets;
}

export function websocketRoutes(app: FastifyInstance, sockets: OpenSockets, options: WebSocketRouteOptions): void {
  const { changes, ...context } = options;
  if (changes) {
    const unwatch = changes.watch({
      changed: (change) => sockets.changed(change),
      lost: () => sockets.lost(),
      resumed: () => sockets.resumed(),
    });
    app.addHook('onClose', async () => unwatch());
  }

  app.withTypeProvider<TypeBoxTypeProvider>().get('/ws', {
    websocket: true,
    config: { public: true },
    // Validated before the upgrade: a bad `?max_rows=` is a 400, not a socket.
    schema: { querystring: ReadQuery, hide: true },
  }, (socket, request) => {
    const session = new SocketSession(socket, request, context, (closed) => sockets.remove(closed));
    sockets.add(session);
  });
}
