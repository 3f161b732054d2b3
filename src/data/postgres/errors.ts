import { ApiError, errors, isApiError } from '../../errors.js';
import { sqlState } from './session.js';

/** PostgreSQL's own message (no stack, no driver internals). */
export function pgMessage(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).trim();
}

/** The catalog moved under a cached schema (table or column gone): reload and try again. */
export function catalogMoved(error: unknown): boolean {
  const state = sqlState(error);
  return state === '42P01' || state === '42703';
}

export function isUniqueViolation(error: unknown): boolean {
  return sqlState(error) === '23505';
}

/** A value PostgreSQL refused (class 22: data exception; class 23: integrity constraint). */
export function isDataError(error: unknown): boolean {
  const state = sqlState(error);
  return state !== undefined && (state.startsWith('22') || state.startsWith('23'));
}

/** Our own ApiErrors pass through; anything PostgreSQL said becomes a 400 `sql_error`. */
export function toApiError(error: unknown): ApiError {
  if (isApiError(error)) return error;
  if (sqlState(error) !== undefined) return errors.sqlError(pgMessage(error));
  return errors.unavailable('The data engine (PostgreSQL) could not answer');
}
