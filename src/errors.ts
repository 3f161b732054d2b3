/**
 * The errors every layer throws; one HTTP error handler renders them as `{ error, code, details? }`.
 * Codes come from the closed catalogue in `contract/errors.ts` (the type admits no other); callers
 * branch on `code`, never on text.
 */
import type { ErrorCode } from './contract/errors.js';

export type { ErrorCode } from './contract/errors.js';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
    /** Response headers that belong to this error (`Retry-After` on a 429). */
    readonly headers?: Readonly<Record<string, string>>,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export type PermissionLevel = 'read' | 'write' | 'delete';

export const errors = {
  missingApiKey: () => new ApiError(401, 'missing_api_key', 'Missing API key'),
  invalidApiKeyFormat: () => new ApiError(401, 'invalid_api_key_format', 'Invalid API key format'),
  invalidApiKey: () => new ApiError(401, 'invalid_api_key', 'Invalid API key'),
  invalidToken: () => new ApiError(401, 'invalid_token', 'Invalid or expired token'),
  invalidCredentials: () => new ApiError(401, 'invalid_credentials', 'Invalid username or password'),
  ipDenied: () => new ApiError(403, 'ip_denied', 'Access denied from this IP address'),
  noPermission: (level: PermissionLevel, collection: string) =>
    new ApiError(403, 'forbidden', `No ${level} permission for collection ${collection}`),
  adminRequired: () => new ApiError(403, 'forbidden', 'Admin access required'),
  rateLimited: (retryAfterSeconds: number) =>
    new ApiError(429, 'rate_limited', 'Rate limit exceeded', undefined, { 'Retry-After': String(Math.max(1, Math.ceil(retryAfterSeconds))) }),
  tooManyInFlight: () => new ApiError(429, 'too_many_in_flight', 'Too many requests in flight for this client', undefined, { 'Retry-After': '1' }),

  notFound: (message: string) => new ApiError(404, 'not_found', message),
  conflict: (message: string) => new ApiError(409, 'conflict', message),
  badRequest: (code: ErrorCode, message: string, details?: unknown) => new ApiError(400, code, message, details),
  sqlError: (message: string) => new ApiError(400, 'sql_error', message),
  /** The request's deadline (QUERY_TIMEOUT_MS from its arrival) passed. */
  queryTimeout: () => new ApiError(408, 'query_timeout', 'Request cancelled at its deadline (QUERY_TIMEOUT_MS)'),
  unavailable: (message: string) => new ApiError(503, 'unavailable', message),

  // Resource budgets (issue 10): each names the limit so a client knows what to change.
  /** One row alone is over the byte budget: there is no row boundary to truncate at. */
  resultTooLarge: (maxBytes: number) =>
    new ApiError(400, 'result_too_large', `A single row is larger than the result budget of ${maxBytes} bytes`),
  statementTooLarge: (message: string) => new ApiError(400, 'statement_too_large', message),
  filterTooLarge: (message: string) => new ApiError(400, 'filter_too_large', message),
  tooManyFields: (message: string) => new ApiError(400, 'too_many_fields', message),
  /** An ekoDB option duckgate does not implement (`ttl`, `transaction_id`): refused, never ignored. */
  unsupportedOption: (message: string) => new ApiError(400, 'unsupported_option', message),

  // Source sync (issue 15).
  /** One sync per database at a time. */
  syncRunning: (database: string) => new ApiError(409, 'sync_running', `A sync of database '${database}' is already running`),
  noSource: (database: string) => new ApiError(409, 'no_source', `Database '${database}' has no source (set one with PUT /api/databases/${database})`),
  /** The source refused the connection or a query: the message says why (never the password). */
  sourceUnavailable: (message: string) => new ApiError(502, 'source_unavailable', message),
} as const;

export function isApiError(value: unknown): value is ApiError {
  return value instanceof ApiError;
}
