/**
 * HTTP-only schemas shared by several route files (query strings, path parameters, error
 * responses). The wire bodies themselves live in `src/contract/` and are re-exported here.
 */
import { Type, type Static } from 'typebox';

export { ErrorBody, RecordBody, Records, BatchResult, StatusMessage } from '../contract/index.js';

export const errorResponses = {
  400: Type.Ref('Error'),
  401: Type.Ref('Error'),
  403: Type.Ref('Error'),
  404: Type.Ref('Error'),
} as const;

/** Data routes add 408 `query_timeout`: every one of them runs under the request's deadline. */
export const dataErrorResponses = { ...errorResponses, 408: Type.Ref('Error') } as const;


export const DbQuery = Type.Object({
  db: Type.Optional(Type.String({ description: 'Database name (default `default`)', maxLength: 63 })),
});

/** The result budget's query parameters, on every route that answers rows (see `result-budget.ts`). */
export const BudgetParams = {
  max_rows: Type.Optional(Type.Integer({ minimum: 1, description: 'Lower the row budget (admins: raise it up to RESULT_ROWS_CEILING)' })),
  max_bytes: Type.Optional(Type.Integer({ minimum: 1, description: 'Lower the byte budget in bytes (admins: raise it up to RESULT_BYTES_CEILING)' })),
};

/** `?db=` and the result budget. */
export const ReadQuery = Type.Object({
  db: Type.Optional(Type.String({ description: 'Database name (default `default`)', maxLength: 63 })),
  ...BudgetParams,
});

export const CollectionParams = Type.Object({ collection: Type.String({ maxLength: 64 }) });
export const RecordParams = Type.Object({ collection: Type.String({ maxLength: 64 }), id: Type.String({ maxLength: 256 }) });

/** A `limit` above the row budget is clamped to it (the answer says so), not refused. */
export const Paging = Type.Object({
  db: Type.Optional(Type.String({ maxLength: 63 })),
  limit: Type.Optional(Type.Integer({ minimum: 1, default: 100 })),
  skip: Type.Optional(Type.Integer({ minimum: 0, default: 0 })),
  ...BudgetParams,
});

export const JsonValue = Type.Unknown({ description: 'Any JSON value' });


export type DbQueryT = Static<typeof DbQuery>;
