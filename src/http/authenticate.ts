/**
 * The request's whole path through authentication, top to bottom:
 *
 *   client IP → global allow list → credential → principal → key's allow list → rate limit
 *     → in-flight slot → route access → handler
 *
 * Each step is a plain function of `src/auth`; this file only orders them and says which hook runs
 * which. `onRequest` runs everything up to the rate limit before the body is even read, so an
 * anonymous or denied caller costs no parsing. `preValidation` checks the route's declared access
 * once the body (needed by sync) is parsed but before it is validated, so a caller without rights
 * learns nothing of the route's schema. Token exchange and registration carry the key in the JSON
 * body (seed 003), so they run the same credential steps in `preValidation`. The public routes
 * that care who is asking (check-auth, logout) use `identify`, the same steps without a rate limit.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AuthFailureCounter } from '../auth/auth-failures.js';
import { readCredential, type Credential, type CredentialHeaders } from '../auth/credential.js';
import { IpAllowList } from '../auth/ip-rules.js';
import { assertAdmin, assertCollectionAccess, canSeeDatabase } from '../auth/permissions.js';
import type { Principal } from '../auth/principal.js';
import type { RateLimiter } from '../auth/rate-limit.js';
import { resolvePrincipal, type PrincipalSources } from '../auth/resolve-principal.js';
import { ApiError, errors, isApiError } from '../errors.js';
import { databaseOf, principalOf, type BodyCredential, type RouteAccess } from './access.js';
import type { AuthEvents } from './auth-events.js';
import type { ClientIpResolver } from './client-ip.js';
import type { InFlightSlots } from './in-flight.js';

export interface AuthenticateOptions {
  sources: PrincipalSources;
  clientIp: ClientIpResolver;
  /** ALLOWED_IPS: checked before any credential is looked at. */
  allowedIps: IpAllowList;
  /** Failed authentications per IP (AUTH_FAILURE_LIMIT): past it, failures answer 429, not 401. */
  authFailures: AuthFailureCounter;
  /** API_RATE_LIMIT per client; a key's own `rate_limit` overrides `defaultLimit`. */
  rateLimit: { limiter: RateLimiter; defaultLimit: number };
  /** MAX_IN_FLIGHT_PER_CLIENT: a slot per request, after the rate limit; unset: no cap. */
  inFlight?: InFlightSlots;
  events: AuthEvents;
  /**
   * Bench-only wiring: every request runs as this principal without a credential. Reachable only
   * from code (never from configuration), so that `bench/` can measure what authentication costs.
   */
  benchPrincipal?: Principal;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The client's address as TRUSTED_PROXIES allow it to be known. */
    clientIp?: string;
  }
}

/** A route that declares neither `public` nor `access` stops start-up: nothing is left open by mistake. */
export function requireAccessDeclarations(app: FastifyInstance): void {
  app.addHook('onRoute', (route) => {
    const config = route.config as { public?: boolean; access?: RouteAccess } | undefined;
    if (!config?.public && !config?.access) {
      throw new Error(`Route ${route.method} ${route.url} declares neither config.public nor config.access`);
    }
  });
}

/** For public routes that answer differently with a credential (check-auth, logout). */
export interface Authenticator {
  /**
   * The principal the request's credential stands for, or undefined when it has none or a bad one
   * (which counts as a failed authentication, as on any route). No rate limit is taken.
   */
  identify(request: FastifyRequest): Promise<Principal | undefined>;
}

export function installAuthentication(app: FastifyInstance, options: AuthenticateOptions): Authenticator {
  requireAccessDeclarations(app);

  app.addHook('onRequest', async (request, reply) => {
    const ip = options.clientIp(request);
    request.clientIp = ip;
    if (!options.allowedIps.allows(ip)) {
      options.events.ipDenied(request, ip);
      throw errors.ipDenied();
    }
    const config = request.routeOptions.config;
    if (config.public || config.credentialInBody) return;
    if (options.benchPrincipal) {
      request.principal = options.benchPrincipal;
      return;
    }
    request.principal = await authenticate(request, reply, request.headers, options);
  });

  app.addHook('preValidation', async (request, reply) => {
    const { access, public: isPublic, credentialInBody } = request.routeOptions.config;
    if (isPublic || !access) return;
    if (credentialInBody) request.principal = await authenticate(request, reply, bodyCredentialHeaders(request, credentialInBody), options, credentialInBody);
    assertRouteAccess(request, principalOf(request), access);
  });

  return {
    async identify(request) {
      const headers = request.headers;
      if (headers.authorization === undefined && headers['x-api-key'] === undefined) return undefined;
      let credential: Credential | undefined;
      let principal: Principal;
      try {
        credential = readCredential(headers);
        principal = await resolvePrincipal(credential, options.sources);
      } catch (error) {
        if (!isApiError(error) || error.status !== 401) throw error;
        options.events.failed(request, error, credential);
        await options.authFailures.recordFailure(request.clientIp!);
        return undefined;
      }
      if (principal.allowedIps && !allowListOf(principal.allowedIps).allows(request.clientIp!)) return undefined;
      return principal;
    },
  };
}

