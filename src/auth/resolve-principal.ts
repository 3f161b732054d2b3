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

/**
 * The principal `credential` stands for; throws 401s (synchronously for an environment key, which
 * is answered from memory without a promise; through the promise otherwise).
 */
export function resolvePrincipal(credential: Credential, sources: PrincipalSources): Principal | Promise<Principal> {
  switch (credential.kind) {
    case 'jwt':
      if (!sources.tokens) throw errors.invalidToken();
      return sources.tokens.verify(credential.value);
    case 'managed-key':
      return managedOrEnvironment(credential.value, sources);
    case 'opaque': {
      const principal = sources.environmentKeys.match(credential.value);
      if (!principal) throw couldBeEnvironmentKey(credential.value) ? errors.invalidApiKey() : errors.invalidApiKeyFormat();
      return principal;
    }
  }
}

async function managedOrEnvironment(key: string, sources: PrincipalSources): Promise<Principal> {
  const managed = await sources.managedKeys?.verify(key);
  // An environment key may itself be shaped like a managed key, so it is still a candidate.
  const principal = managed ?? sources.environmentKeys.match(key);
  if (!principal) throw errors.invalidApiKey();
  return principal;
}
