/**
 * The reader role (DATA_READER_URL): a second PostgreSQL login that scoped (non-admin) SQL runs as,
 * so the guard (`guard.ts`) is not the only thing between a scoped key and the rest of the server.
 * The guard decides which tables and columns a statement may see; the reader role bounds what any
 * statement could do if the guard were wrong: it can read duckgate's tables and nothing else (no
 * writes, no other schema, no control-store table, no function the main role owns), and every
 * scoped statement runs in a read-only transaction on top.
 *
 * At start the engine checks the reader role as strictly as the main role (`lockdown.ts`) and
 * more (no CREATE anywhere, no write privilege on anything, not the main role nor able to become
 * it), then the main role, which owns duckgate's schemas, grants it USAGE and SELECT there, makes
 * later tables readable by default, and takes EXECUTE on its own functions away from PUBLIC: a
 * SECURITY DEFINER function written through admin SQL would otherwise run as the main role.
 */
import { ConfigError } from '../../config/parse.js';
import { quoteIdent } from '../duckdb/names.js';
import { lockdownProblems } from './lockdown.js';
import { inTransaction, type Client } from './session.js';

/** One advisory lock for every replica's grants: concurrent GRANTs on one object fail ("tuple concurrently updated"). */
const GRANT_LOCK = 'duckgate.reader-grants';

/** The login of a connection. */
export async function currentRole(client: Client): Promise<string> {
  return ((await client.query('SELECT current_user AS name')).rows[0] as { name: string }).name;
}

/**
 * What is wrong with the reader role (checked on a reader connection), one reason a line; empty
 * when it can do nothing but read what it is granted. `mainRole` is DATA_URL's login.
 */
export async function readerProblems(client: Client, schemaPrefix: string, mainRole: string): Promise<string[]> {
  const reader = await currentRole(client);
  if (reader === mainRole) return [`it is the same role as DATA_URL's ('${reader}'): scoped SQL must run as a role that can only read`];
  const problems = await lockdownProblems(client, schemaPrefix);
  const member = await client.query(`SELECT pg_catalog.pg_has_role(current_user, $1, 'MEMBER') AS m`, [mainRole]);
  if ((member.rows[0] as { m: boolean }).m) problems.push(`role '${reader}' is a member of DATA_URL's role '${mainRole}'`);
  const database = await client.query(`SELECT pg_catalog.has_database_privilege(pg_catalog.current_database(), 'CREATE') AS c`);
  if ((database.rows[0] as { c: boolean }).c) problems.push(`role '${reader}' has CREATE on the database`);
  const schemas = await client.query(
    `SELECT nspname FROM pg_catalog.pg_namespace WHERE pg_catalog.has_schema_privilege(oid, 'CREATE') AND nspname NOT LIKE 'pg\\_temp\\_%' AND nspname NOT LIKE 'pg\\_toast\\_temp\\_%' LIMIT 3`,
  );
  for (const { nspname } of schemas.rows as { nspname: string }[]) problems.push(`role '${reader}' has CREATE on schema ${nspname}`);
  // pg_catalog's own views are left out: UPDATE on pg_settings is everyone's (it is set_config).
  const writable = await client.query(
    `SELECT n.nspname || '.' || c.relname AS t FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
        AND ((c.relkind IN ('r', 'v', 'm', 'p', 'f') AND pg_catalog.has_table_privilege(c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER'))
          OR (c.relkind = 'S' AND pg_catalog.has_sequence_privilege(c.oid, 'USAGE, UPDATE')))
      LIMIT 3`,
  );
  for (const { t } of writable.rows as { t: string }[]) problems.push(`role '${reader}' may write ${t}`);
  const owned = await client.query(
    `SELECT n.nspname || '.' || c.relname AS t FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relowner = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = current_user) AND n.nspname NOT LIKE 'pg\\_temp\\_%' LIMIT 3`,
  );
  for (const { t } of owned.rows as { t: string }[]) problems.push(`role '${reader}' owns ${t}`);
  return problems;
}

/**
 * Functions outside PostgreSQL's own schemas that run as their owner (SECURITY DEFINER) and that
 * the reader may execute: each would lend the reader its owner's rights.
 */
export async function definerFunctions(client: Client): Promise<string[]> {
  const found = await client.query(
    `SELECT p.oid::pg_catalog.regprocedure::text AS f FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
      WHERE p.prosecdef AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND pg_catalog.has_function_privilege(p.oid, 'EXECUTE') LIMIT 3`,
  );
  return (found.rows as { f: string }[]).map((row) => row.f);
}

/** Grants on one schema the main role owns: read its tables, now and later; its functions are not PUBLIC's. */
async function grantSchema(client: Client, schema: string, reader: string): Promise<void> {
  const s = quoteIdent(schema);
  const r = quoteIdent(reader);
  await client.query(`GRANT USAGE ON SCHEMA ${s} TO ${r}`);
  await client.query(`GRANT SELECT ON ALL TABLES IN SCHEMA ${s} TO ${r}`);
  await client.query(`ALTER DEFAULT PRIVILEGES IN SCHEMA ${s} GRANT SELECT ON TABLES TO ${r}`);
  await client.query(`REVOKE EXECUTE ON ALL ROUTINES IN SCHEMA ${s} FROM PUBLIC, ${r}`);
}

async function lockGrants(client: Client): Promise<void> {
  await client.query('SELECT pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext($1))', [GRANT_LOCK]);
}

/**
 * Inside the caller's transaction (a restore's, before COMMIT): the reader may read `schema`, which
 * the main role has just made, so readers never see the restored database without the grant.
 */
export async function grantReaderSchema(client: Client, reader: string, schema: string): Promise<void> {
  await lockGrants(client);
  await grantSchema(client, schema, reader);
}

/**
 * Run as the main role: the reader may read every duckgate schema `schemas` names that the main
 * role owns (others are left alone: whoever owns them decides). Under an advisory lock, since
 * replicas starting together would grant on the same objects at once.
 */
export async function grantReader(client: Client, reader: string, schemas: readonly string[]): Promise<void> {
  await inTransaction(client, async () => {
    await lockGrants(client);
    // Global default, not per schema: PostgreSQL cannot revoke a global default IN SCHEMA, and
    // functions are EXECUTE for PUBLIC by default.
    await client.query('ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON ROUTINES FROM PUBLIC');
    const owned = await client.query(
      `SELECT nspname FROM pg_catalog.pg_namespace WHERE nspname = ANY($1::text[]) AND nspowner = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = current_user)`,
      [schemas],
    );
    for (const { nspname } of owned.rows as { nspname: string }[]) await grantSchema(client, nspname, reader);
  });
}

/** The reader's start-up check as the engine runs it: a ConfigError naming every problem. */
export function assertReader(problems: readonly string[]): void {
  if (problems.length > 0) {
    throw new ConfigError('DATA_READER_URL', `its role must only be able to read duckgate's tables, since scoped SQL runs as it: ${problems.join('; ')}. See docs/deployment.md, "A reader role for scoped SQL"`);
  }
}
