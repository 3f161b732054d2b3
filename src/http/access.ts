/**
 * What a route declares about who may call it. Routes never call auth code: they state one of
 * these in `config`, and the hooks in `authenticate.ts` enforce it. A route that declares
 * neither `public` nor `access` is refused at start-up, so nothing is left open by mistake.
 *
 * Access is decided from the method, the route, its path parameters and its query, before the
 * body is read; only `body-collections` (and routes whose credential is in the body) wait for it.
 */
import type { PermissionLevel } from '../auth/permissions.js';
import type { Principal } from '../auth/principal.js';

export type RouteAccess =
  /** Any authenticated principal (operations, listings that filter themselves). */
  | { kind: 'authenticated' }
  /** Any principal that can see the database of `?db=` (the tenant boundary). */
  | { kind: 'database' }
  /** Admin keys and admin sessions only. */
  | { kind: 'admin' }
  /**
   * `level` on the collection named by route parameter `param`, in the database of `?db=`. The
   * name is resolved to the table it addresses first and the grant checked on that table; the hook
   * then puts the catalog's spelling into `params[param]`, so a handler only ever sees the name that
   * was checked. `names: 'identifiers'` (the default: record and sync routes, whose collections
   * duckgate creates) refuses any other name with 400 `invalid_name`; `'catalog'` (the Duckling
   * table routes) serves whatever tables raw SQL created.
   */
  | { kind: 'collection'; level: PermissionLevel; param: string; names?: 'identifiers' | 'catalog' }
  /** `level` on every collection named by a key of the JSON body (`POST /v1/sync`): decided once the body is parsed. */
  | { kind: 'body-collections'; level: PermissionLevel };

/**
 * Seed 003 sends the key in the JSON body (`{ "api_key": ... }`) for token exchange and
 * registration. Such routes authenticate once the body is parsed, from `field` or else the headers.
 */
export interface BodyCredential {
  field: string;
  /** Token exchange: only an API key may be exchanged, and any failure reads "API key not found or revoked". */
  exchange?: boolean;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** No credential needed: CONTRACT.md §4's list and nothing else. */
    public?: boolean;
    access?: RouteAccess;
    credentialInBody?: BodyCredential;
  }
  interface FastifyRequest {
    /** Who is calling; set by the auth hooks on every non-public route (`decorateRequest`). */
    principal: Principal | null;
    /** The client's address as TRUSTED_PROXIES allow it to be known; set first, on every request. */
    clientIp: string | null;
  }
}

/** The database a request addresses (`?db=`, Duckling's convention). */
export function databaseOf(query: unknown): string {
  const db = (query as { db?: unknown } | undefined)?.db;
  return typeof db === 'string' && db !== '' ? db : 'default';
}

/** The authenticated principal; the auth hook guarantees it on every non-public route. */
export function principalOf(request: { principal: Principal | null }): Principal {
  if (!request.principal) throw new Error('principalOf called on a route without authentication');
  return request.principal;
}
