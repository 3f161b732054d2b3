/**
 * A `postgres-dump` file loaded as one duckgate database, all or nothing: one transaction builds
 * the tables in a scratch schema, loads and checks every row against the file's own digests and
 * the manifest's, adds constraints, indexes and views, then renames the scratch schema into place
 * (over the old one, with `replace`, whose privileges it takes over). Until COMMIT nobody sees the
 * scratch schema; readers of the old one finish on it, and a statement that arrives during the swap
 * waits for the commit and then reads the new tables. Any damage (a cut-short file, a changed row,
 * a checksum that differs) rolls everything back: 422 `backup_verification_failed`.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import { createGunzip } from 'node:zlib';
import { errors } from '../../errors.js';
import { compareChecks, verificationFailed } from '../backup/checks.js';
import type { TableCheck } from '../engine.js';
import { quoteIdent } from '../duckdb/names.js';
import { parseHeader, storedColumns, TableDigest, type DumpColumn, type DumpHeader, type DumpTable } from './dump-format.js';
import { setDumpSession } from './dump.js';
import { qualified } from './schema.js';
import { sqlState, type Client } from './session.js';

/** Rows per INSERT: one array parameter per column, so the statement stays a few hundred KB. */
const BATCH_ROWS = 2000;

export interface LoadRequest {
  /** The duckgate database name (for messages). */
  database: string;
  /** The schema the database lives in (made, or replaced with `replace`). */
  schema: string;
  replace: boolean;
  /** The manifest's tables: any difference from the file is a verification failure. */
  expected: readonly TableCheck[];
  /**
   * Runs inside the transaction once the new schema is in place under its final name, before
   * COMMIT: where grants that the engine keeps on its schemas belong (a reader role's USAGE and
   * SELECT, for one), so nobody ever sees the restored schema without them.
   */
  afterLoad?: (client: Client, schema: string) => Promise<void>;
}

/** Loads the dump at `source`; answers whether an existing schema was replaced. */
export async function loadDump(client: Client, source: string, request: LoadRequest): Promise<boolean> {
  const scratch = scratchName(request.schema);
  await client.query('BEGIN');
  try {
    await setDumpSession(client, scratch);
    const existing = await schemaExists(client, request.schema);
    if (existing && !request.replace) {
      throw errors.conflict(`Database '${request.database}' exists; restore into a new name, or pass replace: true to overwrite it`);
    }
    await client.query(`CREATE SCHEMA ${quoteIdent(scratch)}`);
    try {
      await loadFile(client, source, scratch, request.expected);
    } catch (error) {
      throw asVerificationFailure(error);
    }
    if (existing) {
      const aside = scratchName(request.schema);
      await copyPrivileges(client, request.schema, scratch);
      await client.query(`ALTER SCHEMA ${quoteIdent(request.schema)} RENAME TO ${quoteIdent(aside)}`);
      await client.query(`ALTER SCHEMA ${quoteIdent(scratch)} RENAME TO ${quoteIdent(request.schema)}`);
      // Waits for statements still reading the old tables; new ones wait for COMMIT, then read the new.
      await client.query(`DROP SCHEMA ${quoteIdent(aside)} CASCADE`);
    } else {
      await client.query(`ALTER SCHEMA ${quoteIdent(scratch)} RENAME TO ${quoteIdent(request.schema)}`);
    }
    await request.afterLoad?.(client, request.schema);
    await client.query('COMMIT');
    return existing;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    if (sqlState(error) === '42P06') throw errors.conflict(`Database '${request.database}' was created meanwhile; restore again with replace: true to overwrite it`);
    throw error;
  }
}

/** A name nobody else uses, never a duckgate database's (the `.` is not allowed in those). */
function scratchName(schema: string): string {
  // Within PostgreSQL's 63-byte names (a longer one would be cut short, silently).
  return `${schema.slice(0, 40)}.load-${randomBytes(4).toString('hex')}`;
}

async function schemaExists(client: Client, schema: string): Promise<boolean> {
  return (await client.query('SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1', [schema])).rowCount === 1;
}

