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

/** A stored record: any JSON object; `id` is always present on the way out. */
export const RecordBody = Type.Object({}, { additionalProperties: true, description: 'A JSON object' });
export const Records = Type.Array(RecordBody);

export const DbQuery = Type.Object({
  db: Type.Optional(Type.String({ description: 'Database name (default `default`)', maxLength: 63 })),
});

export const CollectionParams = Type.Object({ collection: Type.String({ maxLength: 64 }) });
export const RecordParams = Type.Object({ collection: Type.String({ maxLength: 64 }), id: Type.String({ maxLength: 256 }) });

export const Paging = Type.Object({
  db: Type.Optional(Type.String({ maxLength: 63 })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10000, default: 100 })),
  skip: Type.Optional(Type.Integer({ minimum: 0, default: 0 })),
});

export const JsonValue = Type.Unknown({ description: 'Any JSON value' });

export const BatchResult = Type.Object({
  successful: Type.Array(Type.String()),
  failed: Type.Array(Type.Object({ id: Type.Optional(Type.String()), error: Type.String() })),
});

export const StatusMessage = Type.Object({ status: Type.String(), message: Type.String() });

export type DbQueryT = Static<typeof DbQuery>;
