/**
 * duckgate's TypeScript client (`duckgate/client`). Give it an API key and call methods: it
 * exchanges the key for a JWT, keeps it fresh and renews it when the server refuses it (seed
 * 003). No dependencies and nothing Node-only: it runs wherever `fetch` does.
 *
 * ```ts
 * const db = new DuckgateClient({ baseUrl: 'http://127.0.0.1:3000', apiKey: process.env.DUCKGATE_KEY! });
 * await db.insert('users', { name: 'Ada' });
 * ```
 */
import { DuckgateApi } from './api.js';
import { AdminLogin, apiKeyTokens, type AdminSession } from './credentials.js';
import { send, transport } from './http.js';

export { DuckgateApi } from './api.js';
export { DuckgateError } from './errors.js';
export type { AdminSession } from './credentials.js';
export type * from './types.js';

export interface DuckgateClientOptions {
  /** e.g. `http://127.0.0.1:3000`; a path prefix (behind a proxy) is kept. */
  baseUrl: string;
  /** A managed key (`dk_live_…`) or an environment key. */
  apiKey: string;
  /** Defaults to the global `fetch`. */
  fetch?: typeof fetch;
  /** Renew the token this many seconds before it expires (default 30; half the lifetime when that is shorter than twice this). */
  refreshMarginSeconds?: number;
}

export interface DuckgateLoginOptions {
  baseUrl: string;
  username: string;
  password: string;
  fetch?: typeof fetch;
}

/** A client authenticated by an API key, exchanged for short-lived JWTs behind the scenes. */
export class DuckgateClient extends DuckgateApi {
  constructor(options: DuckgateClientOptions) {
    const margin = options.refreshMarginSeconds ?? 30;
    if (!Number.isFinite(margin) || margin < 0) throw new RangeError('refreshMarginSeconds must be a number of seconds, 0 or more');
    if (!options.apiKey) throw new TypeError('apiKey is required');
    const http = transport(options.baseUrl, options.fetch);
    super(http, apiKeyTokens(http, options.apiKey, margin));
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
    const http = transport(options.baseUrl, options.fetch);
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