/** Problems in the file itself, and PostgreSQL refusing what it says, are what verification answers. */
function asVerificationFailure(error: unknown): unknown {
  const state = sqlState(error);
  // Class 22 (data), 23 (constraints) and 42 (what the header's DDL names), but not 42501: a
  // privilege the data role lacks is the server's problem, not the file's.
  if (state !== undefined && state !== '42501' && (state.startsWith('22') || state.startsWith('23') || state.startsWith('42'))) {
    return verificationFailed([`PostgreSQL refused the dump: ${error instanceof Error ? error.message : String(error)}`]);
  }
  if (error instanceof SyntaxError) return verificationFailed([`file: not valid JSON (${error.message})`]);
  if ((error as { code?: unknown } | null)?.code === 'Z_DATA_ERROR' || (error as { code?: unknown } | null)?.code === 'Z_BUF_ERROR') {
    return verificationFailed([`file: damaged gzip (${(error as Error).message})`]);
  }
  if (error instanceof Error && !('status' in error) && (error as { code?: unknown }).code === undefined) {
    return verificationFailed([`file: ${error.message}`]);
  }
  return error;
}

/** The file's lines, decoded, without ever holding more than one chunk and one line. */
async function* lines(source: string): AsyncGenerator<string> {
  const decoder = new StringDecoder('utf8');
  let carry = '';
  for await (const chunk of createReadStream(source).pipe(createGunzip())) {
    carry += decoder.write(chunk as Buffer);
    let start = 0;
    for (let end = carry.indexOf('\n'); end !== -1; end = carry.indexOf('\n', start)) {
      yield carry.slice(start, end);
      start = end + 1;
    }
    carry = carry.slice(start);
  }
  carry += decoder.end();
  if (carry !== '') yield carry;
}

async function loadFile(client: Client, source: string, schema: string, expected: readonly TableCheck[]): Promise<void> {
  const input = lines(source);
  try {
    await loadLines(client, schema, expected, async () => {
      const result = await input.next();
      return result.done === true ? undefined : result.value;
    });
  } finally {
    // Closes the file when the load stopped part-way.
    await input.return(undefined);
  }
}

async function loadLines(client: Client, schema: string, expected: readonly TableCheck[], next: () => Promise<string | undefined>): Promise<void> {
  const header = parseHeader(await next());
  for (const table of header.tables) await client.query(createTableSql(schema, table));
  const found: TableCheck[] = [];
  for (const table of header.tables) found.push(await loadRows(client, schema, table, next));
  const done = JSON.parse((await next()) ?? 'null') as { done?: unknown } | null;
  if (done?.done !== header.tables.length) throw new Error('it was cut short (no end line)');
  if ((await next()) !== undefined) throw new Error('lines after the end line');
  const problems = compareChecks(expected, found);
  if (problems.length > 0) throw verificationFailed(problems);
  await finishSchema(client, schema, header);
}

function columnSql(column: DumpColumn): string {
  let sql = `${quoteIdent(column.name)} ${column.type}`;
  if (column.collation !== null) sql += ` COLLATE ${quoteIdent(column.collation)}`;
  if (column.generated !== null) sql += ` GENERATED ALWAYS AS (${column.generated}) STORED`;
  if (column.identity !== null) sql += ` GENERATED ${column.identity === 'a' ? 'ALWAYS' : 'BY DEFAULT'} AS IDENTITY`;
  if (column.default !== null) sql += ` DEFAULT ${column.default}`;
  if (column.notNull) sql += ' NOT NULL';
  return sql;
}

// The header's types and expressions are SQL run as the data role: the file was checked against
// the manifest's SHA-256 first, and restores are for admins, who may run any SQL on it anyway.
function createTableSql(schema: string, table: DumpTable): string {
  return `CREATE TABLE ${qualified(schema, table.name)} (${table.columns.map(columnSql).join(', ')})`;
}