/** credential → principal → key's allow list → rate limit, for one request. */
async function authenticate(
  request: FastifyRequest,
  reply: FastifyReply,
  headers: CredentialHeaders,
  options: AuthenticateOptions,
  bodyCredential?: BodyCredential,
): Promise<Principal> {
  const ip = request.clientIp!;
  let credential: Credential | undefined;
  let principal: Principal;
  try {
    credential = readCredential(headers);
    // Only keys can be exchanged: a token is never exchanged for another token.
    if (bodyCredential?.exchange && credential.kind === 'jwt') throw errors.invalidToken();
    principal = await resolvePrincipal(credential, options.sources);
  } catch (error) {
    if (!isApiError(error) || error.status !== 401) throw error;
    options.events.failed(request, error, credential);
    // Counted per IP: past the limit, this address's failures are throttled, while valid
    // credentials from the same address (an office behind one NAT) still pass above.
    const failures = await options.authFailures.recordFailure(ip);
    if (failures.limited) {
      options.events.rateLimited(request, `ip:${ip}`);
      throw errors.rateLimited(failures.retryAfterSeconds);
    }
    throw bodyCredential?.exchange && error.code !== 'missing_api_key' ? keyNotFoundOrRevoked() : error;
  }

  if (principal.allowedIps && !allowListOf(principal.allowedIps).allows(ip)) {
    options.events.ipDenied(request, ip, principal);
    throw errors.ipDenied();
  }

  const limit = principal.rateLimit ?? options.rateLimit.defaultLimit;
  if (limit > 0) {
    // Keyed by the client (a key and the tokens exchanged for it share one count), never by path.
    const decision = await options.rateLimit.limiter.consume(principal.id, limit);
    reply.header('RateLimit-Limit', String(decision.limit));
    reply.header('RateLimit-Remaining', String(decision.remaining));
    reply.header('RateLimit-Reset', String(Math.ceil(decision.resetSeconds)));
    if (!decision.allowed) {
      options.events.rateLimited(request, principal.id, principal);
      throw errors.rateLimited(decision.resetSeconds);
    }
  }
  // Per client, like the rate limit: a few requests at once, a short queue, then 429.
  await options.inFlight?.take(request, reply, principal.id);
  options.events.succeeded(request, principal);
  return principal;
}

/** Seed 003 sends the key as `{ "api_key": ... }`; without it, the headers are the credential. */
function bodyCredentialHeaders(request: FastifyRequest, spec: BodyCredential): CredentialHeaders {
  const field = (request.body as Record<string, unknown> | undefined)?.[spec.field];
  return typeof field === 'string' && field !== '' ? { 'x-api-key': field } : request.headers;
}

function keyNotFoundOrRevoked(): ApiError {
  return new ApiError(401, 'invalid_api_key', 'API key not found or revoked');
}

/** A key's allow list is parsed once per cached key record, not once per request. */
const allowLists = new WeakMap<readonly string[], IpAllowList>();
function allowListOf(entries: readonly string[]): IpAllowList {
  let list = allowLists.get(entries);
  if (!list) {
    list = new IpAllowList(entries);
    allowLists.set(entries, list);
  }
  return list;
}

function assertRouteAccess(request: FastifyRequest, principal: Principal, access: RouteAccess): void {
  if (access.kind === 'authenticated') return;
  if (access.kind === 'admin') return assertAdmin(principal);

  // Databases are the tenant boundary: one the caller cannot see does not exist for it.
  const database = databaseOf(request.query);
  if (!canSeeDatabase(principal, database)) throw errors.notFound(`Database '${database}' not found`);
  if (access.kind === 'database') return;

  if (access.kind === 'collection') {
    const collection = (request.params as Record<string, string | undefined>)[access.param];
    if (collection !== undefined) assertCollectionAccess(principal, access.level, database, collection);
    return;
  }
  // body-collections: a body that is not an object fails validation right after this hook.
  const body = request.body;
  if (body && typeof body === 'object' && !Array.isArray(body)) {
    for (const collection of Object.keys(body)) assertCollectionAccess(principal, access.level, database, collection);
  }
}
