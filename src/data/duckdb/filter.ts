import { errors } from '../../errors.js';
import type { FindQuery, Json } from '../engine.js';
import type { DataLimits } from '../limits.js';
import type { SqlList, SqlParam } from './connections.js';
import { foldIdentifier } from '../identifiers.js';
import { isPlainObject } from './fields.js';
import { quoteIdent } from './names.js';
import { expectation, type Column, type TableSchema } from './schema.js';

export const DEFAULT_LIMIT = 100;
/** Deep enough for any hand-written filter, shallow enough that recursion cannot be abused. */
export const MAX_FILTER_DEPTH = 16;

export type FilterLimits = Pick<DataLimits, 'maxInValues' | 'maxFilterTerms'>;

const UNLIMITED: FilterLimits = { maxInValues: Infinity, maxFilterTerms: Infinity };

interface Compilation {
  params: SqlParam[];
  limits: FilterLimits;
  /** Nodes seen so far, conditions and And/Or groups alike. */
  terms: number;
}

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

/** A catalog type name safe to write into SQL as is: `DATE`, `TIMESTAMP WITH TIME ZONE`, `DECIMAL(18,3)`. */
const PLAIN_TYPE = /^[A-Z][A-Z0-9_]*(?: [A-Z][A-Z0-9_]*)*(?:\(\d+(?:, ?\d+)?\))?$/;

function pushParam(params: SqlParam[], value: SqlParam): string {
  params.push(value);
  return `$${params.length}`;
}

/** Candidate values grouped by the typed list each binds as; objects and arrays stay apart. */
function groupInValues(col: Column, values: readonly Json[]): { lists: Map<SqlList['of'], (string | number | boolean)[]>; documents: Json[] } {
  const lists = new Map<SqlList['of'], (string | number | boolean)[]>();
  const documents: Json[] = [];
  const add = (of: SqlList['of'], value: string | number | boolean): void => {
    const list = lists.get(of);
    if (list === undefined) lists.set(of, [value]);
    else list.push(value);
  };
  for (const value of values) {
    if (value !== null && typeof value === 'object') {
      if (col.kind !== 'json') throw invalidFilter(`Field '${col.name}' expects ${expectation(col.kind)}`);
      documents.push(value);
      continue;
    }
    // The same type rules as a single comparison (`operand`), value by value.
    const ok =
      col.kind === 'json' || col.kind === 'other' ||
      (col.kind === 'number' && typeof value === 'number') ||
      (col.kind === 'string' && typeof value === 'string') ||
      (col.kind === 'boolean' && typeof value === 'boolean');
    if (!ok) throw invalidFilter(`Field '${col.name}' expects ${expectation(col.kind)}`);
    if (typeof value === 'number') add('DOUBLE', value);
    else if (typeof value === 'string') add('VARCHAR', value);
    else add('BOOLEAN', value as boolean);
  }
  return { lists, documents };
}

/**
 * `In`: each group of same-typed values is ONE bound LIST parameter (`col = ANY($n)`, which DuckDB
 * runs as a hash semi-join), not one `OR` term per value: 20,000 values cost one parameter and
 * milliseconds. A JSON column compares through the same expression a single `Eq` would use.
 */
function compileIn(col: Column, values: readonly Json[], params: SqlParam[]): string {
  const name = quoteIdent(col.name);
  const { lists, documents } = groupInValues(col, values);
  const terms: string[] = [];
  for (const [of, list] of lists) {
    if (col.kind === 'other' && of === 'VARCHAR' && !PLAIN_TYPE.test(col.type)) {
      // Text against a list, struct or user-defined type: one Eq per value, as before (bounded
      // by MAX_IN_VALUES); no catalog type text is ever spliced into SQL unless it is plain.
      for (const value of list) terms.push(`${name} = ${pushParam(params, value)}`);
      continue;
    }
    params.push({ list, of });
    let rhs = `$${params.length}`;
    // DuckDB casts a single text parameter to a DATE (say) column's type, but will not compare a
    // DATE with a VARCHAR list: the list is cast to the column's type instead.
    if (col.kind === 'other' && of === 'VARCHAR') rhs = `CAST(${rhs} AS ${col.type}[])`;
    const lhs = col.kind !== 'json' ? name : of === 'DOUBLE' ? `TRY_CAST(${name} AS DOUBLE)` : of === 'BOOLEAN' ? `TRY_CAST(${name} AS BOOLEAN)` : `(${name} ->> '$')`;
    terms.push(`${lhs} = ANY(${rhs})`);
  }
  for (const document of documents) {
    const { lhs, rhs } = operand(col, document, params);
    terms.push(`${lhs} = ${rhs}`);
  }
  return terms.length === 1 ? terms[0]! : `(${terms.join(' OR ')})`;
}

