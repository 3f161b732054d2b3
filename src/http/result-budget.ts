/**
 * A request's result budget (issue 10 item 1) and how a truncated answer says so. The budget
 * defaults to `MAX_RESULT_ROWS` / `MAX_RESULT_BYTES`; `?max_rows=&max_bytes=` lowers it for anyone
 * and raises it for admins, up to `RESULT_ROWS_CEILING` / `RESULT_BYTES_CEILING`. A non-admin's
 * higher value is clamped to the default rather than refused, as is an admin's past the ceiling.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { CallOptions, ReadOptions, ResultBudget, Truncation } from '../data/engine.js';
import { principalOf } from './access.js';

export interface ResultLimits {
  defaults: ResultBudget;
  ceiling: ResultBudget;
}

/** Set on every answer the budget cut short: `rows` or `bytes`. */
export const TRUNCATED_HEADER = 'Duckgate-Truncated';

/** `?max_rows=&max_bytes=` as the route's schema parsed them. */
export interface BudgetQuery {
  max_rows?: number;
  max_bytes?: number;
}

export function resultBudget(request: FastifyRequest, limits: ResultLimits): ResultBudget {
  return budgetFor(principalOf(request).isAdmin, request.query as BudgetQuery, limits);
}

/** The budget asked for in `query`, by an admin or not (a WebSocket asks once, on its upgrade URL). */
export function budgetFor(isAdmin: boolean, { max_rows: rows, max_bytes: bytes }: BudgetQuery, limits: ResultLimits): ResultBudget {
  const upTo = isAdmin ? limits.ceiling : limits.defaults;
  return {
    maxRows: rows === undefined ? limits.defaults.maxRows : Math.min(rows, upTo.maxRows),
    maxBytes: bytes === undefined ? limits.defaults.maxBytes : Math.min(bytes, upTo.maxBytes),
  };
}

/** The deadline, for routes that answer no rows. */
export function callOptions(request: FastifyRequest): CallOptions {
  return { deadline: request.deadline };
}

/** The deadline and the result budget, for routes that answer rows. */
export function readOptions(request: FastifyRequest, limits: ResultLimits): ReadOptions {
  return { deadline: request.deadline, budget: resultBudget(request, limits) };
}

export function markTruncated(reply: FastifyReply, truncatedBy: Truncation | undefined): void {
  if (truncatedBy !== undefined) reply.header(TRUNCATED_HEADER, truncatedBy);
}
