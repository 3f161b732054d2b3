/**
 * JWTs exchanged for an API key (seed 003), HS256 through `jose`. Two rules make them safe:
 *
 * - Verification is strict: HS256 only (so `alg: none` and other algorithms fail in any case),
 *   `iss`, `aud` and the header `typ` must match, and `exp`, `iat`, `jti`, `sub` must be present
 *   (jose accepts a missing `exp` and any `aud` unless told).
 * - A token is only as good as its key: it names the key (`sub`) and the key's generation (`gen`).
 *   Each request looks the key up again (through the key cache), so a revoked or regenerated key
 *   kills its tokens at once and permission changes apply to tokens already issued.
 *
 * `jwtVerify` costs ≈ 200 µs of CPU, so each distinct token is verified once and its claims kept
 * in a bounded cache until they expire.
 */
import { randomUUID } from 'node:crypto';
import { SignJWT, jwtVerify, type JWTPayload } from 'jose';
import { errors } from '../errors.js';
import type { Principal } from './principal.js';
import type { TokenVerifier } from './resolve-principal.js';

export const ISSUER = 'duckgate';
/** Tokens exchanged for an API key. Admin sessions use another audience and type. */
export const API_TOKEN = { audience: 'duckgate:api', typ: 'dk-api+jwt' } as const;

export interface TokenServiceOptions {
  secret: Uint8Array;
  /** Still verifies during a rotation; never signs. */
  previousSecret?: Uint8Array;
  lifetimeSeconds: number;
  /** The principal a token's subject stands for now; undefined when its key is gone or expired. */
  resolveSubject: (subject: string) => Promise<Principal | undefined>;
  cacheSize?: number;
}

interface VerifiedClaims {
  subject: string;
  generation: string;
  expiresAtMs: number;
}

export class ApiTokens implements TokenVerifier {
  private readonly verified = new Map<string, VerifiedClaims>();
  private readonly cacheSize: number;

  constructor(private readonly options: TokenServiceOptions) {
    this.cacheSize = options.cacheSize ?? 10_000;
  }

  /** A token for `principal`, which must have authenticated with an API key (never a token). */
  async issue(principal: Principal): Promise<{ token: string; expiresIn: number }> {
    const token = await new SignJWT({ gen: principal.generation })
      .setProtectedHeader({ alg: 'HS256', typ: API_TOKEN.typ })
      .setIssuer(ISSUER)
      .setAudience(API_TOKEN.audience)
      .setSubject(principal.id)
      .setJti(randomUUID())
      .setIssuedAt()
      .setExpirationTime(`${this.options.lifetimeSeconds}s`)
      .sign(this.options.secret);
    return { token, expiresIn: this.options.lifetimeSeconds };
  }

  async verify(token: string): Promise<Principal> {
    let claims = this.verified.get(token);
    if (!claims) {
      claims = await this.verifySignature(token);
      if (this.verified.size >= this.cacheSize) {
        const oldest = this.verified.keys().next().value;
        if (oldest !== undefined) this.verified.delete(oldest);
      }
      this.verified.set(token, claims);
    }
    if (claims.expiresAtMs <= Date.now()) {
      this.verified.delete(token);
      throw errors.invalidToken();
    }
    const principal = await this.options.resolveSubject(claims.subject);
    if (!principal || principal.generation !== claims.generation) throw errors.invalidToken();
    return principal.authMethod === 'jwt' ? principal : { ...principal, authMethod: 'jwt' };
  }

  private async verifySignature(token: string): Promise<VerifiedClaims> {
    const secrets = this.options.previousSecret ? [this.options.secret, this.options.previousSecret] : [this.options.secret];
    for (const secret of secrets) {
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(token, secret, {
          algorithms: ['HS256'],
          issuer: ISSUER,
          audience: API_TOKEN.audience,
          typ: API_TOKEN.typ,
          requiredClaims: ['exp', 'iat', 'jti', 'sub', 'iss', 'aud'],
        }));
      } catch {
        continue;
      }
      if (typeof payload.gen !== 'string' || typeof payload.sub !== 'string' || typeof payload.exp !== 'number') break;
      return { subject: payload.sub, generation: payload.gen, expiresAtMs: payload.exp * 1000 };
    }
    throw errors.invalidToken();
  }
}