/** `%`, `_` and the escape character itself, in user text, match only themselves. */
export function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/**
 * Contains, StartsWith, EndsWith: a LIKE whose pattern is the caller's text with every `%` and `_`
 * escaped, bound as a parameter (`ESCAPE '\\'`), so `50%` matches the text "50%" and nothing else.
 * Text fields only: a JSON field compares its string value, any other typed field its text form.
 */
function compileText(col: Column, operator: 'Contains' | 'StartsWith' | 'EndsWith', value: Json, params: SqlParam[]): string {
  if (typeof value !== 'string') throw invalidFilter(`Operator ${operator} on '${col.name}' needs a string value`);
  if (col.kind === 'number' || col.kind === 'boolean') throw invalidFilter(`Operator ${operator} on '${col.name}' needs a text field; it holds ${expectation(col.kind)}`);
  const name = quoteIdent(col.name);
  const lhs = col.kind === 'string' ? name : col.kind === 'json' ? `(${name} ->> '$')` : `CAST(${name} AS VARCHAR)`;
  const text = escapeLike(value);
  const pattern = operator === 'Contains' ? `%${text}%` : operator === 'StartsWith' ? `${text}%` : `%${text}`;
  return `${lhs} LIKE ${pushParam(params, pattern)} ESCAPE '\\'`;
}

