/** The one error the client throws. Branch on `code` (CONTRACT.md §3), never on the message. */
export class DuckgateError extends Error {
  override readonly name = 'DuckgateError';
  /** The HTTP status; 0 when no answer came (network failure). */
  readonly status: number;
  /** The server's code (`invalid_token`, `forbidden`, …); `http_<status>` when the body had none; `network_error`. */
  readonly code: string;
  /** The server's `details` (schema violations), when present. */
  readonly details?: unknown;
  /** Seconds from `Retry-After` (a 429), when present. */
  readonly retryAfter?: number;

  constructor(init: { status: number; code: string; message: string; details?: unknown; retryAfter?: number; cause?: unknown }) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.status = init.status;
    this.code = init.code;
    if (init.details !== undefined) this.details = init.details;
    if (init.retryAfter !== undefined) this.retryAfter = init.retryAfter;
  }
}
