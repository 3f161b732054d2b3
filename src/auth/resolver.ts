/**
 * One answer to "who is this, and may they go on?" for every way a credential arrives: request
 * headers, a key in a JSON body (token exchange, registration), check-auth and logout, and the
 * WebSocket protocol's first `auth` message. The steps run in one order,
 *
 *   credential → principal → the key's own IP allow list → rate limit,
 *
 * counting refused credentials per address on the way (AUTH_FAILURE_LIMIT). The answer is an
 * outcome, never a thrown refusal (as Unkey's `verifyKey` answers `{ valid: false, code }`), so an
 * entry point only decides how to render it: a 401 for a route, `{ authenticated: false }` for
 * check-auth, a close frame for a socket. Nothing here knows about HTTP.
 *
 * The global `ALLOWED_IPS` is not a step here: it applies to every request, with or without a
 * credential, before anything is read (`http/authenticate.ts`).
 */
import { errors, isApiError, type ApiError } from '../errors.js';
import type { AuthFailureCounter } from './auth-failures.js';
import { readCredential, type Credential, type CredentialHeaders } from './credential.js';
import { IpAllowList } from './ip-rules.js';
import type { Principal } from './principal.js';
import type { RateLimitDecision, RateLimiter } from './rate-limit.js';
import { resolvePrincipal, type PrincipalSources } from './resolve-principal.js';

export interface AuthAttempt {
  /** Where the credential is: request headers, or `{ 'x-api-key': key }` for a key sent in a body or message. */
  credential: CredentialHeaders;
  /** The client's address (as TRUSTED_PROXIES let it be known): failures count against it. */
  ip: string;
  /** `keys`: token exchange, where only an API key may be exchanged, never a token for another token. */
  accept?: 'any' | 'keys';
  /**
   * A credential accepted earlier, checked again (a WebSocket's, on every message and when the
   * control plane changes): a refusal now is a withdrawn right, not a guess, so it is not counted
   * against the address.
   */
  recheck?: boolean;
  /** false: leave the rate limit alone (a re-check that is not a request: a ping, a control-plane change). */
  consume?: boolean;
}

export type AuthOutcome = AuthSuccess | AuthFailure;

export interface AuthSuccess {
  ok: true;
  principal: Principal;
  /** The client's rate-limit decision, when a limit applies (for `RateLimit-*` headers). */
  rateLimit?: RateLimitDecision;
}

export type AuthFailure =
  /** No credential, a malformed one, or one that stands for nobody (401); counted against the address. */
  | { ok: false; reason: 'credential'; code: string; error: ApiError; credential?: Credential }
  /** The address is past AUTH_FAILURE_LIMIT: its refused credentials get 429. `cause` is the 401 it replaces. */
  | { ok: false; reason: 'failure_limit'; code: 'rate_limited'; error: ApiError; cause: ApiError; credential?: Credential }
  /** A valid credential, but the key's own `allowed_ips` does not hold the address. */
  | { ok: false; reason: 'key_ip'; code: 'ip_denied'; error: ApiError; principal: Principal }
  /** A valid credential whose client has spent its API_RATE_LIMIT (or the key's `rate_limit`). */
  | { ok: false; reason: 'rate_limit'; code: 'rate_limited'; error: ApiError; principal: Principal; rateLimit: RateLimitDecision };

/** What the app asks for each credential; `bench/` passes its own to measure what authentication costs. */
export interface PrincipalResolver {
  /**
   * Never throws a refusal: refusals are outcomes. May answer at once (no promise) when everything
   * it needs is in memory (an environment key without a rate limit): every request passes here, and
   * a promise per step is a measurable share of a cached point read (issue 17).
   */
  resolve(attempt: AuthAttempt): AuthOutcome | Promise<AuthOutcome>;
}

export interface CredentialResolverOptions {
  sources: PrincipalSources;
  /** Refused credentials per address (AUTH_FAILURE_LIMIT). */
  authFailures: AuthFailureCounter;
  /** API_RATE_LIMIT per client (0: none); a key's own `rate_limit` overrides `defaultLimit`. */
  rateLimit: { limiter: RateLimiter; defaultLimit: number };
}

export class CredentialResolver implements PrincipalResolver {
  /** A key's allow list is parsed once per cached key record, not once per request. */
  private readonly allowLists = new WeakMap<readonly string[], IpAllowList>();

  constructor(private readonly options: CredentialResolverOptions) {}

  resolve(attempt: AuthAttempt): AuthOutcome | Promise<AuthOutcome> {
    let credential: Credential | undefined;
    let principal: Principal | Promise<Principal>;
    try {
      credential = readCredential(attempt.credential);
      if (attempt.accept === 'keys' && credential.kind === 'jwt') throw errors.invalidToken();
      principal = resolvePrincipal(credential, this.options.sources);
    } catch (error) {
      return this.notResolved(attempt, error, credential);
    }
    if (principal instanceof Promise) {
      const presented = credential;
      return principal.then((found) => this.admit(attempt, found), (error: unknown) => this.notResolved(attempt, error, presented));
    }
    return this.admit(attempt, principal);
  }

  /** The credential stood for nobody (a 401): an outcome, counted against the address unless it is a re-check. */
  private notResolved(attempt: AuthAttempt, error: unknown, credential: Credential | undefined): AuthOutcome | Promise<AuthOutcome> {
    // Anything but a refused credential (a store that cannot answer) is not the caller's doing.
    if (!isApiError(error) || error.status !== 401) return Promise.reject(error);
    if (attempt.recheck) return { ok: false, reason: 'credential', code: error.code, error, credential };
    return this.refused(attempt.ip, error, credential);
  }

  /** The principal's own allow list, then the rate limit (the only step left that may wait). */
  private admit({ ip, consume = true }: AuthAttempt, principal: Principal): AuthOutcome | Promise<AuthOutcome> {
    if (principal.allowedIps && !this.allowListOf(principal.allowedIps).allows(ip)) {
      return { ok: false, reason: 'key_ip', code: 'ip_denied', error: errors.ipDenied(), principal };
    }
    const limit = principal.rateLimit ?? this.options.rateLimit.defaultLimit;
    if (limit <= 0 || !consume) return { ok: true, principal };
    // Keyed by the client (a key and the tokens exchanged for it share one count), never by path.
    return this.options.rateLimit.limiter.consume(principal.id, limit).then((decision): AuthOutcome => {
      if (!decision.allowed) {
        return { ok: false, reason: 'rate_limit', code: 'rate_limited', error: errors.rateLimited(decision.resetSeconds), principal, rateLimit: decision };
      }
      return { ok: true, principal, rateLimit: decision };
    });
  }

  /**
   * Counted per address: past the limit, this address's refused credentials are throttled, while
   * valid credentials from the same address (an office behind one NAT) still pass above.
   */
  private async refused(ip: string, error: ApiError, credential: Credential | undefined): Promise<AuthFailure> {
    const failures = await this.options.authFailures.recordFailure(ip);
    if (failures.limited) {
      return { ok: false, reason: 'failure_limit', code: 'rate_limited', error: errors.rateLimited(failures.retryAfterSeconds), cause: error, credential };
    }
    return { ok: false, reason: 'credential', code: error.code, error, credential };
  }

  private allowListOf(entries: readonly string[]): IpAllowList {
    let list = this.allowLists.get(entries);
    if (!list) {
      list = new IpAllowList(entries);
      this.allowLists.set(entries, list);
    }
    return list;
  }
}