function compile(table: TableSchema, filter: unknown, state: Compilation, depth: number): string {
  if (depth > MAX_FILTER_DEPTH) throw invalidFilter(`Filter nests deeper than ${MAX_FILTER_DEPTH} levels`);
  if (++state.terms > state.limits.maxFilterTerms) {
    throw errors.filterTooLarge(`The filter has more than ${state.limits.maxFilterTerms} terms (MAX_FILTER_TERMS)`);
  }
  const params = state.params;
  if (!isPlainObject(filter) || !isPlainObject(filter.content)) throw invalidFilter('Malformed filter: expected { type, content }');
  const content = filter.content;
  if (filter.type === 'Logical') {
    const operator = content.operator;
    if (operator !== 'And' && operator !== 'Or' && operator !== 'Not') throw invalidFilter(`Unknown logical operator '${String(operator)}'`);
    if (!Array.isArray(content.expressions)) throw invalidFilter('Logical filter needs an expressions array');
    if (operator === 'Not') {
      // ekoDB's QueryBuilder.not() wraps one condition: `{ operator: 'Not', expressions: [c] }`.
      if (content.expressions.length !== 1) throw invalidFilter('Logical Not takes exactly one expression');
      // IS NOT TRUE, not NOT: a record whose field is missing (NULL) does not match the inner
      // condition, so it matches its negation, as ekoDB's Ne and NotIn treat a missing field.
      return `((${compile(table, content.expressions[0], state, depth + 1)}) IS NOT TRUE)`;
    }
    if (content.expressions.length === 0) return operator === 'And' ? 'TRUE' : 'FALSE';
    const parts = content.expressions.map((e) => compile(table, e, state, depth + 1));
    return `(${parts.join(operator === 'And' ? ' AND ' : ' OR ')})`;
  }
  if (filter.type !== 'Condition') throw invalidFilter(`Unknown filter type '${String(filter.type)}'`);
  const col = column(table, content.field, 'filter');
  const operator = content.operator;
  const value = content.value === undefined ? null : content.value;
  if (operator === 'In' || operator === 'NotIn') {
    if (!Array.isArray(value)) throw invalidFilter(`Operator ${operator} on '${col.name}' needs an array value`);
    if (value.length > state.limits.maxInValues) {
      throw errors.filterTooLarge(`Operator ${operator} on '${col.name}' has ${value.length} values; at most ${state.limits.maxInValues} are allowed (MAX_IN_VALUES)`);
    }
    const candidates = value.filter((v) => v !== null);
    if (operator === 'In') return candidates.length === 0 ? 'FALSE' : compileIn(col, candidates, params);
    // A missing field is not in any list (Mongo's `$nin`, ekoDB's `nin`).
    return candidates.length === 0 ? 'TRUE' : `((${compileIn(col, candidates, params)}) IS NOT TRUE)`;
  }
  if (operator === 'Contains' || operator === 'StartsWith' || operator === 'EndsWith') {
    return compileText(col, operator, value, params);
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

/** `WHERE` body for a filter, appending its values to `params`; 400 `filter_too_large` past `limits`. */
export function compileFilter(table: TableSchema, filter: unknown, params: SqlParam[], limits: FilterLimits = UNLIMITED): string {
  return compile(table, filter, { params, limits, terms: 0 }, 1);
}

/**
 * ORDER BY for a page: the requested sort, then `id` as the tiebreaker (by `id` alone without a
 * sort), so `skip` pages neither repeat nor miss rows. A table without an `id` (made through raw
 * SQL) is ordered by its `projected` columns instead: only what the caller can see decides order.
 */
export function compileSort(table: TableSchema, sort: unknown, projected: readonly string[]): string {
  if (sort !== undefined && sort !== null && !Array.isArray(sort)) throw invalidFilter('sort must be an array of { field, ascending }');
  const seen = new Set<string>();
  const terms = ((sort ?? []) as unknown[]).map((term: unknown) => {
    if (!isPlainObject(term)) throw invalidFilter('sort must be an array of { field, ascending }');
    const col = column(table, term.field, 'sort');
    if (term.ascending !== undefined && typeof term.ascending !== 'boolean') throw invalidFilter(`sort.ascending for '${col.name}' must be a boolean`);
    seen.add(foldIdentifier(col.name));
    return `${quoteIdent(col.name)} ${term.ascending === false ? 'DESC' : 'ASC'}`;
  });
  const id = table.columns.get('id');
  const tiebreakers = id !== undefined ? [id.name] : projected;
  for (const name of tiebreakers) {
    if (!seen.has(foldIdentifier(name))) terms.push(`${quoteIdent(name)} ASC`);
  }
  return terms.length === 0 ? '' : ` ORDER BY ${terms.join(', ')}`;
}

/**
 * The projection: `id` is always there, unknown names are ignored (a permission's field list may
 * name fields a collection does not have yet), and only known column names ever reach SQL.
 * `sql` is the select list (`*` when nothing is left out), `columns` the catalog names it reads.
 */
export function projectionOf(table: TableSchema, fields: Pick<FindQuery, 'select_fields' | 'exclude_fields'> | undefined): { sql: string; columns: string[] } {
  const select = fields?.select_fields;
  const exclude = fields?.exclude_fields;
  const all = [...table.columns.values()].map((col) => col.name);
  if ((select === undefined || select === null) && (exclude === undefined || exclude === null || exclude.length === 0)) return { sql: '*', columns: all };
  if ((select !== undefined && select !== null && !Array.isArray(select)) || (exclude !== undefined && exclude !== null && !Array.isArray(exclude))) {
    throw invalidFilter('select_fields and exclude_fields must be arrays of field names');
  }
  const wanted = select === undefined || select === null ? undefined : new Set(select.map((f) => foldIdentifier(String(f))));
  const unwanted = new Set((exclude ?? []).map((f) => foldIdentifier(String(f))));
  const names: string[] = [];
  for (const [key, col] of table.columns) {
    if (key !== 'id' && ((wanted !== undefined && !wanted.has(key)) || unwanted.has(key))) continue;
    names.push(col.name);
  }
  return { sql: names.map(quoteIdent).join(', '), columns: names };
}

export function compileProjection(table: TableSchema, fields: Pick<FindQuery, 'select_fields' | 'exclude_fields'> | undefined): string {
  return projectionOf(table, fields).sql;
}

/**
 * A page: `limit` and `skip` as asked, validated. A `limit` above the result budget is not an
 * error (ekoDB's client counts with `limit: 100000`): the reader clamps it and says so.
 */
export function pageBounds(query: Pick<FindQuery, 'limit' | 'skip'>): { limit: number; skip: number } {
  const limit = query.limit ?? DEFAULT_LIMIT;
  const skip = query.skip ?? 0;
  if (!Number.isSafeInteger(limit) || limit < 0) throw errors.badRequest('invalid_query', 'limit must be a non-negative integer');
  if (!Number.isSafeInteger(skip) || skip < 0) throw errors.badRequest('invalid_query', 'skip must be a non-negative integer');
  return { limit, skip };
}
