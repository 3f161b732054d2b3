/**
 * The HS256 JWT rules every duckgate token follows, through `jose`: one issuer, an audience and a
 * header `typ` per kind of token (so a token of one kind is never accepted as another), HS256
 * only (so `alg: none` and every other algorithm fail), and `exp`, `iat`, `jti`, `sub` required
 * (jose accepts a missing `exp` and any `aud` unless told). During a secret rotation the previous
 * secret still verifies but never signs.
 */
import { randomUUID } from 'node:crypto';
import { SignJWT, decodeProtectedHeader, jwtVerify, type JWTPayload } from 'jose';
import { errors } from '../errors.js';
import { credentialCaches, type NamespacedCache } from './credential-cache.js';

export const ISSUER = 'duckgate';

/** What tells one kind of token from another: its audience and its header type. */
export interface TokenKind {
  audience: string;
  typ: string;
}

export interface SigningSecrets {
  secret: Uint8Array;
  /** JWT_SECRET_PREVIOUS: still verifies during a rotation; never signs. */
  previousSecret?: Uint8Array;
}

export interface SignedToken {
  token: string;
  jti: string;
  expiresAtMs: number;
}

/** The claims every verified token has, plus its own (e.g. `gen`). */
export interface VerifiedPayload extends JWTPayload {
  sub: string;
  jti: string;
  exp: number;
}

export interface SignOptions {
  /** Extra claims (e.g. `gen`). */
  claims?: Record<string, unknown>;
  /**
   * A hard end (ms since the epoch) the token must not outlive, e.g. the end of the grace period
   * of the key it was exchanged for: `exp` is cut back to it (rounded down to a whole second).
   */
  notAfterMs?: number | null;
  /** The signing time (ms since the epoch); the clock by default. */
  nowMs?: number;
}

/**
 * JWT times are whole seconds. `iat` is the second the token was signed in (rounded down: never
 * in the future), while `exp` is rounded *up* from the exact signing time plus the lifetime, so a
 * token lives at least `lifetimeSeconds` (and less than one second more), never up to one second
 * less, which is what `exp = floor(now) + lifetime` gave.
 */
export function tokenTimes(nowMs: number, lifetimeSeconds: number, notAfterMs: number | null = null): { issuedAt: number; expiresAt: number } {
  const issuedAt = Math.floor(nowMs / 1000);
  let expiresAt = Math.ceil((nowMs + lifetimeSeconds * 1000) / 1000);
  if (notAfterMs !== null) expiresAt = Math.min(expiresAt, Math.floor(notAfterMs / 1000));
  return { issuedAt, expiresAt };
}

export async function signToken(
  kind: TokenKind,
  secrets: SigningSecrets,
  subject: string,
  lifetimeSeconds: number,
  options: SignOptions = {},
): Promise<SignedToken> {
  const jti = randomUUID();
  const { issuedAt, expiresAt } = tokenTimes(options.nowMs ?? Date.now(), lifetimeSeconds, options.notAfterMs ?? null);
  const claims = options.claims ?? {};
  const token = await new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256', typ: kind.typ })
    .setIssuer(ISSUER)
    .setAudience(kind.audience)
    .setSubject(subject)
    .setJti(jti)
    .setIssuedAt(issuedAt)
    .setExpirationTime(expiresAt)
    .sign(secrets.secret);
  return { token, jti, expiresAtMs: expiresAt * 1000 };
}

/** The payload of a token of `kind` signed by the current or previous secret; 401 `invalid_token` otherwise. */
export async function verifyToken(token: string, kind: TokenKind, secrets: SigningSecrets): Promise<VerifiedPayload> {
  const candidates = secrets.previousSecret ? [secrets.secret, secrets.previousSecret] : [secrets.secret];
  for (const secret of candidates) {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, secret, {
        algorithms: ['HS256'],
        issuer: ISSUER,
        audience: kind.audience,
        typ: kind.typ,
        requiredClaims: ['exp', 'iat', 'jti', 'sub', 'iss', 'aud'],
      }));
    } catch {
      continue;
    }
    if (typeof payload.sub !== 'string' || typeof payload.jti !== 'string' || typeof payload.exp !== 'number') break;
    return payload as VerifiedPayload;
  }
  throw errors.invalidToken();
}

/** The header `typ` of a JWT-shaped string, unverified: only to pick which verifier checks it. */
export function tokenTypeOf(token: string): string | undefined {
  try {
    const { typ } = decodeProtectedHeader(token);
    return typeof typ === 'string' ? typ : undefined;
  } catch {
    return undefined;
  }
}

/** What identifies a verified token and bounds its life, whatever its kind. */
export interface TokenClaims {
  jti: string;
  expiresAtMs: number;
}

/**
 * Verified claims by token, in a namespace of the credential cache (`credential-cache.ts`), tagged
 * with the token's id so that its logout drops it. `jwtVerify` costs ≈ 200 µs of CPU, so each
 * distinct token is verified once; entries are dropped when read after their token expired. A
 * token whose `jti` was logged out is refused on every read, cached or not.
 */
export class VerifiedTokens<T extends TokenClaims> {
  private readonly entries: NamespacedCache<T>;

  constructor(
    private readonly verify: (token: string) => Promise<T>,
    private readonly revoked: { has(jti: string): boolean | Promise<boolean> },
    cache: NamespacedCache<T> | { namespace: string; capacity?: number },
  ) {
    this.entries = 'get' in cache ? cache : credentialCaches({ maxEntriesPerNamespace: cache.capacity ?? 10_000 }).namespace<T>(cache.namespace);
  }

  /** The claims of `token`, verifying it the first time; 401 once it has expired or was logged out. */
  async get(token: string): Promise<T> {
    let claims = this.entries.get(token);
    if (!claims) {
      const ticket = this.entries.ticket();
      claims = await this.verify(token);
      this.entries.set(token, claims, { tokenId: claims.jti }, ticket);
    }
    if (claims.expiresAtMs <= Date.now()) {
      this.entries.removeByTokenId(claims.jti);
      throw errors.invalidToken();
    }
    if (await this.revoked.has(claims.jti)) throw errors.invalidToken();
    return claims;
  }
}
