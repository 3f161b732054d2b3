/** Records, find bodies and batch answers: ekoDB's shapes (seed 003, CONTRACT.md §5 "Records"). */
import { Type, type Static } from 'typebox';
import { Filter } from './filter.js';

/** A stored record: any JSON object; `id` is always present on the way out. */
export const RecordBody = Type.Object({}, { additionalProperties: true, description: 'A JSON object' });
export const Records = Type.Array(RecordBody);

export const FieldList = Type.Array(Type.String({ maxLength: 64 }), { maxItems: 1000 });

export const SortField = Type.Object({ field: Type.String({ maxLength: 64 }), ascending: Type.Optional(Type.Boolean({ description: 'Default true' })) });

/** Body of `POST /api/find/:collection`. */
export const FindBody = Type.Object(
  {
    filter: Type.Optional(Filter),
    sort: Type.Optional(Type.Array(SortField, { maxItems: 16 })),
    // Above the row budget: clamped to it, with `Duckgate-Truncated: rows` when rows were left out.
    limit: Type.Optional(Type.Integer({ minimum: 1, description: 'Above the row budget: clamped to it (header Duckgate-Truncated: rows)' })),
    skip: Type.Optional(Type.Integer({ minimum: 0 })),
    select_fields: Type.Optional(FieldList),
    exclude_fields: Type.Optional(FieldList),
    // ekoDB's QueryBuilder sends these (bypassCache(), bypassRipple()): accepted, ignored.
    bypass_cache: Type.Optional(Type.Boolean({ description: "ekoDB's cache flag: accepted and ignored" })),
    bypass_ripple: Type.Optional(Type.Boolean({ description: "ekoDB's replication flag: accepted and ignored" })),
  },
  { additionalProperties: false },
);

export const BatchResult = Type.Object({
  successful: Type.Array(Type.String()),
  failed: Type.Array(Type.Object({ id: Type.Optional(Type.String()), error: Type.String() })),
});

export const DeleteResult = Type.Object({ status: Type.String(), message: Type.String(), id: Type.String() });
export const StatusMessage = Type.Object({ status: Type.String(), message: Type.String() });

export type SortField = Static<typeof SortField>;
export type FindBody = Static<typeof FindBody>;
export type BatchResult = Static<typeof BatchResult>;
export type DeleteResult = Static<typeof DeleteResult>;
export type StatusMessage = Static<typeof StatusMessage>;