/** One table's rows, from its `{"table"}` line to its `{"end"}` line; answers what they were. */
async function loadRows(client: Client, schema: string, table: DumpTable, next: () => Promise<string | undefined>): Promise<TableCheck> {
  const start = JSON.parse((await next()) ?? 'null') as { table?: unknown } | null;
  if (start?.table !== table.name) throw new Error(`expected the rows of table ${table.name}`);
  const columns = storedColumns(table);
  const insert = insertSql(schema, table, columns);
  const digest = new TableDigest();
  let batch: (string | null)[][] = columns.map(() => []);
  let pending = 0;
  const flush = async (): Promise<void> => {
    if (pending === 0) return;
    if (columns.length === 0) await client.query(`INSERT INTO ${qualified(schema, table.name)} SELECT FROM generate_series(1, $1)`, [pending]);
    else await client.query(insert, batch);
    batch = columns.map(() => []);
    pending = 0;
  };
  for (;;) {
    const text = await next();
    if (text === undefined) throw new Error(`it was cut short in table ${table.name}`);
    if (!text.startsWith('[')) {
      await flush();
      const end = JSON.parse(text) as { end?: unknown; rows?: unknown; sha256?: unknown };
      if (end.end !== table.name) throw new Error(`table ${table.name}: rows end without their end line`);
      const check = { table: table.name, rows: digest.rows, checksum: digest.hex() };
      if (end.rows !== check.rows || end.sha256 !== check.checksum) throw new Error(`table ${table.name}: its rows do not match the file's own checksum`);
      return check;
    }
    const row = JSON.parse(text) as unknown;
    if (!Array.isArray(row) || row.length !== columns.length || !row.every((v) => v === null || typeof v === 'string')) {
      throw new Error(`table ${table.name}: a row that is not ${columns.length} text values`);
    }
    digest.add(text);
    for (let i = 0; i < columns.length; i++) batch[i]!.push(row[i] as string | null);
    if (++pending >= BATCH_ROWS) await flush();
  }
}

/** `INSERT … SELECT` of one text array per column, each cast back to its type (PostgreSQL's input of its own output). */
function insertSql(schema: string, table: DumpTable, columns: readonly DumpColumn[]): string {
  const names = columns.map((c) => quoteIdent(c.name)).join(', ');
  const arrays = columns.map((_, i) => `$${i + 1}::text[]`).join(', ');
  const aliases = columns.map((_, i) => `c${i}`).join(', ');
  const casts = columns.map((c, i) => `u.c${i}::${c.type}`).join(', ');
  const overriding = columns.some((c) => c.identity === 'a') ? ' OVERRIDING SYSTEM VALUE' : '';
  return `INSERT INTO ${qualified(schema, table.name)} (${names})${overriding} SELECT ${casts} FROM unnest(${arrays}) AS u(${aliases})`;
}

/** Identity sequences past the loaded values, then constraints (foreign keys last), indexes and views. */
async function finishSchema(client: Client, schema: string, header: DumpHeader): Promise<void> {
  for (const table of header.tables) {
    for (const column of table.columns.filter((c) => c.identity !== null)) {
      const name = qualified(schema, table.name);
      await client.query(
        `SELECT setval(pg_get_serial_sequence($1, $2), coalesce((SELECT max(${quoteIdent(column.name)}) FROM ${name}), 0) + 1, false)`,
        [name, column.name],
      );
    }
  }
  const constraints = header.tables.flatMap((table) => table.constraints.map((c) => ({ table: table.name, ...c })));
  const foreign = (definition: string): boolean => definition.startsWith('FOREIGN KEY');
  for (const c of [...constraints.filter((k) => !foreign(k.definition)), ...constraints.filter((k) => foreign(k.definition))]) {
    await client.query(`ALTER TABLE ${qualified(schema, c.table)} ADD CONSTRAINT ${quoteIdent(c.name)} ${c.definition}`);
  }
  // Neither names a schema (the dump strips it from index definitions; views print without it under
  // its search path): with the search path on `schema`, both land there.
  for (const index of header.tables.flatMap((t) => t.indexes)) await client.query(index);
  await createViews(client, schema, header.views);
}

