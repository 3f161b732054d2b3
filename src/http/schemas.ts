/** Schemas shared by several route files: one source for validation, types and `/openapi.json`. */
import { Type, type Static } from 'typebox';

export const ErrorBody = Type.Object(
  { error: Type.String(), code: Type.String(), details: Type.Optional(Type.Unknown()) },
  { $id: 'Error', description: 'Every error: CONTRACT.md §3' },
);

export const errorResponses = {
  400: Type.Ref('Error'),
  401: Type.Ref('Error'),
  403: Type.Ref('Error'),
  404: Type.Ref('Error'),
} as const;

/** Data routes add 408 `query_timeout`: every one of them runs under the request's deadline. */
export const dataErrorResponses = { ...errorResponses, 408: Type.Ref('Error') } as const;

/** A stored record: any JSON object; `id` is always present on the way out. */
export const RecordBody = Type.Object({}, { additionalProperties: true, description: 'A JSON object' });
export const Records = Type.Array(RecordBody);

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

export const BatchResult = Type.Object({
  successful: Type.Array(Type.String()),
  failed: Type.Array(Type.Object({ id: Type.Optional(Type.String()), error: Type.String() })),
});

export const StatusMessage = Type.Object({ status: Type.String(), message: Type.String() });

export type DbQueryT = Static<typeof DbQuery>;
