/**
 * A dump of one duckgate database (one PostgreSQL schema) in the `postgres-dump` format
 * (`dump-format.ts`), read in one REPEATABLE READ transaction, so every table is seen at the same
 * instant and writers never wait; rows come through a cursor a batch at a time and go straight
 * into gzip and the file, so memory stays bounded whatever the table's size. No pg_dump binary is
 * needed (it may be absent or of another major version than the server).
 *
 * What a dump holds: tables (columns with type, collation, NOT NULL, default, identity, generated
 * expression), their constraints and indexes, views, and every row. Not held: sequences other than
 * identity columns', functions, triggers, types, materialized views, row security policies,
 * comments; grants are the restore's (it keeps the replaced schema's). A table that needs one of
 * them (a column of a type defined in the schema, a `nextval()` default) is refused with 400
 * `backup_unsupported` rather than dumped half.
 */
import { createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { errors } from '../../errors.js';
import type { TableCheck } from '../engine.js';
import { quoteIdent } from '../duckdb/names.js';
import {
  DUMP_FORMAT, DUMP_VERSION, SESSION_SETTINGS, storedColumns, TableDigest,
  type DumpColumn, type DumpHeader, type DumpLine, type DumpTable,
} from './dump-format.js';
import { qualified } from './schema.js';
import type { Client } from './session.js';

/** Rows per FETCH: a few hundred KB of text for typical rows. */
const BATCH_ROWS = 2000;

/** Every value as PostgreSQL's text, untouched: the load casts the same text back. */
const RAW_TEXT = { getTypeParser: () => (text: string) => text };

export interface DumpSummary {
  tables: TableCheck[];
  postgresVersion: string;
}

/** Sets `SESSION_SETTINGS` (and the search path, so catalog functions print names without the schema) for this transaction. */
export async function setDumpSession(client: Client, schema: string): Promise<void> {
  for (const [name, value] of Object.entries(SESSION_SETTINGS)) {
    await client.query('SELECT set_config($1, $2, true)', [name, value]);
  }
  await client.query('SELECT set_config($1, $2, true)', ['search_path', quoteIdent(schema)]);
}

/** Writes database `database` (schema `schema`) to `destination` (a new file, 0600). */
export async function dumpSchema(client: Client, database: string, schema: string, destination: string): Promise<DumpSummary> {
  await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  try {
    await setDumpSession(client, schema);
    const header = await readHeader(client, database, schema);
    const tables: TableCheck[] = [];
    const lines = async function* (): AsyncGenerator<Buffer> {
      yield line(header);
      for (const table of header.tables) {
        const digest = new TableDigest();
        yield line({ table: table.name });
        for await (const rows of scan(client, schema, table)) {
          let chunk = '';
          for (const row of rows) {
            const text = JSON.stringify(row);
            digest.add(text);
            chunk += `${text}\n`;
          }
          yield Buffer.from(chunk);
        }
        const check = { table: table.name, rows: digest.rows, checksum: digest.hex() };
        tables.push(check);
        yield line({ end: table.name, rows: check.rows, sha256: check.checksum });
      }
      yield line({ done: header.tables.length });
    };
    await pipeline(Readable.from(lines()), createGzip(), createWriteStream(destination, { flags: 'wx', mode: 0o600 }));
    await client.query('COMMIT');
    return { tables, postgresVersion: header.postgresVersion };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

function line(value: DumpHeader | DumpLine): Buffer {
  return Buffer.from(`${JSON.stringify(value)}\n`);
}

/** A table's rows through a cursor, `BATCH_ROWS` at a time. */
async function* scan(client: Client, schema: string, table: DumpTable): AsyncGenerator<(string | null)[][]> {
  const columns = storedColumns(table).map((c) => quoteIdent(c.name));
  await client.query(`DECLARE dg_dump NO SCROLL CURSOR FOR SELECT ${columns.length > 0 ? columns.join(', ') : 'NULL'} FROM ${qualified(schema, table.name)}`);
  try {
    for (;;) {
      const result = await client.query<(string | null)[]>({ text: `FETCH ${BATCH_ROWS} FROM dg_dump`, rowMode: 'array', types: RAW_TEXT });
      if (result.rows.length === 0) return;
      // A table with no stored columns still has rows: each is an empty array.
      yield columns.length > 0 ? result.rows : result.rows.map(() => []);
      if (result.rows.length < BATCH_ROWS) return;
    }
  } finally {
    // After a failed FETCH the transaction is aborted and CLOSE fails too: the first error is the one to report.
    await client.query('CLOSE dg_dump').catch(() => undefined);
  }
}

interface ColumnRow {
  relname: string;
  attname: string;
  type: string;
  builtin: boolean;
  collation: string | null;
  attnotnull: boolean;
  expr: string | null;
  attidentity: string;
  attgenerated: string;
}

/** What the schema holds, read under the dump's snapshot. */
async function readHeader(client: Client, database: string, schema: string): Promise<DumpHeader> {
  const version = (await client.query<{ server_version: string }>('SHOW server_version')).rows[0]!.server_version;
  const namespace = `(SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = $1)`;
  const columns = await client.query<ColumnRow>(`
    SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod) AS type,
           tn.nspname = 'pg_catalog' AS builtin,
           CASE WHEN a.attcollation <> 0 AND a.attcollation <> t.typcollation THEN co.collname END AS collation,
           a.attnotnull, pg_get_expr(d.adbin, d.adrelid) AS expr, a.attidentity::text, a.attgenerated::text
      FROM pg_catalog.pg_class c
      JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
      JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
      JOIN pg_catalog.pg_namespace tn ON tn.oid = t.typnamespace
      LEFT JOIN pg_catalog.pg_collation co ON co.oid = a.attcollation
      LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
     WHERE c.relnamespace = ${namespace} AND c.relkind = 'r'
     ORDER BY c.relname COLLATE "C", a.attnum`, [schema]);
  const tables = new Map<string, DumpTable>();
  for (const row of columns.rows) {
    let table = tables.get(row.relname);
    if (table === undefined) {
      table = { name: row.relname, columns: [], constraints: [], indexes: [] };
      tables.set(row.relname, table);
    }
    if (!row.builtin) throw unsupported(`column ${row.relname}.${row.attname} has type ${row.type}, which is not built in`);
    if (row.expr !== null && row.attgenerated === '' && /\bnextval\s*\(/i.test(row.expr)) {
      throw unsupported(`column ${row.relname}.${row.attname} takes its default from a sequence (${row.expr}); use an identity column`);
    }
    const column: DumpColumn = {
      name: row.attname,
      type: row.type,
      collation: row.collation,
      notNull: row.attnotnull,
      default: row.attgenerated === '' ? row.expr : null,
      identity: row.attidentity === 'a' || row.attidentity === 'd' ? row.attidentity : null,
      generated: row.attgenerated === 's' ? row.expr : null,
    };
    table.columns.push(column);
  }
  const constraints = await client.query<{ relname: string; conname: string; definition: string }>(`
    SELECT c.relname, k.conname, pg_get_constraintdef(k.oid) AS definition
      FROM pg_catalog.pg_constraint k JOIN pg_catalog.pg_class c ON c.oid = k.conrelid
     WHERE c.relnamespace = ${namespace} AND c.relkind = 'r' AND k.contype IN ('p', 'u', 'c', 'f', 'x')
     ORDER BY c.relname COLLATE "C", k.contype = 'f', k.conname COLLATE "C"`, [schema]);
  for (const row of constraints.rows) tables.get(row.relname)?.constraints.push({ name: row.conname, definition: row.definition });
  const indexes = await client.query<{ relname: string; definition: string }>(`
    SELECT c.relname, replace(pg_get_indexdef(i.indexrelid), ' ON ' || quote_ident($1) || '.' || quote_ident(c.relname) || ' USING ',
                              ' ON ' || quote_ident(c.relname) || ' USING ') AS definition
      FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c ON c.oid = i.indrelid
     WHERE c.relnamespace = ${namespace} AND c.relkind = 'r'
       AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint k WHERE k.conindid = i.indexrelid AND k.conrelid = i.indrelid)
     ORDER BY i.indexrelid`, [schema]);
  for (const row of indexes.rows) tables.get(row.relname)?.indexes.push(row.definition);
  const views = await client.query<{ name: string; definition: string }>(`
    SELECT c.relname AS name, pg_get_viewdef(c.oid) AS definition
      FROM pg_catalog.pg_class c WHERE c.relnamespace = ${namespace} AND c.relkind = 'v' ORDER BY c.oid`, [schema]);
  return { format: DUMP_FORMAT, version: DUMP_VERSION, database, postgresVersion: version, tables: [...tables.values()], views: views.rows };
}

function unsupported(reason: string): Error {
  return errors.badRequest('backup_unsupported', `This database cannot be backed up as a PostgreSQL dump: ${reason}`);
}
