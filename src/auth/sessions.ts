/**
 * Admin sessions: the JWT `POST /api/login` answers with (seed 000), for the dashboard. Its
 * audience and `typ` differ from API tokens', so neither is accepted as the other. A session names
 * its user and the account's generation, which every password change moves: changing the password
 * ends every session. `POST /api/logout` ends one session by its `jti`.
 */
import { errors } from '../errors.js';
import type { AccountStore, AdminAccount } from '../store/account-store.js';
import type { CredentialCaches } from './credential-cache.js';
import { signToken, verifyToken, VerifiedTokens, type SigningSecrets, type TokenKind } from './jwt.js';
import type { Principal } from './principal.js';
import type { RevokedTokens } from './revoked-tokens.js';
import type { TokenKindVerifier } from './token-kinds.js';

export const SESSION_TOKEN: TokenKind = { audience: 'duckgate:session', typ: 'dk-session+jwt' };

export interface SessionOptions extends SigningSecrets {
  /** Where verified sessions are cached (the replica's credential cache); by default one of its own. */
  caches?: CredentialCaches;
  /** JWT_EXPIRES_IN, seconds. */
  lifetimeSeconds: number;
  /** ADMIN_USERNAME: sessions of any other user (a renamed admin) are refused. */
  username: string;
  accounts: AccountStore;
  revoked: RevokedTokens;
}

interface SessionClaims {
  username: string;
  generation: number;
  jti: string;
  expiresAtMs: number;
}

export class SessionTokens implements TokenKindVerifier {
  private readonly verified: VerifiedTokens<SessionClaims>;

  constructor(private readonly options: SessionOptions) {
    this.verified = new VerifiedTokens((token) => this.verifyClaims(token), options.revoked, options.caches?.namespace<SessionClaims>('session-token') ?? { namespace: 'session-token', capacity: 1000 });
  }

  async issue(account: AdminAccount): Promise<{ token: string; expiresAtMs: number }> {
    const { token, expiresAtMs } = await signToken(SESSION_TOKEN, this.options, account.username, this.options.lifetimeSeconds, { claims: { gen: account.generation } });
    return { token, expiresAtMs };
  }

  async verify(token: string): Promise<Principal> {
    const claims = await this.verified.get(token);
    if (claims.username !== this.options.username) throw errors.invalidToken();
    const account = await this.options.accounts.getAccount(claims.username);
    if (!account || account.generation !== claims.generation) throw errors.invalidToken();
    return sessionPrincipal(account, claims.expiresAtMs);
  }

  claims(token: string): Promise<SessionClaims> {
    return this.verified.get(token);
  }

  private async verifyClaims(token: string): Promise<SessionClaims> {
    const payload = await verifyToken(token, SESSION_TOKEN, this.options);
    if (typeof payload.gen !== 'number') throw errors.invalidToken();
    return { username: payload.sub, generation: payload.gen, jti: payload.jti, expiresAtMs: payload.exp * 1000 };
  }
}

/** An admin user: every collection of every database, like an admin key; rate-limited as `user:<name>`. */
export function sessionPrincipal(account: AdminAccount, tokenExpiresAt: number): Principal {
  return {
    id: `user:${account.username}`,
    kind: 'session',
    isAdmin: true,
    access: { kind: 'all' },
    label: account.username,
    authMethod: 'jwt',
    generation: String(account.generation),
    username: account.username,
    tokenExpiresAt,
  };
}
