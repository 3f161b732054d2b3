/**
 * duckgate issues two kinds of JWT: API tokens (exchanged for a key) and admin sessions (a login).
 * Each kind has its own audience and header `typ`, and its own verifier; this picks the verifier
 * by the header's `typ`, so a token is only ever checked by the rules of the kind it claims to be
 * (and fails there if it is not).
 */
import { errors } from '../errors.js';
import type { AuditEvent } from '../store/audit-store.js';
import { tokenTypeOf, type TokenClaims, type TokenKind } from './jwt.js';
import type { Principal } from './principal.js';
import type { TokenVerifier } from './resolve-principal.js';
import type { RevokedTokens } from './revoked-tokens.js';

/** One kind of token: whom it stands for, and the claims that identify it. */
export interface TokenKindVerifier extends TokenVerifier {
  /** The verified claims of a valid token; 401 `invalid_token` otherwise. */
  claims(token: string): Promise<TokenClaims>;
}

export interface RevocableTokens extends TokenVerifier {
  /**
   * Ends `token` now (logout); answers whom it belonged to. 401 `invalid_token` if it was not valid.
   * `audit` describes the logout once the owner is known; it is stored with the revocation.
   */
  revoke(token: string, audit?: (principal: Principal) => AuditEvent): Promise<Principal>;
}

/** Every kind of token, and logout for all of them through one list of revoked `jti`s. */
export class TokensByKind implements RevocableTokens {
  private readonly byType: Map<string, TokenKindVerifier>;

  constructor(kinds: ReadonlyArray<readonly [TokenKind, TokenKindVerifier]>, private readonly revoked: RevokedTokens) {
    this.byType = new Map(kinds.map(([kind, tokens]) => [kind.typ, tokens]));
  }

  verify(token: string): Promise<Principal> {
    return this.pick(token).verify(token);
  }

  async revoke(token: string, audit?: (principal: Principal) => AuditEvent): Promise<Principal> {
    const tokens = this.pick(token);
    const principal = await tokens.verify(token);
    const { jti, expiresAtMs } = await tokens.claims(token);
    await this.revoked.revoke(jti, expiresAtMs, audit?.(principal));
    return principal;
  }

  private pick(token: string): TokenKindVerifier {
    const tokens = this.byType.get(tokenTypeOf(token) ?? '');
    if (!tokens) throw errors.invalidToken();
    return tokens;
  }
}
