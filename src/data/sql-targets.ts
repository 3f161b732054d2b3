/**
 * Which table a SQL write targets, for the record cache's invalidation. The SQL guard's parse
 * (`json_serialize_sql`) and DuckDB's `getTableNames` only understand SELECT, and a plan does not
 * name an INSERT's target, so the target is read from the statement's text: only when the text
 * starts exactly as `INSERT INTO <name>`, `UPDATE <name>` or `DELETE FROM <name>` (optional
 * catalog and schema, plain or double-quoted identifiers, nothing between the keywords and the
 * name). Anything else (a comment, a CTE, a non-ASCII bare name) answers undefined and the caller
 * treats the statement as touching the whole database. DuckDB has no triggers, cascades or
 * updatable views, so such a statement writes exactly the table it names.
 */
import type { StatementKind } from './engine.js';

const NAME = String.raw`(?:"(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)`;
const QUALIFIED = String.raw`(${NAME}(?:\s*\.\s*${NAME}){0,2})`;
const AFTER = String.raw`(?=\s|\(|;|$)`;

const PATTERNS: Partial<Record<StatementKind, RegExp>> = {
  INSERT: new RegExp(String.raw`^\s*INSERT\s+(?:OR\s+(?:REPLACE|IGNORE)\s+)?INTO\s+${QUALIFIED}${AFTER}`, 'i'),
  UPDATE: new RegExp(String.raw`^\s*UPDATE\s+${QUALIFIED}${AFTER}`, 'i'),
  DELETE: new RegExp(String.raw`^\s*DELETE\s+FROM\s+${QUALIFIED}${AFTER}`, 'i'),
};

const SEGMENT = new RegExp(NAME, 'g');

/** The table (unqualified, unquoted) a DML statement of `kind` writes, or undefined when it cannot be told for sure. */
export function writeTarget(sql: string, kind: StatementKind): string | undefined {
  const pattern = PATTERNS[kind];
  const match = pattern?.exec(sql);
  if (!match) return undefined;
  const segments = match[1]!.match(SEGMENT);
  const last = segments?.[segments.length - 1];
  if (last === undefined) return undefined;
  return last.startsWith('"') ? last.slice(1, -1).replaceAll('""', '"') : last;
}
