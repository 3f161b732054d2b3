/**
 * Scoped (non-admin) SQL on PostgreSQL. Until the PostgreSQL guard (a whole-tree walk of
 * libpg-query's tree with a function allow list and the projection rewrite) is in place, a scoped
 * caller's SQL is refused: failing closed is the only safe answer without it. Admins and full-data
 * keys are not guarded (as on DuckDB) and run through `query.ts`.
 */
import { ApiError } from '../../errors.js';
import type { Json, QueryResult, ReadPolicy, ResultBudget } from '../engine.js';
import type { PgContext } from './context.js';

export async function guardedQuery(
  _ctx: PgContext,
  _sql: string,
  _params: Json[] | Record<string, Json> | undefined,
  _policy: ReadPolicy,
  _budget: ResultBudget,
  _deadline: number | undefined,
): Promise<QueryResult> {
  throw new ApiError(403, 'forbidden', 'SQL for keys with scoped grants is not available on the PostgreSQL data engine yet; use the collection routes');
}
