/**
 * Admin SQL runs as DATA_URL's role, so that role must be unable to reach beyond duckgate's data:
 * checked once at start, and the engine refuses to start (naming what is wrong) when it is not.
 * A role that could `SET ROLE` to a superuser, read server files, run programs (`COPY … PROGRAM`),
 * open connections elsewhere (dblink, postgres_fdw) or read tables outside duckgate's schemas would
 * hand all of that to every admin key; a superuser's `SET ROLE` to a lesser role is no answer,
 * since `set_config('role', …)` inside any statement undoes it.
 */
import { ConfigError } from '../../config/parse.js';
import type { Client } from './session.js';

const SERVER_ROLES = ['pg_execute_server_program', 'pg_read_server_files', 'pg_write_server_files', 'pg_read_all_data', 'pg_write_all_data', 'pg_read_all_settings', 'pg_signal_backend'];

const FILE_FUNCTIONS = [
  'pg_catalog.pg_read_file(text)',
  'pg_catalog.pg_read_binary_file(text)',
  'pg_catalog.pg_ls_dir(text)',
  'pg_catalog.pg_stat_file(text)',
  'pg_catalog.lo_import(text)',
  'pg_catalog.lo_export(oid, text)',
  'pg_catalog.pg_file_write(text, text, boolean)',
];

/** What is wrong with the role, one reason a line; empty when it is locked down. */
export async function lockdownProblems(client: Client, schemaPrefix: string): Promise<string[]> {
  const problems: string[] = [];
  const role = (await client.query(`SELECT current_user AS name, rolsuper, rolcreaterole, rolbypassrls, rolreplication FROM pg_catalog.pg_roles WHERE rolname = current_user`)).rows[0] as
    { name: string; rolsuper: boolean; rolcreaterole: boolean; rolbypassrls: boolean; rolreplication: boolean };
  if (role.rolsuper) problems.push(`role '${role.name}' is a superuser`);
  if (role.rolcreaterole) problems.push(`role '${role.name}' has CREATEROLE`);
  if (role.rolbypassrls) problems.push(`role '${role.name}' has BYPASSRLS`);
  if (role.rolreplication) problems.push(`role '${role.name}' has REPLICATION`);
  const members = await client.query(
    `SELECT r.rolname FROM pg_catalog.pg_roles r WHERE r.rolname = ANY($1::text[]) AND pg_catalog.pg_has_role(current_user, r.oid, 'MEMBER')`,
    [SERVER_ROLES],
  );
  for (const { rolname } of members.rows as { rolname: string }[]) problems.push(`role is a member of ${rolname}`);
  // Any other role it can become is a way around every check here.
  const other = await client.query(
    `SELECT r.rolname FROM pg_catalog.pg_roles r WHERE r.rolname <> current_user AND NOT r.rolname LIKE 'pg\\_%' AND pg_catalog.pg_has_role(current_user, r.oid, 'MEMBER') LIMIT 3`,
  );
  for (const { rolname } of other.rows as { rolname: string }[]) problems.push(`role can SET ROLE to '${rolname}'`);
  for (const signature of FILE_FUNCTIONS) {
    const found = await client.query(`SELECT pg_catalog.to_regprocedure($1) AS f`, [signature]);
    const oid = (found.rows[0] as { f: string | null }).f;
    if (oid === null) continue;
    const allowed = await client.query(`SELECT pg_catalog.has_function_privilege(pg_catalog.to_regprocedure($1), 'EXECUTE') AS ok`, [signature]);
    if ((allowed.rows[0] as { ok: boolean }).ok) problems.push(`role may execute ${signature}`);
  }
  const remote = await client.query(
    `SELECT p.oid::regprocedure::text AS f FROM pg_catalog.pg_proc p
      WHERE (p.proname LIKE 'dblink%' OR p.proname LIKE 'postgres\\_fdw%') AND pg_catalog.has_function_privilege(p.oid, 'EXECUTE') LIMIT 1`,
  );
  for (const { f } of remote.rows as { f: string }[]) problems.push(`role may execute ${f} (connections to other servers)`);
  const foreign = await client.query(
    `SELECT n.nspname || '.' || c.relname AS t FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'v', 'm', 'p', 'f') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
        AND n.nspname NOT LIKE 'pg\\_%' AND NOT starts_with(n.nspname, $1)
        AND pg_catalog.has_table_privilege(c.oid, 'SELECT') LIMIT 3`,
    [schemaPrefix],
  );
  for (const { t } of foreign.rows as { t: string }[]) problems.push(`role can read ${t}, outside duckgate's schemas ('${schemaPrefix}*')`);
  return problems;
}

export async function assertLockedDown(client: Client, schemaPrefix: string): Promise<void> {
  const problems = await lockdownProblems(client, schemaPrefix);
  if (problems.length > 0) {
    throw new ConfigError('DATA_URL', `its role must be locked down, since admin SQL runs as it: ${problems.join('; ')}. See README, "Shared data on PostgreSQL"`);
  }
}
