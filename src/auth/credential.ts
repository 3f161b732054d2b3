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

function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined || !header.startsWith('Bearer ')) return undefined;
  const token = header.slice('Bearer '.length).trim();
  return token === '' ? undefined : token;
}

function apiKeyHeader(header: string | string[] | undefined): string | undefined {
  // Node joins repeated unknown headers with ", "; an array only appears for set-cookie, but be exact anyway.
  const value = Array.isArray(header) ? header.join(', ') : header;
  const trimmed = value?.trim();
  return trimmed === undefined || trimmed === '' ? undefined : trimmed;
}
