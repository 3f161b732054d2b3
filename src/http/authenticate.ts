/**
 * The request's whole path through authentication, top to bottom:
 *
 *   credential → principal → (rate limit, IP rules: later issues) → route access → handler
 *
 * Token exchange and registration carry the key in the JSON body (seed 003), so they resolve the
 * principal in `preValidation`, right after the body is parsed, by the same functions.
 *
 * Each step is a plain function of `src/auth`; this file only orders them and says which hook
 * runs which. `onRequest` authenticates before the body is even read, so an anonymous caller
 * costs no parsing; `preValidation` checks the route's declared access once the body (needed by
 * sync) is parsed but before it is validated, so a caller without rights learns nothing of the
 * route's schema.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { readCredential } from '../auth/credential.js';
import { assertAdmin, assertCollectionAccess, canSeeDatabase } from '../auth/permissions.js';
import { resolvePrincipal, type PrincipalSources } from '../auth/resolve-principal.js';
import type { Principal } from '../auth/principal.js';
import { ApiError, errors, isApiError } from '../errors.js';
import { databaseOf, principalOf, type BodyCredential, type RouteAccess } from './access.js';

export interface AuthenticateOptions {
  sources: PrincipalSources;
  /**
   * Bench-only wiring: every request runs as this principal without a credential. Reachable only
   * from code (never from configuration), so that `bench/` can measure what authentication costs.
   */
  benchPrincipal?: Principal;
}

export function installAuthentication(app: FastifyInstance, options: AuthenticateOptions): void {
  app.addHook('onRoute', (route) => {
    const config = route.config as { public?: boolean; access?: RouteAccess } | undefined;
    if (!config?.public && !config?.access) {
      throw new Error(`Route ${route.method} ${route.url} declares neither config.public nor config.access`);
    }
  });

  app.addHook('onRequest', async (request) => {
    const config = request.routeOptions.config;
    if (config.public || config.credentialInBody) return;
    if (options.benchPrincipal) {
      request.principal = options.benchPrincipal;
      return;
    }
    const credential = readCredential(request.headers);
    request.principal = await resolvePrincipal(credential, options.sources);
  });

  app.addHook('preValidation', async (request) => {
    const { access, public: isPublic, credentialInBody } = request.routeOptions.config;
    if (isPublic || !access) return;
    if (credentialInBody) request.principal = await bodyPrincipal(request, credentialInBody, options.sources);
    assertRouteAccess(request, principalOf(request), access);
  });
}

async function bodyPrincipal(request: FastifyRequest, spec: BodyCredential, sources: PrincipalSources): Promise<Principal> {
  const field = (request.body as Record<string, unknown> | undefined)?.[spec.field];
  const headers = typeof field === 'string' && field !== '' ? { 'x-api-key': field } : request.headers;
  const credential = readCredential(headers);
  if (!spec.exchange) return resolvePrincipal(credential, sources);
  // A token is never exchanged for another token: only keys can be.
  if (credential.kind === 'jwt') throw keyNotFoundOrRevoked();
  try {
    return await resolvePrincipal(credential, sources);
  } catch (error) {
    if (isApiError(error) && error.status === 401) throw keyNotFoundOrRevoked();
    throw error;
  }
}

function keyNotFoundOrRevoked(): ApiError {
  return new ApiError(401, 'invalid_api_key', 'API key not found or revoked');
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
