/**
 * `DuckgateSocket`: SQL over `GET /ws` (Duckling's protocol), for high-throughput use. One socket,
 * opened on first use and authenticated with the API key in its first message; many queries in
 * flight at once, each answer matched by `id`. Nothing Node-only: it takes the runtime's
 * `WebSocket` (a browser's, Node 22's global one, or the `ws` package's, which `node.ts` installs).
 *
 * ```ts
 * const socket = new DuckgateSocket({ baseUrl: 'http://127.0.0.1:3000', apiKey });
 * const { result } = await socket.query('SELECT * FROM users WHERE id = $1', [42]);
 * socket.close();
 * ```
 */
import { DuckgateError } from './errors.js';
import type { JsonObject, QueryParams, QueryResult } from './types.js';

/** The part of the WHATWG `WebSocket` this uses (browsers, Node ≥ 22, and `ws` all provide it). */
export interface WebSocketLike {
  readonly readyState: number;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export type WebSocketConstructor = new (url: string) => WebSocketLike;

export interface DuckgateSocketOptions {
  /** The server, as for `DuckgateClient` (`http://…` or `https://…`; a path prefix is kept). */
  baseUrl: string;
  /** Any credential the server accepts: a managed key, an environment key, or a token. */
  apiKey: string;
  /** The database (`?db=`, default `default`). */
  db?: string;
  /** Defaults to the runtime's (`node.ts` passes the `ws` package's). */
  WebSocket?: WebSocketConstructor;
}

/** An answer on the wire (`src/http/ws/messages.ts`). */
interface Answer {
  id: unknown;
  success: boolean;
  result?: unknown[];
  error?: string;
  duration?: number;
  code?: string;
  status?: number;
  retryAfter?: number;
  columns?: string[];
  rowCount?: number;
  truncated?: boolean;
  truncatedBy?: 'rows' | 'bytes';
}

interface Waiting {
  resolve(answer: Answer): void;
  reject(error: DuckgateError): void;
}

/** A query answer over the socket: the HTTP answer's fields, `elapsedMs` being the server's time for the message. */
export type SocketQueryResult<Row extends object = JsonObject> = QueryResult<Row> & { truncated: boolean; truncatedBy?: 'rows' | 'bytes' };

const OPEN = 1;
/** The server's refusals: retrying with the same credential or database cannot help. */
const FINAL_CLOSE_CODES = new Set([1008, 1011]);

let defaultWebSocket: WebSocketConstructor | undefined;

/** The runtime's WebSocket when none is passed: `node.ts` installs the `ws` package's. */
export function setDefaultWebSocket(constructor: WebSocketConstructor): void {
  defaultWebSocket = constructor;
}

/** One opened socket and the calls waiting for its answers. */
interface Connection {
  socket: WebSocketLike;
  waiting: Map<number, Waiting>;
}

export class DuckgateSocket {
  private readonly url: string;
  private readonly WebSocketImpl: WebSocketConstructor;
  private current: Connection | undefined;
  private opening: Promise<Connection> | undefined;
  private nextId = 1;
  /** Set when the server refused the credential or the database: every later call fails with it. */
  private refusal: DuckgateError | undefined;

  constructor(private readonly options: DuckgateSocketOptions) {
    if (!options.apiKey) throw new TypeError('apiKey is required');
    const base = new URL(options.baseUrl);
    base.protocol = base.protocol === 'https:' ? 'wss:' : 'ws:';
    const url = new URL(`${base.toString().replace(/\/+$/, '')}/ws`);
    url.searchParams.set('db', options.db ?? 'default');
    this.url = url.toString();
    const impl = options.WebSocket ?? defaultWebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (impl === undefined) throw new TypeError('duckgate client: no global WebSocket; pass the `WebSocket` option (e.g. the `ws` package)');
    this.WebSocketImpl = impl;
  }

