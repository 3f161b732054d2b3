/**
 * The request's whole path through authentication, top to bottom:
 *
 *   client IP → global allow list → credential → principal → key's allow list → rate limit
 *     → route access → in-flight slot → handler
 *
 * `onRequest` runs all of it before a byte of the body is read, so an anonymous or denied caller
 * costs no parsing: route access is decided from the method, the route, its path parameters and
 * its query. Two kinds of route must wait for the body, and finish in `preValidation` (before the
 * body is validated, so a caller without rights learns nothing of the route's schema): token
 * exchange and registration, whose key may travel in the body (seed 003), and `POST /v1/sync`,
 * which names its collections in the body.
 *
 * credential → principal → key's allow list → rate limit is one resolver (`auth/resolver.ts`) that
 * answers an outcome; every entry point here (headers, body credential, check-auth and logout
 * through `Authenticator`, and the WebSocket's first message) runs it and differs only in how it
 * renders that outcome. The resolver is injected, so `bench/` can measure the path without it.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction as HookDone } from 'fastify';
import type { CredentialHeaders } from '../auth/credential.js';
import type { IpAllowList } from '../auth/ip-rules.js';
import { assertAdmin, assertCollectionAccess, canSeeDatabase, type PermissionLevel } from '../auth/permissions.js';
import type { Principal } from '../auth/principal.js';
import type { AuthAttempt, AuthOutcome, PrincipalResolver } from '../auth/resolver.js';
import { isIdentifier } from '../data/identifiers.js';
import { ApiError, errors } from '../errors.js';
import { databaseOf, principalOf, type BodyCredential, type RouteAccess } from './access.js';
import type { AuthEvents } from './auth-events.js';
import type { ClientIpResolver } from './client-ip.js';
import type { InFlightSlots } from './in-flight.js';

/**
 * The table `name` addresses in `database`, as the data engine binds it (undefined: none yet). May
 * answer at once when the engine knows its catalog already (the common case); when it needs a
 * connection it spends the request's deadline like the data work.
 */
export type TableResolver = (database: string, name: string, deadline?: number) => string | undefined | Promise<string | undefined>;

