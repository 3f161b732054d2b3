/**
 * The filter language, sort and projection compiled to PostgreSQL, with the rules of
 * `duckdb/filter.ts`: values are always parameters, only known columns reach SQL, the same type
 * checks, the same caps (MAX_FILTER_TERMS, MAX_IN_VALUES, depth 16). Text compares byte-wise
 * (`COLLATE "C"`) and NULLs sort last in both directions, as in DuckDB, so pages come in the same order.
 */
import { errors } from '../../errors.js';
import type { Json } from '../engine.js';
import type { DataLimits } from '../limits.js';
import { foldIdentifier } from '../identifiers.js';
import { isPlainObject } from '../duckdb/fields.js';
import { escapeLike, MAX_FILTER_DEPTH } from '../duckdb/filter.js';
import { quoteIdent } from '../duckdb/names.js';
import { expectation, type Column, type TableSchema } from '../duckdb/schema.js';

export type PgParam = null | boolean | number | string | readonly (string | number | boolean)[];

type FilterLimits = Pick<DataLimits, 'maxInValues' | 'maxFilterTerms'>;

interface Compilation {
  params: PgParam[];
  limits: FilterLimits;
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

function push(params: PgParam[], value: PgParam, cast = ''): string {
  params.push(value);
  return `$${params.length}${cast}`;
}

/** A JSON column's value seen as a number, a flag or text: what DuckDB's TRY_CAST and `->> '$'` give. */
function jsonAs(name: string, as: 'number' | 'string' | 'boolean'): string {
  if (as === 'string') return `(${name} #>> '{}') COLLATE "C"`;
  const type = as === 'number' ? 'double precision' : 'boolean';
  return `(CASE WHEN json_typeof(${name}) = '${as}' THEN (${name} #>> '{}')::${type} END)`;
}

function operand(col: Column, value: Json, params: PgParam[]): { lhs: string; rhs: string } {
  const name = quoteIdent(col.name);
  if (col.kind === 'json') {
    if (typeof value === 'number') return { lhs: jsonAs(name, 'number'), rhs: push(params, value, '::double precision') };
    if (typeof value === 'string') return { lhs: jsonAs(name, 'string'), rhs: push(params, value, '::text') };
    if (typeof value === 'boolean') return { lhs: jsonAs(name, 'boolean'), rhs: push(params, value, '::boolean') };
    return { lhs: `${name}::jsonb`, rhs: push(params, JSON.stringify(value), '::jsonb') };
  }
  const ok =
    col.kind === 'other'
      ? typeof value !== 'object'
      : (col.kind === 'number' && typeof value === 'number') ||
        (col.kind === 'string' && typeof value === 'string') ||
        (col.kind === 'boolean' && typeof value === 'boolean');
  if (!ok || value === null || typeof value === 'object') throw invalidFilter(`Field '${col.name}' expects ${expectation(col.kind)}`);
  if (col.kind === 'string') return { lhs: `${name} COLLATE "C"`, rhs: push(params, value) };
  return { lhs: name, rhs: push(params, value) };
}

/** `In`: one bound array per JSON type, whatever the number of values. */
function compileIn(col: Column, values: readonly Json[], params: PgParam[]): string {
  const name = quoteIdent(col.name);
  const groups = new Map<'number' | 'string' | 'boolean', (string | number | boolean)[]>();
  const documents: Json[] = [];
  for (const value of values) {
    if (value !== null && typeof value === 'object') {
      if (col.kind !== 'json') throw invalidFilter(`Field '${col.name}' expects ${expectation(col.kind)}`);
      documents.push(value);
      continue;
    }
    const ok =
      col.kind === 'json' || col.kind === 'other' ||
      (col.kind === 'number' && typeof value === 'number') ||
      (col.kind === 'string' && typeof value === 'string') ||
      (col.kind === 'boolean' && typeof value === 'boolean');
    if (!ok) throw invalidFilter(`Field '${col.name}' expects ${expectation(col.kind)}`);
    const of = typeof value as 'number' | 'string' | 'boolean';
    const group = groups.get(of);
    // Appended in place: copying the list per value made 20,000 values cost seconds before SQL ran.
    if (group === undefined) groups.set(of, [value as string | number | boolean]);
    else group.push(value as string | number | boolean);
  }
  const terms: string[] = [];
  const arrayType = { number: 'double precision[]', string: 'text[]', boolean: 'boolean[]' } as const;
  for (const [of, list] of groups) {
    const values = (cast: string): string => `ANY(${push(params, list, cast)})`;
    if (col.kind === 'json') terms.push(`${jsonAs(name, of)} = ${values(`::${arrayType[of]}`)}`);
    else if (col.kind === 'other') terms.push(`${name} = ANY(${push(params, list)})`);
    else if (col.kind === 'string') terms.push(`${name} COLLATE "C" = ${values('::text[]')}`);
    else terms.push(`${name} = ${values(`::${arrayType[of]}`)}`);
  }
  for (const document of documents) {
    const { lhs, rhs } = operand(col, document, params);
    terms.push(`${lhs} = ${rhs}`);
  }
  return terms.length === 1 ? terms[0]! : `(${terms.join(' OR ')})`;
}

/**
 * Contains, StartsWith, EndsWith as on DuckDB: LIKE with the caller's `%` and `_` escaped, bound as
 * a parameter; text fields (a JSON field by its string value, another typed field by its text).
 */
function compileText(col: Column, operator: 'Contains' | 'StartsWith' | 'EndsWith', value: Json, params: PgParam[]): string {
  if (typeof value !== 'string') throw invalidFilter(`Operator ${operator} on '${col.name}' needs a string value`);
  if (col.kind === 'number' || col.kind === 'boolean') throw invalidFilter(`Operator ${operator} on '${col.name}' needs a text field; it holds ${expectation(col.kind)}`);
  const name = quoteIdent(col.name);
  const lhs = col.kind === 'string' ? `${name} COLLATE "C"` : col.kind === 'json' ? jsonAs(name, 'string') : `(${name})::text COLLATE "C"`;
  const text = escapeLike(value);
  const pattern = operator === 'Contains' ? `%${text}%` : operator === 'StartsWith' ? `${text}%` : `%${text}`;
  return `${lhs} LIKE ${push(params, pattern, '::text')} ESCAPE '\\'`;
}

function compile(table: TableSchema, filter: unknown, state: Compilation, depth: number): string {
  if (depth > MAX_FILTER_DEPTH) throw invalidFilter(`Filter nests deeper than ${MAX_FILTER_DEPTH} levels`);
  if (++state.terms > state.limits.maxFilterTerms) {
    throw errors.filterTooLarge(`The filter has more than ${state.limits.maxFilterTerms} terms (MAX_FILTER_TERMS)`);
  }
  if (!isPlainObject(filter) || !isPlainObject(filter.content)) throw invalidFilter('Malformed filter: expected { type, content }');
  const content = filter.content;
  if (filter.type === 'Logical') {
    const operator = content.operator;
    if (operator !== 'And' && operator !== 'Or' && operator !== 'Not') throw invalidFilter(`Unknown logical operator '${String(operator)}'`);
    if (!Array.isArray(content.expressions)) throw invalidFilter('Logical filter needs an expressions array');
    if (operator === 'Not') {
      if (content.expressions.length !== 1) throw invalidFilter('Logical Not takes exactly one expression');
      // IS NOT TRUE: a missing field (NULL) matches the negation, as on DuckDB.
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
    if (operator === 'In') return candidates.length === 0 ? 'FALSE' : compileIn(col, candidates, state.params);
    return candidates.length === 0 ? 'TRUE' : `((${compileIn(col, candidates, state.params)}) IS NOT TRUE)`;
  }
  if (operator === 'Contains' || operator === 'StartsWith' || operator === 'EndsWith') {
    return compileText(col, operator, value, state.params);
  }
  if (typeof operator !== 'string' || !(operator in COMPARISON)) throw invalidFilter(`Unknown operator '${String(operator)}'`);
  if (value === null) {
    // JSON null stored in a JSON column is SQL NULL too (writes store null as NULL).
    if (operator === 'Eq') return `${quoteIdent(col.name)} IS NULL`;
    if (operator === 'Ne') return `${quoteIdent(col.name)} IS NOT NULL`;
    throw invalidFilter(`Operator ${operator} on '${col.name}' needs a non-null value`);
  }
  const { lhs, rhs } = operand(col, value, state.params);
  return `${lhs} ${COMPARISON[operator]} ${rhs}`;
}

export function compileFilter(table: TableSchema, filter: unknown, params: PgParam[], limits: FilterLimits): string {
  return compile(table, filter, { params, limits, terms: 0 }, 1);
}

/** How a column sorts: text byte-wise, JSON by its text (PostgreSQL's `json` has no order). */
function sortKey(col: Column): string {
  const name = quoteIdent(col.name);
  if (col.kind === 'string') return `${name} COLLATE "C"`;
  if (col.kind === 'json') return `(${name}::text) COLLATE "C"`;
  return name;
}

/** ORDER BY: the requested sort, then `id` (or every projected column) as tiebreaker; NULLs last. */
export function compileSort(table: TableSchema, sort: unknown, projected: readonly string[]): string {
  if (sort !== undefined && sort !== null && !Array.isArray(sort)) throw invalidFilter('sort must be an array of { field, ascending }');
  const seen = new Set<string>();
  const terms = ((sort ?? []) as unknown[]).map((term: unknown) => {
    if (!isPlainObject(term)) throw invalidFilter('sort must be an array of { field, ascending }');
    const col = column(table, term.field, 'sort');
    if (term.ascending !== undefined && typeof term.ascending !== 'boolean') throw invalidFilter(`sort.ascending for '${col.name}' must be a boolean`);
    seen.add(foldIdentifier(col.name));
    return `${sortKey(col)} ${term.ascending === false ? 'DESC' : 'ASC'} NULLS LAST`;
  });
  const id = table.columns.get('id');
  const tiebreakers = id !== undefined ? [id] : projected.map((name) => table.columns.get(foldIdentifier(name))!).filter(Boolean);
  for (const col of tiebreakers) {
    if (!seen.has(foldIdentifier(col.name))) terms.push(`${sortKey(col)} ASC NULLS LAST`);
  }
  return terms.length === 0 ? '' : ` ORDER BY ${terms.join(', ')}`;
}
