import { errors } from '../../errors.js';
import type { Json } from '../engine.js';

/** Length is checked before anything parses the text, for every caller. */
export function assertSqlLength(sql: string, maxBytes: number): void {
  if (sql.length <= maxBytes / 3) return;
  const bytes = Buffer.byteLength(sql, 'utf8');
  if (bytes > maxBytes) throw errors.statementTooLarge(`SQL text is ${bytes} bytes; the limit is ${maxBytes} (MAX_SQL_LENGTH)`);
}

/** The caller's parameters as PostgreSQL takes them: positional only; objects and arrays as JSON text. */
export function toPgParams(params: Json[] | Record<string, Json> | undefined): unknown[] {
  if (params === undefined || params === null) return [];
  if (!Array.isArray(params)) {
    if (Object.keys(params).length === 0) return [];
    throw errors.sqlError('Named parameters are not supported on PostgreSQL: use $1, $2… with an array of params');
  }
  return params.map((value) => (value !== null && typeof value === 'object' ? JSON.stringify(value) : value));
}

