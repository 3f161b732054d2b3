/**
 * What a route declares about who may call it. Routes never call auth code: they state one of
 * these in `config`, and the hooks in `authenticate.ts` enforce it. A route that declares
 * neither `public` nor `access` is refused at start-up, so nothing is left open by mistake.
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
  /** `level` on the collection named by route parameter `param`, in the database of `?db=`. */
  | { kind: 'collection'; level: PermissionLevel; param: string }
  /** `level` on every collection named by a key of the JSON body (`POST /v1/sync`). */
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
    principal?: Principal;
  }
}

/** The database a request addresses (`?db=`, Duckling's convention). */
export function databaseOf(query: unknown): string {
  const db = (query as { db?: unknown } | undefined)?.db;
  return typeof db === 'string' && db !== '' ? db : 'default';
}

/** The authenticated principal; the auth hook guarantees it on every non-public route. */
export function principalOf(request: { principal?: Principal }): Principal {
  if (!request.principal) throw new Error('principalOf called on a route without authentication');
  return request.principal;
}
