/**
 * Field-level rules applied inside data routes. Route access (may this principal read/write this
 * collection at all) is checked by the hooks in `authenticate.ts` before any handler runs; what
 * remains is shaping: which fields a read returns, which a write may touch, and what SQL may see.
 * These helpers turn a request into those decisions through the one evaluator, `auth/permissions.ts`.
 */
import type { FastifyRequest } from 'fastify';
import {
  assertFieldsReadable, assertWritableFields, fieldView, hasCollectionAccess, isFieldVisible, type FieldView, type WriteOptions,
} from '../auth/permissions.js';
import type { Principal } from '../auth/principal.js';
import type { Filter, JsonObject, QueryOptions, ReadPolicy } from '../data/engine.js';
import { databaseOf, principalOf } from './access.js';

/** The fields a read of `collection` may return, narrowed further by the caller's own request. */
export function readView(request: FastifyRequest, collection: string, requested?: FieldView): FieldView {
  return fieldView(principalOf(request), databaseOf(request.query), collection, requested);
}

/** `record` with only the fields `view` lets through. */
export function visibleFieldsOf(record: JsonObject, view: FieldView): JsonObject {
  if (!view.select_fields && !view.exclude_fields) return record;
  return Object.fromEntries(Object.entries(record).filter(([field]) => isFieldVisible(view, field)));
}

/**
 * The answer to a write is a read: with `read` on the collection, what a read would show; without
 * it, only `{ id }`, or a write-only key could read whole records by writing nothing (`PUT {}`).
 */
export function writeAnswer(request: FastifyRequest, collection: string, record: JsonObject): JsonObject {
  const principal = principalOf(request);
  if (!hasCollectionAccess(principal, 'read', databaseOf(request.query), collection)) return { id: record.id ?? null };
  return visibleFieldsOf(record, readView(request, collection));
}

/** Filters and sorts may only look at readable fields, or values would leak through them. */
export function assertQueryableFields(view: FieldView, collection: string, filter: Filter | undefined, sort: { field: string }[] | undefined): void {
  const fields = [...(filter ? filterFields(filter) : []), ...(sort ?? []).map((term) => term.field)];
  assertFieldsReadable(view, collection, fields);
}

/** 403 naming the first field outside the grant's `writable_fields` (`options.matchKey`: the sync routes). */
export function assertWritable(request: FastifyRequest, collection: string, records: Iterable<object>, options: WriteOptions = {}): void {
  const principal = principalOf(request);
  const database = databaseOf(request.query);
  for (const record of records) assertWritableFields(principal, database, collection, Object.keys(record), options);
}

/** Names the caller may read, out of `names`. */
export function readableOnly(request: FastifyRequest, names: string[]): string[] {
  const principal = principalOf(request);
  const database = databaseOf(request.query);
  return names.filter((name) => hasCollectionAccess(principal, 'read', database, name));
}

/**
 * How `POST /api/query` runs for this caller. Admins: anything (under DuckDB's locked
 * configuration). Full-data keys: row reads and writes, no DDL. Scoped keys: one SELECT through
 * the SQL guard, which sees only readable tables and, in them, only visible fields.
 */
export function sqlPolicy(request: FastifyRequest): Pick<QueryOptions, 'allowedStatements' | 'readPolicy'> {
  return sqlPolicyFor(principalOf(request), databaseOf(request.query));
}

/** `sqlPolicy` for a principal in a database, whatever the protocol (a WebSocket's query message too). */
export function sqlPolicyFor(principal: Principal, database: string): Pick<QueryOptions, 'allowedStatements' | 'readPolicy'> {
  if (principal.isAdmin) return {};
  if (principal.access.kind === 'all') return { allowedStatements: ['SELECT', 'INSERT', 'UPDATE', 'DELETE'] };
  const readPolicy: ReadPolicy = {
    view: (table) => (hasCollectionAccess(principal, 'read', database, table) ? fieldView(principal, database, table) : null),
  };
  return { allowedStatements: ['SELECT'], readPolicy };
}

function filterFields(filter: Filter): string[] {
  if (filter.type === 'Condition') return typeof filter.content?.field === 'string' ? [filter.content.field] : [];
  const expressions = Array.isArray(filter.content?.expressions) ? filter.content.expressions : [];
  return expressions.flatMap((expression) => (expression && typeof expression === 'object' ? filterFields(expression) : []));
}
