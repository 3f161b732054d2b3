/**
 * Where the client's bearer tokens come from (seed 003: "client libraries handle authentication
 * automatically"): an API key exchanged at `POST /api/auth/token`, or an admin login at
 * `POST /api/login`. Both go through one cache that fetches a token at most once at a time.
 */
import { send, type Transport } from './http.js';
import type { LoginResponse, TokenResponse } from './types.js';

interface HeldToken {
  token: string;
  /** Client clock, ms: past this, fetch a new token before using it. */
  renewAt: number;
}

/**
 * Single flight: while one fetch is under way, every caller awaits that same promise, so 50
 * concurrent calls on a cold client make one exchange. A failed fetch is not cached: the next
 * call tries again, and each caller sees the failure once.
 */
export class TokenCache {
  private held: HeldToken | undefined;
  private inflight: Promise<string> | undefined;
  private lastRenewal: { stale: string; flight: Promise<string> } | undefined;

  constructor(private readonly obtain: () => Promise<HeldToken>) {}

  /** A token that is fresh by the client's clock. */
  current(): Promise<string> {
    if (this.inflight) return this.inflight;
    if (this.held && Date.now() < this.held.renewAt) return Promise.resolve(this.held.token);
    return this.fetchOnce();
  }

  /**
   * The server refused `stale` as `invalid_token`. When another caller has already replaced it
   * (or is replacing it), that token is the answer: a burst of 401s makes one exchange, not one each.
   */
  renew(stale: string): Promise<string> {
    if (this.inflight) return this.inflight;
    if (this.held && this.held.token !== stale && Date.now() < this.held.renewAt) return Promise.resolve(this.held.token);
    // A 401 that arrives after the renewal for the same token already failed shares that failure.
    if (this.lastRenewal?.stale === stale) return this.lastRenewal.flight;
    this.held = undefined;
    const flight = this.fetchOnce();
    this.lastRenewal = { stale, flight };
    return flight;
  }

  /** The token held now, if any, without fetching one. */
  get heldToken(): string | undefined {
    return this.held?.token;
  }

  /** Forget the token: the next call obtains a new one. */
  clear(): void {
    this.held = undefined;
    this.lastRenewal = undefined;
  }

  private fetchOnce(): Promise<string> {
    const flight = this.obtain()
      .then((held) => {
        this.held = held;
        return held.token;
      })
      .finally(() => {
        if (this.inflight === flight) this.inflight = undefined;
      });
    this.inflight = flight;
    return flight;
  }
}

/**
 * Exchanges an API key for a JWT. The renewal time comes from the client's own clock at receipt
 * plus `expires_in`, never from the token's `exp`, so a skewed client clock does not matter; the
 * margin renews early enough that a token is not dying while a request is in flight.
 */
export function apiKeyTokens(http: Transport, apiKey: string, marginSeconds: number): TokenCache {
  return new TokenCache(async () => {
    const { token, expires_in } = await send<TokenResponse>(http, { method: 'POST', path: '/api/auth/token', body: { api_key: apiKey } });
    const receivedAt = Date.now();
    // A lifetime shorter than twice the margin would be renewed on every call: use half of it instead.
    const margin = expires_in < 2 * marginSeconds ? expires_in / 2 : marginSeconds;
    return { token, renewAt: receivedAt + (expires_in - margin) * 1000 };
  });
}

/** The session of a login, without its token. */
export type AdminSession = Omit<LoginResponse, 'token'>;

/**
 * Logs an admin in. The session token is kept until the server refuses it (the client then logs
 * in again, once): sessions last days, and the server, not the client, decides when one ends.
 */
export class AdminLogin {
  /** The latest successful login. */
  session: AdminSession | undefined;
  readonly tokens: TokenCache;

  constructor(http: Transport, username: string, password: string) {
    this.tokens = new TokenCache(async () => {
      const { token, ...session } = await send<LoginResponse>(http, { method: 'POST', path: '/api/login', body: { username, password } });
      this.session = session;
      return { token, renewAt: Number.POSITIVE_INFINITY };
    });
  }
}
