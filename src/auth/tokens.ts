/**
 * JWTs exchanged for an API key (seed 003). A token is only as good as its key: it names the key
 * (`sub`) and the key's generation (`gen`), and each request looks the key up again (through the
 * key cache), so a revoked or regenerated key kills its tokens at once and permission changes
 * apply to tokens already issued. `POST /api/logout` can also end one token by its `jti`.
 */
import { errors } from '../errors.js';
import type { CredentialCaches } from './credential-cache.js';
import { signToken, verifyToken, VerifiedTokens, type SigningSecrets, type TokenKind } from './jwt.js';
import type { Principal } from './principal.js';
import type { RevokedTokens } from './revoked-tokens.js';
import type { TokenKindVerifier } from './token-kinds.js';

export { ISSUER } from './jwt.js';
/** Tokens exchanged for an API key. Admin sessions use another audience and type. */
export const API_TOKEN: TokenKind = { audience: 'duckgate:api', typ: 'dk-api+jwt' };

export interface TokenServiceOptions extends SigningSecrets {
  lifetimeSeconds: number;
  /**
   * The principal a token's subject stands for now, if the token's key generation is still live
   * for it; undefined when its key is gone, expired, or was replaced since.
   */
  resolveSubject: (subject: string, generation: string) => Promise<Principal | undefined>;
  revoked: RevokedTokens;
  cacheSize?: number;
  /** Where verified tokens are cached (the replica's credential cache); by default one of its own of `cacheSize`. */
  caches?: CredentialCaches;
}

interface ApiTokenClaims {
  subject: string;
  generation: string;
  jti: string;
  expiresAtMs: number;
}

/**
 * A token for a key's principal, named by its id and generation (also what `duckgate token`
 * mints). It never outlives the key state it was exchanged with: its `exp` is cut back to
 * `principal.validUntil` (the key's expiry, or the end of the grace period when the previous key of
 * a regenerated one was presented), and `expiresIn` says how long it really lives.
 */
export async function issueApiToken(secrets: SigningSecrets, principal: Principal, lifetimeSeconds: number): Promise<{ token: string; expiresIn: number }> {
  const nowMs = Date.now();
  const { token, expiresAtMs } = await signToken(API_TOKEN, secrets, principal.id, lifetimeSeconds, {
    claims: { gen: principal.generation },
    notAfterMs: principal.validUntil ?? null,
    nowMs,
  });
  return { token, expiresIn: Math.max(0, Math.floor((expiresAtMs - nowMs) / 1000)) };
}

export class ApiTokens implements TokenKindVerifier {
  private readonly verified: VerifiedTokens<ApiTokenClaims>;

  constructor(private readonly options: TokenServiceOptions) {
    this.verified = new VerifiedTokens((token) => this.verifyClaims(token), options.revoked, options.caches?.namespace<ApiTokenClaims>('api-token') ?? { namespace: 'api-token', capacity: options.cacheSize });
  }

  /** A token for `principal`, which must have authenticated with an API key (never a token). */
  issue(principal: Principal): Promise<{ token: string; expiresIn: number }> {
    return issueApiToken(this.options, principal, this.options.lifetimeSeconds);
  }

  async verify(token: string): Promise<Principal> {
    const claims = await this.verified.get(token);
    const principal = await this.options.resolveSubject(claims.subject, claims.generation);
    if (!principal) throw errors.invalidToken();
    return { ...principal, authMethod: 'jwt', tokenExpiresAt: claims.expiresAtMs };
  }

  claims(token: string): Promise<ApiTokenClaims> {
    return this.verified.get(token);
  }

  private async verifyClaims(token: string): Promise<ApiTokenClaims> {
    const payload = await verifyToken(token, API_TOKEN, this.options);
    if (typeof payload.gen !== 'string') throw errors.invalidToken();
    return { subject: payload.sub, generation: payload.gen, jti: payload.jti, expiresAtMs: payload.exp * 1000 };
  }
}
