/**
 * duckgate issues two kinds of JWT: API tokens (exchanged for a key) and admin sessions (a login).
 * Each kind has its own audience and header `typ`, and its own verifier; this picks the verifier
 * by the header's `typ`, so a token is only ever checked by the rules of the kind it claims to be
 * (and fails there if it is not).
 */
import { errors } from '../errors.js';
import { tokenTypeOf, type TokenKind } from './jwt.js';
import type { Principal } from './principal.js';
import type { TokenVerifier } from './resolve-principal.js';

export interface RevocableTokens extends TokenVerifier {
  /** Ends `token` now (logout); answers whom it belonged to. 401 `invalid_token` if it was not valid. */
  revoke(token: string): Promise<Principal>;
}

export class TokensByKind implements RevocableTokens {
  private readonly byType: Map<string, RevocableTokens>;

  constructor(kinds: ReadonlyArray<readonly [TokenKind, RevocableTokens]>) {
    this.byType = new Map(kinds.map(([kind, tokens]) => [kind.typ, tokens]));
  }

  verify(token: string): Promise<Principal> {
    return this.pick(token).verify(token);
  }

  revoke(token: string): Promise<Principal> {
    return this.pick(token).revoke(token);
  }

  private pick(token: string): RevocableTokens {
    const tokens = this.byType.get(tokenTypeOf(token) ?? '');
    if (!tokens) throw errors.invalidToken();
    return tokens;
  }
}