export interface AuthenticateOptions {
  clientIp: ClientIpResolver;
  /** ALLOWED_IPS: checked before any credential is looked at. */
  allowedIps: IpAllowList;
  /** credential → principal → key's allow list → rate limit, with failure counting. */
  resolver: PrincipalResolver;
  /** Collection names are checked as the table they address, never as spelt. */
  tables: TableResolver;
  /** MAX_IN_FLIGHT_PER_CLIENT: a slot per request, after the rate limit; unset: no cap. */
  inFlight?: InFlightSlots;
  events: AuthEvents;
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

/** For entry points that render the outcome themselves: check-auth, logout, the WebSocket's `auth` message. */
export interface Authenticator {
  /**
   * Runs the resolver for `request` with `credential` (default: its headers), reports the outcome
   * (metrics, audit trail, log) and sets the `RateLimit-*` headers on `reply` (a WebSocket message has
   * none). `again`: a socket re-checking its credential (`AuthAttempt.recheck`, `consume`). Refusals
   * are outcomes, not throws.
   */
  resolve(
    request: FastifyRequest, reply: FastifyReply | undefined, credential?: CredentialHeaders, accept?: AuthAttempt['accept'],
    again?: Pick<AuthAttempt, 'recheck' | 'consume'>,
  ): AuthOutcome | Promise<AuthOutcome>;
}

export function installAuthentication(app: FastifyInstance, options: AuthenticateOptions): Authenticator {
  requireAccessDeclarations(app);
  app.decorateRequest('clientIp', null);
  app.decorateRequest('principal', null);
  const authenticator = resolverFor(options);

  /**
   * The path after the client IP, once a principal is known: route access, then the in-flight
   * slot. Each step answers at once when it can (a free slot, a catalogue already loaded), so a
   * request that waits for nothing runs the whole hook without a promise (issue 17).
   */
  const afterPrincipal = (request: FastifyRequest, reply: FastifyReply, access: RouteAccess | undefined, outcome: AuthOutcome, done: HookDone): void => {
    try {
      request.principal = principalOrThrow(outcome, request);
      // Route access (an unknown route has none to check: it answers 404, but only to a principal).
      const authorized = access ? authorize(request, access, options.tables) : undefined;
      if (authorized !== undefined) {
        authorized.then(() => takeSlot(request, reply, done), done);
        return;
      }
    } catch (error) {
      done(error as Error);
      return;
    }
    takeSlot(request, reply, done);
  };
  // In-flight slot, per client like the rate limit: a few requests at once, a short queue, then
  // 429. Taken after route access, so a refused request never waits for a slot.
  const takeSlot = (request: FastifyRequest, reply: FastifyReply, done: HookDone): void => {
    let taken: void | Promise<void>;
    try {
      taken = options.inFlight?.take(request, reply, request.principal!.id);
    } catch (error) {
      done(error as Error);
      return;
    }
    if (taken === undefined) done();
    else taken.then(() => done(), done);
  };

  // Callback style: Fastify runs an async hook through a promise even when nothing waits.
  app.addHook('onRequest', (request, reply, done) => {
    let outcome: AuthOutcome | Promise<AuthOutcome>;
    let access: RouteAccess | undefined;
    try {
      // Client IP: trusted proxies only.
      const ip = options.clientIp(request);
      request.clientIp = ip;
      // Global allow list, before any credential is looked at (public routes too).
      if (!options.allowedIps.allows(ip)) {
        options.events.ipDenied(request, ip);
        throw errors.ipDenied();
      }
      const config = request.routeOptions.config;
      // Public routes need nobody; a credential in the body is read once the body is (preValidation).
      if (config.public || config.credentialInBody) {
        done();
        return;
      }
      access = config.access;
      // Credential → principal → key's allow list → rate limit.
      outcome = authenticator.resolve(request, reply);
    } catch (error) {
      done(error as Error);
      return;
    }
    if (outcome instanceof Promise) outcome.then((settled) => afterPrincipal(request, reply, access, settled, done), done);
    else afterPrincipal(request, reply, access, outcome, done);
  });

  const bodyAccess = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const { public: isPublic, credentialInBody, access } = request.routeOptions.config;
    if (isPublic || !access) return;
    if (credentialInBody) {
      const outcome = await authenticator.resolve(request, reply, bodyCredential(request, credentialInBody), credentialInBody.exchange ? 'keys' : 'any');
      request.principal = principalOrThrow(outcome, request, credentialInBody);
      await authorize(request, access, options.tables);
    }
    if (access.kind === 'body-collections') await authorizeBodyCollections(request, access.level, options.tables);
  };
  // Only the routes that finish their access check on the body get the hook: every other request
  // skips a hook that would do nothing (issue 17: the point read's path).
  app.addHook('onRoute', (route) => {
    const config = route.config as { public?: boolean; credentialInBody?: unknown; access?: RouteAccess } | undefined;
    if (config?.public || !config?.access || (!config.credentialInBody && config.access.kind !== 'body-collections')) return;
    route.preValidation = [...[route.preValidation ?? []].flat(), bodyAccess];
  });

  return authenticator;
}

function resolverFor(options: AuthenticateOptions): Authenticator {
  const settle = (request: FastifyRequest, reply: FastifyReply | undefined, ip: string, outcome: AuthOutcome): AuthOutcome => {
    const decision = outcome.ok ? outcome.rateLimit : outcome.reason === 'rate_limit' ? outcome.rateLimit : undefined;
    // A socket's messages have no headers to carry the decision (`reply` unset).
    if (decision && reply) {
      reply.header('RateLimit-Limit', String(decision.limit));
      reply.header('RateLimit-Remaining', String(decision.remaining));
      reply.header('RateLimit-Reset', String(Math.ceil(decision.resetSeconds)));
    }
    report(request, ip, outcome, options.events);
    return outcome;
  };
  return {
    resolve(request, reply, credential = request.headers, accept = 'any', again = {}) {
      const ip = request.clientIp ?? options.clientIp(request);
      const outcome = options.resolver.resolve({ credential, ip, accept, ...again });
      if (outcome instanceof Promise) return outcome.then((settled) => settle(request, reply, ip, settled));
      return settle(request, reply, ip, outcome);
    },
  };
}

/** One place turns an outcome into counters, audit events and log lines, whatever the entry point. */
function report(request: FastifyRequest, ip: string, outcome: AuthOutcome, events: AuthEvents): void {
  if (outcome.ok) return events.succeeded(request, outcome.principal);
  switch (outcome.reason) {
    case 'credential':
      return events.failed(request, outcome.error, outcome.credential);
    case 'failure_limit':
      events.failed(request, outcome.cause, outcome.credential);
      return events.rateLimited(request, `ip:${ip}`);
    case 'key_ip':
      return events.ipDenied(request, ip, outcome.principal);
    case 'rate_limit':
      return events.rateLimited(request, outcome.principal.id, outcome.principal);
  }
}

