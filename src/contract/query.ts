/** `POST /api/query` and the WebSocket's `query` message: SQL with optional parameters (seed 000). */
import { Type, type Static } from 'typebox';
import { RecordBody } from './records.js';

export const QueryParams = Type.Union([Type.Array(Type.Unknown()), Type.Record(Type.String(), Type.Unknown())], {
  description: 'Positional ($1, ?) as an array, or named ($name) as an object',
});

export const QueryBody = Type.Object({
  // Its length is the data layer's to judge (MAX_SQL_LENGTH → 400 statement_too_large).
  sql: Type.String({ minLength: 1 }),
  params: Type.Optional(QueryParams),
}, { additionalProperties: false });

export const QueryAnswer = Type.Object({
  result: Type.Array(RecordBody),
  columns: Type.Array(Type.String()),
  rowCount: Type.Integer(),
  elapsedMs: Type.Number(),
  truncated: Type.Boolean({ description: 'True when the result budget cut the answer short (header `Duckgate-Truncated` too)' }),
  truncatedBy: Type.Optional(Type.Union([Type.Literal('rows'), Type.Literal('bytes')])),
});

export type QueryBody = Static<typeof QueryBody>;
export type QueryAnswer = Static<typeof QueryAnswer>;