/**
 * Views in creation order, except that a view replaced later (`CREATE OR REPLACE`) may read one
 * made after it: a view that cannot be made yet is tried again after the others, until a pass
 * makes none.
 */
async function createViews(client: Client, schema: string, views: readonly { name: string; definition: string }[]): Promise<void> {
  let pending = [...views];
  while (pending.length > 0) {
    const waiting: typeof pending = [];
    let failure: unknown;
    for (const view of pending) {
      await client.query('SAVEPOINT dg_view');
      try {
        await client.query(`CREATE VIEW ${qualified(schema, view.name)} AS ${view.definition}`);
        await client.query('RELEASE SAVEPOINT dg_view');
      } catch (error) {
        await client.query('ROLLBACK TO SAVEPOINT dg_view');
        // 42P01: a relation it reads is not made yet.
        if (sqlState(error) !== '42P01') throw error;
        waiting.push(view);
        failure = error;
      }
    }
    if (waiting.length === pending.length) throw failure;
    pending = waiting;
  }
}

/**
 * The replaced schema's privileges carried over to the new one: its own ACL, each table's and
 * view's (by name), and its default privileges for roles this one may act for. Grants only
 * through SQL, so nothing here needs more than owning the schema.
 */
async function copyPrivileges(client: Client, from: string, to: string): Promise<void> {
  const grantee = `CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END AS grantee`;
  const option = (grantable: boolean): string => (grantable ? ' WITH GRANT OPTION' : '');
  const schemaAcl = await client.query<{ privilege_type: string; is_grantable: boolean; grantee: string }>(`
    SELECT a.privilege_type, a.is_grantable, ${grantee}
      FROM pg_catalog.pg_namespace n, aclexplode(n.nspacl) a
     WHERE n.nspname = $1 AND a.grantee <> n.nspowner`, [from]);
  for (const g of schemaAcl.rows) await client.query(`GRANT ${g.privilege_type} ON SCHEMA ${quoteIdent(to)} TO ${g.grantee}${option(g.is_grantable)}`);
  const tableAcl = await client.query<{ relname: string; privilege_type: string; is_grantable: boolean; grantee: string }>(`
    SELECT c.relname, a.privilege_type, a.is_grantable, ${grantee}
      FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace, aclexplode(c.relacl) a
     WHERE n.nspname = $1 AND c.relkind IN ('r', 'v') AND a.grantee <> c.relowner
       AND EXISTS (SELECT 1 FROM pg_catalog.pg_class c2 JOIN pg_catalog.pg_namespace n2 ON n2.oid = c2.relnamespace
                    WHERE n2.nspname = $2 AND c2.relname = c.relname AND c2.relkind = c.relkind)`, [from, to]);
  for (const g of tableAcl.rows) await client.query(`GRANT ${g.privilege_type} ON TABLE ${qualified(to, g.relname)} TO ${g.grantee}${option(g.is_grantable)}`);
  const kinds: Record<string, string> = { r: 'TABLES', S: 'SEQUENCES', f: 'FUNCTIONS', T: 'TYPES' };
  const defaults = await client.query<{ role: string; objtype: string; privilege_type: string; is_grantable: boolean; grantee: string }>(`
    SELECT quote_ident(pg_get_userbyid(d.defaclrole)) AS role, d.defaclobjtype::text AS objtype, a.privilege_type, a.is_grantable, ${grantee}
      FROM pg_catalog.pg_default_acl d JOIN pg_catalog.pg_namespace n ON n.oid = d.defaclnamespace, aclexplode(d.defaclacl) a
     WHERE n.nspname = $1 AND pg_has_role(d.defaclrole, 'MEMBER')`, [from]);
  for (const d of defaults.rows) {
    const kind = kinds[d.objtype];
    if (kind === undefined) continue;
    await client.query(`ALTER DEFAULT PRIVILEGES FOR ROLE ${d.role} IN SCHEMA ${quoteIdent(to)} GRANT ${d.privilege_type} ON ${kind} TO ${d.grantee}${option(d.is_grantable)}`);
  }
}
