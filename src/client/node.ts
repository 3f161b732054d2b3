/**
 * `duckgate/client` in Node (the `node` export condition): the same client, sending HTTP through a
 * keep-alive connection pool (undici's `Agent`, `node-http.ts`) instead of `fetch`, and speaking
 * `/ws` through the `ws` package (Node 20 has no global WebSocket). Browsers load `index.ts`.
 */
import WebSocket from 'ws';
import { setDefaultRequester } from './http.js';
import { poolRequester } from './node-http.js';
import { setDefaultWebSocket, type WebSocketConstructor } from './socket.js';

setDefaultRequester(() => poolRequester());
setDefaultWebSocket(WebSocket as unknown as WebSocketConstructor);

export * from './index.js';
export { createPool, poolRequester, type PoolOptions } from './node-http.js';
