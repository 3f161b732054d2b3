/**
 * A fresh locked-down login for a PostgreSQL data plane under measurement (what the engine demands
 * of DATA_URL's role: no superuser, CREATE on the database only), and its removal afterwards.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export interface BenchDataRole {
  role: string;
  /** DATA_URL for the servers measured. */
  url: string;
  /** Drops every schema whose name starts with `prefix`. */
  dropSchemas(prefix: string): Promise<void>;
  /** Drops the role's schemas (those starting with its name), then the role. */
  drop(): Promise<void>;
}

export async function benchDataRole(adminUrl: string): Promise<BenchDataRole> {
  const role = `dg_bench_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE ROLE ${role} LOGIN NOSUPERUSER NOCREATEROLE NOCREATEDB`);
  await admin.query(`GRANT CREATE ON DATABASE ${new URL(adminUrl).pathname.slice(1)} TO ${role}`);
  const url = new URL(adminUrl);
  url.username = role;
  const dropSchemas = async (prefix: string): Promise<void> => {
    const schemas = await admin.query<{ nspname: string }>('SELECT nspname FROM pg_namespace WHERE starts_with(nspname, $1)', [prefix]);
    for (const { nspname } of schemas.rows) await admin.query(`DROP SCHEMA "${nspname}" CASCADE`);
  };
  return {
    role,
    url: url.toString(),
    dropSchemas,
    drop: async () => {
      await dropSchemas(`${role}_`);
      await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1', [role]);
      await admin.query(`DROP OWNED BY ${role} CASCADE`);
      await admin.query(`DROP ROLE ${role}`);
      await admin.end();
    },
  };
}
