/**
 * Turns a credential into a principal, in CONTRACT.md §2's order:
 * JWT → managed keys → ADMIN_API_KEY → VALID_API_KEYS → DUCKLING_API_KEY.
 */
import { errors } from '../errors.js';
import { couldBeEnvironmentKey, type Credential } from './credential.js';
import type { EnvironmentKeys } from './environment-keys.js';
import type { Principal } from './principal.js';

/** Verifies exchanged and session JWTs; throws 401 `invalid_token` on any failure. */
export interface TokenVerifier {
  verify(token: string): Promise<Principal>;
}

/** Looks up a well-formed managed key; undefined when unknown, revoked or expired. */
export interface ManagedKeyVerifier {
  verify(key: string): Promise<Principal | undefined>;
}

export interface PrincipalSources {
  environmentKeys: EnvironmentKeys;
  managedKeys?: ManagedKeyVerifier;
  tokens?: TokenVerifier;
}

export async function resolvePrincipal(credential: Credential, sources: PrincipalSources): Promise<Principal> {
  switch (credential.kind) {
    case 'jwt':
      if (!sources.tokens) throw errors.invalidToken();
      return sources.tokens.verify(credential.value);
    case 'managed-key': {
      const managed = await sources.managedKeys?.verify(credential.value);
      // An environment key may itself be shaped like a managed key, so it is still a candidate.
      const principal = managed ?? sources.environmentKeys.match(credential.value);
      if (!principal) throw errors.invalidApiKey();
      return principal;
    }
    case 'opaque': {
      const principal = sources.environmentKeys.match(credential.value);
      if (!principal) throw couldBeEnvironmentKey(credential.value) ? errors.invalidApiKey() : errors.invalidApiKeyFormat();
      return principal;
    }
  }
}
