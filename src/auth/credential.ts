/**
 * Reading a credential from request headers (CONTRACT.md §2). Only headers count: a credential in
 * the query string would end up in access logs, so it is never looked at.
 */
import { errors } from '../errors.js';

export type Credential =
  | { kind: 'jwt'; value: string }
  | { kind: 'managed-key'; value: string }
  /** Anything else: it can only be an environment key. */
  | { kind: 'opaque'; value: string };

export interface CredentialHeaders {
  authorization?: string | undefined;
  'x-api-key'?: string | string[] | undefined;
}

/** `dk_live_` / `dk_test_` + 32 URL-safe base64 characters (seed 002). */
export const MANAGED_KEY_PATTERN = /^dk_(live|test)_[A-Za-z0-9_-]{32}$/;
/** Three base64url parts; the signature may be empty (an `alg: none` token still goes down the JWT path and fails there). */
const JWT_PATTERN = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
/** Longer than any credential we issue or accept; refusing early keeps hashing cheap. */
const MAX_CREDENTIAL_LENGTH = 4096;

/** The presented credential, classified by shape. Throws 401 `missing_api_key` when there is none. */
export function readCredential(headers: CredentialHeaders): Credential {
  const value = bearerToken(headers.authorization) ?? apiKeyHeader(headers['x-api-key']);
  if (value === undefined) throw errors.missingApiKey();
  if (value.length > MAX_CREDENTIAL_LENGTH) throw errors.invalidApiKeyFormat();
  if (MANAGED_KEY_PATTERN.test(value)) return { kind: 'managed-key', value };
  if (JWT_PATTERN.test(value)) return { kind: 'jwt', value };
  return { kind: 'opaque', value };
}

/** `Bearer <token>`; the scheme's name is case-insensitive (RFC 7235 §2.1), so `bearer` counts too. */
function bearerToken(header: string | undefined): string | undefined {
  const match = header === undefined ? null : /^bearer[ \t]+(.*)$/is.exec(header);
  const token = match?.[1]!.trim();
  return token === undefined || token === '' ? undefined : token;
}

/**
 * Whether a value that matched no configured environment key could still have been meant as one:
 * at least as long as the shortest accepted environment key, less one dropped character. Such a
 * value is answered `invalid_api_key` (a wrong key), not `invalid_api_key_format`: a one-character
 * typo in an environment key is a wrong key, not a malformed one. Values shaped like a managed
 * key's prefix keep their format error, as their shape is fully known.
 */
export function couldBeEnvironmentKey(value: string): boolean {
  if (/^dk_(live|test)_/.test(value)) return false;
  return value.length >= MIN_ENVIRONMENT_KEY_LENGTH - 1;
}

/** The shortest environment key the configuration accepts (`src/config/parse.ts`, `secretKey`). */
export const MIN_ENVIRONMENT_KEY_LENGTH = 16;

function apiKeyHeader(header: string | string[] | undefined): string | undefined {
  // Node joins repeated unknown headers with ", "; an array only appears for set-cookie, but be exact anyway.
  const value = Array.isArray(header) ? header.join(', ') : header;
  const trimmed = value?.trim();
  return trimmed === undefined || trimmed === '' ? undefined : trimmed;
}