/** A route's rendering: the principal, or the outcome's error. Token exchange words its 401s its own way. */
function principalOrThrow(outcome: AuthOutcome, request: FastifyRequest, bodyCredential?: BodyCredential): Principal {
  if (outcome.ok) return outcome.principal;
  // Same code, a message that says why the key the caller did send was not seen (looked for only
  // on this failure: the query is not searched for credentials on every request).
  const inUrl = !bodyCredential && outcome.reason === 'credential' && outcome.code === 'missing_api_key' ? urlCredential(request) : undefined;
  if (inUrl) {
    throw new ApiError(401, 'missing_api_key', `Missing API key: ?${inUrl}= in the URL is ignored (URLs end up in logs); send the key as Authorization: Bearer <key> or x-api-key: <key>`);
  }
  if (bodyCredential?.exchange && outcome.reason === 'credential' && outcome.code !== 'missing_api_key') {
    throw new ApiError(401, 'invalid_api_key', 'API key not found or revoked');
  }
  throw outcome.error;
}

/** Query parameters a client may have put a credential in; never read as one, only named in the 401. */
const URL_CREDENTIAL_PARAMETERS = ['api_key', 'apikey', 'key', 'token', 'access_token'] as const;

function urlCredential(request: FastifyRequest): string | undefined {
  const query = request.query as Record<string, unknown> | undefined;
  if (!query || typeof query !== 'object') return undefined;
  return URL_CREDENTIAL_PARAMETERS.find((name) => query[name] !== undefined);
}

/** Seed 003 sends the key as `{ "api_key": ... }`; without it, the headers are the credential. */
function bodyCredential(request: FastifyRequest, spec: BodyCredential): CredentialHeaders {
  const field = (request.body as Record<string, unknown> | undefined)?.[spec.field];
  return typeof field === 'string' && field !== '' ? { 'x-api-key': field } : request.headers;
}

/**
 * Route access from the method, route, path and query: everything but the body. Throws a refusal;
 * returns a promise only when the collection's name needs the catalogue loaded first.
 */
function authorize(request: FastifyRequest, access: RouteAccess, tables: TableResolver): Promise<void> | undefined {
  const principal = principalOf(request);
  if (access.kind === 'authenticated') return undefined;
  if (access.kind === 'admin') {
    assertAdmin(principal);
    return undefined;
  }

  // Databases are the tenant boundary: one the caller cannot see does not exist for it.
  const database = databaseOf(request.query);
  if (!canSeeDatabase(principal, database)) throw errors.notFound(`Database '${database}' not found`);
  if (access.kind !== 'collection') return undefined;

  const params = request.params as Record<string, string | undefined>;
  const name = params[access.param];
  if (name === undefined) return undefined;
  const table = collectionAccess(principal, access.level, database, name, access.names ?? 'identifiers', (db, n) => tables(db, n, request.deadline));
  if (typeof table === 'string') {
    params[access.param] = table;
    return undefined;
  }
  return table.then((checked) => {
    params[access.param] = checked;
  });
}

/** `POST /v1/sync`: every collection the body names. A body that is not an object fails validation right after. */
async function authorizeBodyCollections(request: FastifyRequest, level: PermissionLevel, tables: TableResolver): Promise<void> {
  const body = request.body;
  if (!body || typeof body !== 'object' || Array.isArray(body)) return;
  const principal = principalOf(request);
  const database = databaseOf(request.query);
  for (const name of Object.keys(body)) await collectionAccess(principal, level, database, name, 'identifiers', (db, n) => tables(db, n, request.deadline));
}

/**
 * Resolves `name` to the table it addresses, then checks the grant on that table (and answers its
 * spelling). Checking the name as spelt would let a spelling that folds differently reach another
 * table's rows past its grant (`İnvoices` read as `invoices`).
 */
function collectionAccess(
  principal: Principal, level: PermissionLevel, database: string, name: string, names: 'identifiers' | 'catalog', tables: TableResolver,
): string | Promise<string> {
  if (names === 'identifiers' && !isIdentifier(name)) throw errors.badRequest('invalid_name', `Invalid collection name '${name}'`);
  const resolved = tables(database, name);
  if (resolved instanceof Promise) return resolved.then((table) => checkedTable(principal, level, database, table ?? name));
  return checkedTable(principal, level, database, resolved ?? name);
}

function checkedTable(principal: Principal, level: PermissionLevel, database: string, table: string): string {
  assertCollectionAccess(principal, level, database, table);
  return table;
}
