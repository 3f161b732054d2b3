/**
 * duckgate's TypeScript client (`duckgate/client`). Give it an API key and call methods: it
 * exchanges the key for a JWT, keeps it fresh and renews it when the server refuses it (seed
 * 003). Nothing Node-only here: it runs wherever `fetch` does. In Node, the package's `node` export
 * condition loads `node.ts` instead, which sends through a keep-alive pool (undici) and gives
 * `transport: 'ws'` the `ws` package.
 *
 * ```ts
 * const db = new DuckgateClient({ baseUrl: 'http://127.0.0.1:3000', apiKey: process.env.DUCKGATE_KEY! });
 * await db.insert('users', { name: 'Ada' });
 * ```
 */
import { DuckgateApi } from './api.js';
import { AdminLogin, apiKeyTokens, type AdminSession } from './credentials.js';
import { send, transport, type Requester } from './http.js';
import { DuckgateSocket, type SocketQueryResult, type WebSocketConstructor } from './socket.js';
import type { DbOption, JsonObject, QueryParams } from './types.js';

export { DuckgateApi } from './api.js';
export { DuckgateError } from './errors.js';
export { DuckgateSocket } from './socket.js';
export type { AdminSession } from './credentials.js';
export type { HttpAnswer, HttpRequest, Requester } from './http.js';
export type { DuckgateSocketOptions, SocketQueryResult, WebSocketConstructor, WebSocketLike } from './socket.js';
export type * from './types.js';

export interface DuckgateClientOptions {
  /** e.g. `http://127.0.0.1:3000`; a path prefix (behind a proxy) is kept. */
  baseUrl: string;
  /** A managed key (`dk_live_…`) or an environment key. */
  apiKey: string;
  /** Send through this `fetch`. Default: a keep-alive connection pool in Node, the global `fetch` elsewhere. */
  fetch?: typeof fetch;
  /** Send through this requester instead (wins over `fetch`): e.g. `createPool()` from the Node entry. */
  request?: Requester;
  /** Renew the token this many seconds before it expires (default 30; half the lifetime when that is shorter than twice this). */
  refreshMarginSeconds?: number;
  /**
   * `ws`: `query()` goes over one WebSocket per database (`GET /ws`, authenticated with the API key),
   * for high-throughput SQL; every other call stays on HTTP. Default `http`.
   */
  transport?: 'http' | 'ws';
  /** For `transport: 'ws'`: the runtime's WebSocket unless given (Node's entry uses the `ws` package). */
  WebSocket?: WebSocketConstructor;
}

export interface DuckgateLoginOptions {
  baseUrl: string;
  username: string;
  password: string;
  fetch?: typeof fetch;
  request?: Requester;
}

/** A client authenticated by an API key, exchanged for short-lived JWTs behind the scenes. */
export class DuckgateClient extends DuckgateApi {
  /** `transport: 'ws'`: one socket per database, opened on first use. */
  private readonly sockets: Map<string, DuckgateSocket> | undefined;

  constructor(private readonly options: DuckgateClientOptions) {
    const margin = options.refreshMarginSeconds ?? 30;
    if (!Number.isFinite(margin) || margin < 0) throw new RangeError('refreshMarginSeconds must be a number of seconds, 0 or more');
    if (!options.apiKey) throw new TypeError('apiKey is required');
    if (options.transport !== undefined && options.transport !== 'http' && options.transport !== 'ws') throw new TypeError("transport must be 'http' or 'ws'");
    const http = transport(options.baseUrl, options);
    super(http, apiKeyTokens(http, options.apiKey, margin));
    this.sockets = options.transport === 'ws' ? new Map() : undefined;
  }

  /** Run one SQL statement; over the WebSocket with `transport: 'ws'`. */
  override query<Row extends object = JsonObject>(sql: string, params?: QueryParams, options: DbOption = {}): Promise<SocketQueryResult<Row>> {
    if (this.sockets === undefined) return super.query<Row>(sql, params, options) as Promise<SocketQueryResult<Row>>;
    const db = options.db ?? 'default';
    let socket = this.sockets.get(db);
    if (socket === undefined) {
      socket = new DuckgateSocket({ baseUrl: this.options.baseUrl, apiKey: this.options.apiKey, db, ...(this.options.WebSocket ? { WebSocket: this.options.WebSocket } : {}) });
      this.sockets.set(db, socket);
    }
    return socket.query<Row>(sql, params);
  }

  /** Closes the client's WebSockets (HTTP connections are pooled per process and need no closing). */
  close(): void {
    for (const socket of this.sockets?.values() ?? []) socket.close();
    this.sockets?.clear();
  }

  /** An admin session by username and password (`POST /api/login`); rejects at once on bad credentials. */
  static async login(options: DuckgateLoginOptions): Promise<DuckgateAdminClient> {
    const client = new DuckgateAdminClient(options);
    await client.login();
    return client;
  }
}

/**
 * A client authenticated as an admin user (the dashboard's login, CONTRACT.md §4). It logs in on
 * first use and logs in again, once, when the server refuses the session token; it keeps the
 * password in memory for that, so prefer an API key for long-running services.
 */
export class DuckgateAdminClient extends DuckgateApi {
  private readonly credentials: AdminLogin;

  constructor(options: DuckgateLoginOptions) {
    const http = transport(options.baseUrl, options);
    const credentials = new AdminLogin(http, options.username, options.password);
    super(http, credentials.tokens);
    this.credentials = credentials;
  }

  /** Log in now (otherwise the first call does); answers the session without its token. */
  async login(): Promise<AdminSession> {
    await this.tokens.current();
    // Set by the login that produced the token just awaited.
    return this.credentials.session as AdminSession;
  }

  /**
   * End the session server-side (`POST /api/logout`); the token dies at once. A later call logs in
   * again with the same username and password.
   */
  async logout(): Promise<void> {
    const token = this.tokens.heldToken;
    this.tokens.clear();
    this.credentials.session = undefined;
    if (token !== undefined) await send(this.http, { method: 'POST', path: '/api/logout' }, token);
  }

  /** The latest login's `username`, `expiresIn` and `expiresAt`; undefined before the first. */
  get session(): AdminSession | undefined {
    return this.credentials.session;
  }
}
