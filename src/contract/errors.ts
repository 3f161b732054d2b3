/**
 * The closed catalogue of error codes (CONTRACT.md §3): every `code` the server can answer, with its
 * HTTP status and what it means. `src/errors.ts` builds errors only from these codes (its types
 * allow nothing else, and `test/contract/errors.test.ts` checks every code written in `src/`); the
 * README's Errors table (`npm run docs:errors`) and the `code` enum of `/openapi.json` are generated
 * from this list, so they cannot drift. Adding a code means adding it here.
 */
import { Type, type Static } from 'typebox';

export interface ErrorCodeInfo {
  readonly status: number;
  /** One line for the README: when a client meets it. */
  readonly meaning: string;
}

export const ERROR_CATALOGUE = {
  bad_request: { status: 400, meaning: 'a request that cannot be read at all: malformed HTTP, an unknown WebSocket message type' },
  invalid_json: { status: 400, meaning: 'the body is not valid JSON, is empty on a POST or PUT, or has a prototype property' },
  invalid_msgpack: { status: 400, meaning: 'a `application/msgpack` body that is not valid MessagePack, or holds what JSON cannot (binary, extension types, non-string map keys, `__proto__`)' },
  json_too_deep: { status: 400, meaning: 'the body (JSON or MessagePack) nests deeper than `MAX_JSON_DEPTH`' },
  invalid_content_length: { status: 400, meaning: '`Content-Length` does not match the body' },
  validation_failed: { status: 400, meaning: "the body, query or path breaks the route's schema (`details` lists each problem); body types are never coerced (`\"5\"` is not 5)" },
  unsupported_option: { status: 400, meaning: 'an ekoDB option duckgate does not implement: `ttl` on a write, `transaction_id`; nothing is written' },
  invalid_name: { status: 400, meaning: 'a collection, field or database name is not an identifier' },
  invalid_record: { status: 400, meaning: "a value does not fit its column's type, or a sync record is bad (the message names it)" },
  invalid_filter: { status: 400, meaning: 'a malformed filter, a filter/sort on an unknown field, or a value of the wrong type for its operator' },
  invalid_query: { status: 400, meaning: '`limit`, `skip` or `offset` not a whole number ≥ 0' },
  result_too_large: { status: 400, meaning: 'one row alone is larger than the byte budget (`MAX_RESULT_BYTES`, or `?max_bytes`): there is no row boundary to truncate at' },
  statement_too_large: { status: 400, meaning: "SQL longer than `MAX_SQL_LENGTH`, or a scoped key's statement over `MAX_SQL_NODES`, `MAX_SQL_TABLE_REFS` or `MAX_SQL_DEPTH`" },
  filter_too_large: { status: 400, meaning: 'an `In`/`NotIn` with more than `MAX_IN_VALUES` values, or a filter with more than `MAX_FILTER_TERMS` terms' },
  too_many_fields: { status: 400, meaning: 'a write would add more than `MAX_NEW_FIELDS_PER_WRITE` fields, or grow a collection past `MAX_COLUMNS_PER_COLLECTION` columns; nothing is written' },
  invalid_permissions: { status: 400, meaning: 'unknown level, or a contradiction: no level named, field rules on a grant with no level, a field both selected and excluded, one name spelt twice (nothing is stored)' },
  invalid_key: { status: 400, meaning: 'a bad label, `expires_at`, `rate_limit`, `allowed_ips` or `grace_seconds`' },
  sql_error: { status: 400, meaning: "DuckDB refused the SQL; the message is DuckDB's" },
  invalid_source: { status: 400, meaning: 'a source URL that is not `mysql://` or `mariadb://` with a user, host and database (the message never repeats the password)' },
  invalid_backup_id: { status: 400, meaning: 'a backup id that is not one duckgate made (`<database>-<UTC time>-<6 hex>`)' },
  backup_unsupported: { status: 400, meaning: 'a restore of a backup the data engine cannot load: a DuckDB file (`checkpoint-copy`) with DATA_URL, or a PostgreSQL dump (`postgres-dump`) without it; nothing is restored' },
  not_a_token: { status: 400, meaning: '`POST /api/logout` with an API key (revoke keys with `DELETE /api/auth/keys/:key_id`)' },
  missing_api_key: { status: 401, meaning: 'no `x-api-key`, and no `Authorization: Bearer …` (scheme in any case); with `?api_key=` (or `token`, `key`, `apikey`, `access_token`) in the URL the message says that it is ignored and where the key goes' },
  invalid_api_key_format: { status: 401, meaning: 'not a JWT, not `dk_live_`/`dk_test_` + 32 characters, and under 15 characters (too short to be an environment key, even mistyped)' },
  invalid_api_key: { status: 401, meaning: 'a well-formed managed key that is unknown, revoked, expired or regenerated (`API key not found or revoked` on `/api/auth/token`); any other string of 15 or more characters that is no configured environment key (a mistyped one)' },
  invalid_token: { status: 401, meaning: 'a JWT that does not verify, has expired or was logged out, or whose key or password changed' },
  invalid_credentials: { status: 401, meaning: '`POST /api/login` with a wrong username or password (body `{ success: false, error, code }`)' },
  ip_denied: { status: 403, meaning: "the client IP is not in `ALLOWED_IPS`, or not in the key's own `allowed_ips`" },
  forbidden: { status: 403, meaning: '`Admin access required`, `No <level> permission for collection <name>`, a field the key may not read or write, or a statement it may not run' },
  not_found: { status: 404, meaning: 'unknown database, collection, record or route (or one the caller cannot see)' },
  query_timeout: { status: 408, meaning: 'a data request ran past `QUERY_TIMEOUT_MS` after its arrival (queueing included) and was cancelled; a write it interrupted is rolled back' },
  request_timeout: { status: 408, meaning: "the request's headers or body did not arrive within `HEADERS_TIMEOUT_MS` / `REQUEST_RECEIVE_TIMEOUT_MS`; the connection is closed" },
  conflict: { status: 409, meaning: 'duplicate id, existing database, dropping `default`, revoking the last admin key' },
  sync_running: { status: 409, meaning: 'a sync (or validation, or clear-all) of that database is already running: one at a time per database' },
  no_source: { status: 409, meaning: 'a sync route, or a sync schedule, on a database that has no source' },
  payload_too_large: { status: 413, meaning: 'body over `BODY_LIMIT`' },
  unsupported_media_type: { status: 415, meaning: 'a body that is not `application/json` (or `application/msgpack` on the record routes)' },
  rate_limited: { status: 429, meaning: "over `API_RATE_LIMIT` (or the key's `rate_limit`), too many failed authentications from one IP, or a throttled login; `Retry-After` says when to come back" },
  too_many_in_flight: { status: 429, meaning: 'the client already has `MAX_IN_FLIGHT_PER_CLIENT` requests running and `MAX_QUEUED_PER_CLIENT` waiting; `Retry-After: 1`' },
  backup_verification_failed: { status: 422, meaning: "a restore whose file's SHA-256, or a table's row count or checksum, differs from the backup's manifest; nothing is restored (`details` lists each difference)" },
  headers_too_large: { status: 431, meaning: 'request headers over `MAX_HEADER_SIZE`' },
  internal_error: { status: 500, meaning: 'an unexpected failure; its details go to the server log, never to the client' },
  source_unavailable: { status: 502, meaning: 'the source cannot be reached or refused a query (`POST /api/databases/:name/test`, `GET /sync/validate`), or the stored source password cannot be decrypted' },
  unavailable: { status: 503, meaning: 'a dependency (a database, the control store) cannot answer now; retry' },
  insufficient_storage: { status: 507, meaning: 'a backup or restore would leave less than `BACKUP_MIN_FREE` free' },
} as const satisfies Record<string, ErrorCodeInfo>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;
export const ERROR_CODES = Object.keys(ERROR_CATALOGUE) as ErrorCode[];

export function isErrorCode(value: string): value is ErrorCode {
  return Object.hasOwn(ERROR_CATALOGUE, value);
}

/** Every error answer: `{ error, code, details? }`. */
export const ErrorBody = Type.Object(
  {
    error: Type.String({ description: 'For people: what went wrong and, where it helps, what to change' }),
    code: Type.Unsafe<ErrorCode>(Type.String({ enum: ERROR_CODES, description: 'For programs: stable, from the closed catalogue (README, Errors)' })),
    details: Type.Optional(Type.Unknown()),
  },
  { $id: 'Error', description: 'Every error: CONTRACT.md §3' },
);
export type ErrorBody = Static<typeof ErrorBody>;

/** The README's Errors table (`npm run docs:errors` writes it between its markers). */
export function renderErrorsTable(): string {
  const rows = ERROR_CODES.map((code, order) => ({ code, order, ...ERROR_CATALOGUE[code] }))
    .sort((a, b) => a.status - b.status || a.order - b.order)
    .map((row) => `| ${row.status} | \`${row.code}\` | ${row.meaning} |`);
  return ['| status | code | when |', '|---|---|---|', ...rows].join('\n');
}
