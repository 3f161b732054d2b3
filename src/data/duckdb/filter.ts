import { errors } from '../../errors.js';
import type { FindQuery, Json } from '../engine.js';
import type { SqlParam } from './connections.js';
import { foldIdentifier } from '../identifiers.js';
import { isPlainObject } from './fields.js';
import { quoteIdent } from './names.js';
import { expectation, type Column, type TableSchema } from './schema.js';

export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 10_000;
/** Deep enough for any hand-written filter, shallow enough that recursion cannot be abused. */
export const MAX_FILTER_DEPTH = 16;

const COMPARISON: Record<string, string> = { Eq: '=', Ne: '<>', Gt: '>', Gte: '>=', Lt: '<', Lte: '<=' };

function invalidFilter(message: string): Error {
  return errors.badRequest('invalid_filter', message);
}

function column(table: TableSchema, field: unknown, where: 'filter' | 'sort'): Column {
  if (typeof field !== 'string') throw invalidFilter(`Invalid field in ${where}`);
  const found = table.columns.get(foldIdentifier(field));
  if (found === undefined) throw invalidFilter(`Unknown field '${field}' in ${where}`);
  return found;
}

/**
 * The SQL operand a value compares against. Values are always parameters; only the column
 * expression varies, so JSON columns compare by the JSON type the caller sent.
 */
function operand(col: Column, value: Json, params: SqlParam[]): { lhs: string; rhs: string } {
  const name = quoteIdent(col.name);
  const push = (param: SqlParam, cast = ''): string => {
    params.push(param);
    return `$${params.length}${cast}`;
  };
  if (col.kind === 'json') {
    if (typeof value === 'number') return { lhs: `TRY_CAST(${name} AS DOUBLE)`, rhs: push(value) };
    if (typeof value === 'string') return { lhs: `(${name} ->> '$')`, rhs: push(value) };
    if (typeof value === 'boolean') return { lhs: `TRY_CAST(${name} AS BOOLEAN)`, rhs: push(value) };
    return { lhs: `json(${name})::VARCHAR`, rhs: `json(${push(JSON.stringify(value))})::VARCHAR` };
  }
  const ok =
    col.kind === 'other'
      ? typeof value !== 'object'
      : (col.kind === 'number' && typeof value === 'number') ||
        (col.kind === 'string' && typeof value === 'string') ||
        (col.kind === 'boolean' && typeof value === 'boolean');
  if (!ok || value === null || typeof value === 'object') {
    throw invalidFilter(`Field '${col.name}' expects ${expectation(col.kind)}`);
  }
  return { lhs: name, rhs: push(value) };
}

function compile(table: TableSchema, filter: unknown, params: SqlParam[], depth: number): string {
  if (depth > MAX_FILTER_DEPTH) throw invalidFilter(`Filter nests deeper than ${MAX_FILTER_DEPTH} levels`);
  if (!isPlainObject(filter) || !isPlainObject(filter.content)) throw invalidFilter('Malformed filter: expected { type, content }');
  const content = filter.content;
  if (filter.type === 'Logical') {
    const operator = content.operator;
    if (operator !== 'And' && operator !== 'Or') throw invalidFilter(`Unknown logical operator '${String(operator)}'`);
    if (!Array.isArray(content.expressions)) throw invalidFilter('Logical filter needs an expressions array');
    if (content.expressions.length === 0) return operator === 'And' ? 'TRUE' : 'FALSE';
    const parts = content.expressions.map((e) => compile(table, e, params, depth + 1));
    return `(${parts.join(operator === 'And' ? ' AND ' : ' OR ')})`;
  }
  if (filter.type !== 'Condition') throw invalidFilter(`Unknown filter type '${String(filter.type)}'`);
  const col = column(table, content.field, 'filter');
  const operator = content.operator;
  const value = content.value === undefined ? null : content.value;
  if (operator === 'In') {
    if (!Array.isArray(value)) throw invalidFilter(`Operator In on '${col.name}' needs an array value`);
    const candidates = value.filter((v) => v !== null);
    if (candidates.length === 0) return 'FALSE';
    const operands = candidates.map((v) => operand(col, v, params));
    return `(${operands.map(({ lhs, rhs }) => `${lhs} = ${rhs}`).join(' OR ')})`;
  }
  if (typeof operator !== 'string' || !(operator in COMPARISON)) throw invalidFilter(`Unknown operator '${String(operator)}'`);
  if (value === null) {
    // SQL's `= NULL` is never true; ekoDB's Eq null means "field absent", i.e. IS NULL.
    if (operator === 'Eq') return `${quoteIdent(col.name)} IS NULL`;
    if (operator === 'Ne') return `${quoteIdent(col.name)} IS NOT NULL`;
    throw invalidFilter(`Operator ${operator} on '${col.name}' needs a non-null value`);
  }
  const { lhs, rhs } = operand(col, value, params);
  return `${lhs} ${COMPARISON[operator]} ${rhs}`;
}

