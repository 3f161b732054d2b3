/**
 * PostgreSQL's own parser as a library (`libpg-query`: the server's parser compiled to
 * WebAssembly), so duckgate classifies and checks statements by the grammar PostgreSQL will run,
 * never by sniffing text.
 */
import { loadModule, parseSync } from 'libpg-query';
import { errors } from '../../errors.js';

export type PgNode = { [key: string]: unknown };

export interface ParsedStatement {
  /** The node's kind: `SelectStmt`, `InsertStmt`, `VariableSetStmt`… */
  kind: string;
  node: PgNode;
}

let loaded: Promise<void> | undefined;

/** The WebAssembly module loads once per process. */
export function loadParser(): Promise<void> {
  return (loaded ??= loadModule().catch((error: unknown) => {
    loaded = undefined;
    throw error;
  }));
}

/** Every statement of `sql`; 400 `sql_error` with PostgreSQL's message when it does not parse. */
export async function parseStatements(sql: string): Promise<ParsedStatement[]> {
  await loadParser();
  // PostgreSQL's parser refuses empty text with its own words; to a caller it is no statement at all.
  if (sql.trim() === '') return [];
  let tree: { stmts?: { stmt?: PgNode }[] };
  try {
    tree = parseSync(sql) as { stmts?: { stmt?: PgNode }[] };
  } catch (error) {
    throw errors.sqlError(`Parser Error: ${error instanceof Error ? error.message : String(error)}`);
  }
  return (tree.stmts ?? []).map((entry) => {
    const stmt = entry.stmt ?? {};
    const kind = Object.keys(stmt)[0] ?? 'Unknown';
    return { kind, node: (stmt[kind] ?? {}) as PgNode };
  });
}

/** Exactly one statement, or 400 `sql_error`. */
export async function parseOne(sql: string): Promise<ParsedStatement> {
  const statements = await parseStatements(sql);
  if (statements.length !== 1) throw errors.sqlError('Exactly one SQL statement is allowed');
  return statements[0]!;
}
