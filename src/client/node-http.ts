/**
 * Node's way to send the client's requests: undici's `Agent`, a keep-alive connection pool per
 * origin, called through `dispatcher.request` rather than `fetch`. Both are undici underneath, but
 * `fetch` builds WHATWG `Request`/`Response`/`Headers` objects and a web stream for every call,
 * which cost 400-600 µs of client CPU per call against a few tens here (`bench/client.ts`).
 */
import { Agent, type Dispatcher } from 'undici';
import type { HttpAnswer, HttpRequest, Requester } from './http.js';

export interface PoolOptions {
  /** Connections kept per server (default: as many as calls in flight; idle ones are reused). */
  connections?: number;
  /** How long an idle connection is kept open, ms (default 10 s; the server's own limit wins if shorter). */
  keepAliveMs?: number;
}

/** One pool per process by default: every client of the same server shares its connections. */
let shared: Agent | undefined;

function sharedAgent(): Agent {
  shared ??= new Agent({ keepAliveTimeout: 10_000 });
  return shared;
}

/** A requester over `agent` (default: the process-wide pool). */
export function poolRequester(agent: Dispatcher = sharedAgent()): Requester {
  return async ({ method, url, headers, body }: HttpRequest): Promise<HttpAnswer> => {
    // `url` is absolute (`send` builds it from a validated base URL): split it without a URL parser.
    const slash = url.indexOf('/', url.indexOf('//') + 2);
    const origin = slash === -1 ? url : url.slice(0, slash);
    const path = slash === -1 ? '/' : url.slice(slash);
    const answer = await agent.request({ origin, path, method, headers, body });
    const retryAfter = answer.headers['retry-after'];
    return {
      status: answer.statusCode,
      statusText: '',
      retryAfter: typeof retryAfter === 'string' ? retryAfter : null,
      text: await answer.body.text(),
    };
  };
}

/** A pool of its own, for callers that size or close it themselves. */
export function createPool(options: PoolOptions = {}): { request: Requester; close(): Promise<void> } {
  const agent = new Agent({
    keepAliveTimeout: options.keepAliveMs ?? 10_000,
    ...(options.connections === undefined ? {} : { connections: options.connections }),
  });
  return { request: poolRequester(agent), close: () => agent.close() };
}