/** `WHERE` body for a filter, appending its values to `params`. */
export function compileFilter(table: TableSchema, filter: unknown, params: SqlParam[]): string {
  return compile(table, filter, params, 1);
}

export function compileSort(table: TableSchema, sort: unknown): string {
  if (sort === undefined || sort === null) return '';
  if (!Array.isArray(sort)) throw invalidFilter('sort must be an array of { field, ascending }');
  if (sort.length === 0) return '';
  const terms = sort.map((term: unknown) => {
    if (!isPlainObject(term)) throw invalidFilter('sort must be an array of { field, ascending }');
    const col = column(table, term.field, 'sort');
    if (term.ascending !== undefined && typeof term.ascending !== 'boolean') throw invalidFilter(`sort.ascending for '${col.name}' must be a boolean`);
    return `${quoteIdent(col.name)} ${term.ascending === false ? 'DESC' : 'ASC'}`;
  });
  return ` ORDER BY ${terms.join(', ')}`;
}

/**
 * The projection: `id` is always there, unknown names are ignored (a permission's field list may
 * name fields a collection does not have yet), and only known column names ever reach SQL.
 */
export function compileProjection(table: TableSchema, fields: Pick<FindQuery, 'select_fields' | 'exclude_fields'> | undefined): string {
  const select = fields?.select_fields;
  const exclude = fields?.exclude_fields;
  if ((select === undefined || select === null) && (exclude === undefined || exclude === null || exclude.length === 0)) return '*';
  if ((select !== undefined && select !== null && !Array.isArray(select)) || (exclude !== undefined && exclude !== null && !Array.isArray(exclude))) {
    throw invalidFilter('select_fields and exclude_fields must be arrays of field names');
  }
  const wanted = select === undefined || select === null ? undefined : new Set(select.map((f) => foldIdentifier(String(f))));
  const unwanted = new Set((exclude ?? []).map((f) => foldIdentifier(String(f))));
  const names: string[] = [];
  for (const [key, col] of table.columns) {
    if (key !== 'id' && ((wanted !== undefined && !wanted.has(key)) || unwanted.has(key))) continue;
    names.push(quoteIdent(col.name));
  }
  return names.join(', ');
}

export function pageBounds(query: Pick<FindQuery, 'limit' | 'skip'>): { limit: number; skip: number } {
  const limit = query.limit ?? DEFAULT_LIMIT;
  const skip = query.skip ?? 0;
  if (!Number.isSafeInteger(limit) || limit < 0) throw errors.badRequest('invalid_query', 'limit must be a non-negative integer');
  if (limit > MAX_LIMIT) throw errors.badRequest('invalid_query', `limit must be at most ${MAX_LIMIT}`);
  if (!Number.isSafeInteger(skip) || skip < 0) throw errors.badRequest('invalid_query', 'skip must be a non-negative integer');
  return { limit, skip };
}
