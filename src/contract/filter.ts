/**
 * ekoDB's filter language (seed 003; the shapes its `QueryBuilder` builds in
 * `ekodb-client-ts/src/query-builder.ts`), as one recursive schema: a `Condition` on one field, or
 * a `Logical` group of filters. `Not` takes exactly one expression (the data layer refuses others).
 */
import { Type, type Static } from 'typebox';
import type { Json } from './json.js';

export const COMPARISON_OPERATORS = ['Eq', 'Ne', 'Gt', 'Gte', 'Lt', 'Lte', 'In', 'NotIn', 'Contains', 'StartsWith', 'EndsWith'] as const;
export const LOGICAL_OPERATORS = ['And', 'Or', 'Not'] as const;

export type ComparisonOperator = (typeof COMPARISON_OPERATORS)[number];
export type LogicalOperator = (typeof LOGICAL_OPERATORS)[number];

/** A JSON value (Json in `./json.ts`): validated as anything, typed as JSON. */
export const JsonValue = Type.Unsafe<Json>(Type.Unknown({ description: 'A JSON value' }));

export const ComparisonOperator = Type.Unsafe<ComparisonOperator>(Type.Union(COMPARISON_OPERATORS.map((op) => Type.Literal(op)), {
  description: 'Eq/Ne/Gt/Gte/Lt/Lte compare; In/NotIn take an array (at most MAX_IN_VALUES); Contains/StartsWith/EndsWith take text, matched literally (no wildcards)',
}));
export const LogicalOperator = Type.Unsafe<LogicalOperator>(Type.Union(LOGICAL_OPERATORS.map((op) => Type.Literal(op))));

export const Filter = Type.Cyclic({
  Filter: Type.Union([
    Type.Object({
      type: Type.Literal('Condition'),
      content: Type.Object({
        field: Type.String({ maxLength: 64 }),
        operator: ComparisonOperator,
        value: Type.Unsafe<Json>(Type.Unknown({ description: 'A JSON value; null with Eq/Ne means the field is absent/present' })),
      }),
    }),
    Type.Object({
      type: Type.Literal('Logical'),
      content: Type.Object({
        operator: LogicalOperator,
        expressions: Type.Array(Type.Ref('Filter'), { description: 'Not: exactly one' }),
      }),
    }),
  ], { description: 'ekoDB filter; at most MAX_FILTER_TERMS nodes, 16 levels deep' }),
}, 'Filter');

export type Filter = Static<typeof Filter>;