  /** One SQL statement; `$1`-style params as an array, `$name` ones as an object. */
  async query<Row extends object = JsonObject>(sql: string, params?: QueryParams): Promise<SocketQueryResult<Row>> {
    const answer = await this.call(params === undefined ? { type: 'query', sql } : { type: 'query', sql, params });
    const result = (answer.result ?? []) as Row[];
    return {
      result,
      columns: answer.columns ?? [],
      rowCount: answer.rowCount ?? result.length,
      elapsedMs: answer.duration ?? 0,
      truncated: answer.truncated ?? false,
      ...(answer.truncatedBy === undefined ? {} : { truncatedBy: answer.truncatedBy }),
    };
  }

  /** Round trip through the server (and a re-check of the credential there). */
  async ping(): Promise<void> {
    await this.call({ type: 'ping' });
  }

  /** Closes the socket; calls in flight fail with `socket_closed`. A later call opens a new one. */
  close(): void {
    const connection = this.current;
    this.current = undefined;
    this.opening = undefined;
    if (connection === undefined) return;
    connection.socket.close(1000);
    fail(connection, new DuckgateError({ status: 0, code: 'socket_closed', message: 'Socket closed by the client' }));
  }

  private async call(message: Record<string, unknown>): Promise<Answer> {
    const connection = this.current?.socket.readyState === OPEN ? this.current : await this.open();
    const id = this.nextId++;
    const answer = await new Promise<Answer>((resolve, reject) => {
      connection.waiting.set(id, { resolve, reject });
      connection.socket.send(JSON.stringify({ id, ...message }));
    });
    if (!answer.success) throw errorOf(answer);
    return answer;
  }

  /** Opens and authenticates a socket; concurrent callers share one attempt. */
  private open(): Promise<Connection> {
    if (this.refusal) return Promise.reject(this.refusal);
    if (this.opening) return this.opening;
    const opening = new Promise<Connection>((resolve, reject) => {
      const connection: Connection = { socket: new this.WebSocketImpl(this.url), waiting: new Map() };
      const { socket } = connection;
      const authId = this.nextId++;
      let authenticated = false;
      socket.onmessage = (event) => received(connection, event.data);
      socket.onopen = () => {
        connection.waiting.set(authId, {
          resolve: (answer) => {
            if (!answer.success) {
              this.refusal = errorOf(answer);
              return reject(this.refusal);
            }
            authenticated = true;
            if (this.opening === opening) {
              this.current = connection;
              this.opening = undefined;
            }
            resolve(connection);
          },
          reject,
        });
        socket.send(JSON.stringify({ id: authId, type: 'auth', apiKey: this.options.apiKey }));
      };
      socket.onerror = () => {};
      socket.onclose = ({ code, reason }) => {
        const mine = this.current === connection || this.opening === opening;
        if (this.current === connection) this.current = undefined;
        if (this.opening === opening) this.opening = undefined;
        const final = FINAL_CLOSE_CODES.has(code);
        const error = new DuckgateError({
          status: 0,
          code: final ? 'socket_refused' : 'socket_closed',
          message: `Socket closed (${code}${reason ? `: ${reason}` : ''})`,
        });
        // The server refused the credential or the database: later calls fail at once, with its words.
        if (final && mine) this.refusal ??= error;
        if (!authenticated) reject(error);
        fail(connection, error);
      };
    });
    this.opening = opening;
    return opening;
  }
}

function received(connection: Connection, data: unknown): void {
  let answer: Answer;
  try {
    answer = JSON.parse(typeof data === 'string' ? data : String(data)) as Answer;
  } catch {
    return;
  }
  if (typeof answer.id !== 'number') return; // the server's `welcome`
  const waiting = connection.waiting.get(answer.id);
  if (waiting === undefined) return;
  connection.waiting.delete(answer.id);
  waiting.resolve(answer);
}

function fail(connection: Connection, error: DuckgateError): void {
  const waiting = [...connection.waiting.values()];
  connection.waiting.clear();
  for (const { reject } of waiting) reject(error);
}

function errorOf(answer: Answer): DuckgateError {
  return new DuckgateError({
    status: answer.status ?? 0,
    code: answer.code ?? 'socket_error',
    message: answer.error ?? 'Request failed',
    ...(answer.retryAfter === undefined ? {} : { retryAfter: answer.retryAfter }),
  });
}
