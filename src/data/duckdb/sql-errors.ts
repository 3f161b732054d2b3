import { ApiError, errors, isApiError } from '../../errors.js';

/** DuckDB's own message, without the JS stack: callers see what DuckDB said and nothing more. */
export function duckdbMessage(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.trim();
}

export function isConstraintViolation(error: unknown): boolean {
  return !isApiError(error) && /^Constraint Error: Duplicate key/.test(duckdbMessage(error));
}

/** Our own ApiErrors pass through untouched; anything DuckDB threw becomes a 400 `sql_error`. */
export function toApiError(error: unknown): ApiError {
  return isApiError(error) ? error : errors.sqlError(duckdbMessage(error));
}
