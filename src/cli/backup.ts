/**
 * `duckgate backup create|list|restore`: through a running server's admin API, since the server
 * holds its database files open (DuckDB allows one process per file). The server is found at
 * DUCKGATE_URL, else http://HOST:PORT from the configuration; the admin key is DUCKGATE_API_KEY,
 * else ADMIN_API_KEY or DUCKLING_API_KEY.
 */
import { parseArgs } from 'node:util';
import type { Config } from '../config/index.js';

export const BACKUP_HELP = `Backups (through the running server; key: DUCKGATE_API_KEY or ADMIN_API_KEY):
  duckgate backup create [--db NAME]                 back up a database (default: default)
  duckgate backup list [--db NAME]                   backups, newest first
  duckgate backup restore <backup_id> [--target NAME] [--replace]
                                                     restore, verified per table; into a new
                                                     database unless --replace names a live one
Options: --url URL (default DUCKGATE_URL or http://HOST:PORT), --json for machine-readable output.
`;

interface Manifest {
  id: string;
  database: string;
  createdAt: string;
  bytes: number;
  tables: { table: string; rows: number }[];
}

export async function backupCommand(config: Config, args: string[], env: Record<string, string | undefined> = process.env): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        json: { type: 'boolean' }, db: { type: 'string' }, target: { type: 'string' }, replace: { type: 'boolean' },
        url: { type: 'string' }, help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    process.stderr.write(`duckgate backup: ${error instanceof Error ? error.message : String(error)}\n\n${BACKUP_HELP}`);
    return 1;
  }
  const { values, positionals } = parsed;
  const action = positionals[1];
  if (values.help || action === undefined) {
    process.stdout.write(BACKUP_HELP);
    return values.help ? 0 : 1;
  }
  const key = env.DUCKGATE_API_KEY || config.adminApiKey || config.ducklingApiKey;
  if (!key) {
    process.stderr.write('duckgate backup: set DUCKGATE_API_KEY (or ADMIN_API_KEY) to an admin key\n');
    return 1;
  }
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  const base = (values.url ?? env.DUCKGATE_URL ?? `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${config.port}`).replace(/\/+$/, '');
  const call = async (method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> => {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: response.status, json: (await response.json().catch(() => ({}))) as Record<string, unknown> };
  };
  const print = (value: unknown, human: string) => process.stdout.write(values.json ? `${JSON.stringify(value, null, 2)}\n` : `${human}\n`);
  const fail = (status: number, json: Record<string, unknown>) => {
    process.stderr.write(`duckgate backup: ${String(json.error ?? `HTTP ${status}`)}${json.code ? ` (${String(json.code)})` : ''}\n`);
    return 1;
  };
  const db = values.db === undefined ? '' : `?db=${encodeURIComponent(values.db)}`;
  try {
    switch (action) {
      case 'create': {
        const { status, json } = await call('POST', `/automation/backup${db}`);
        if (status !== 201) return fail(status, json);
        const backup = json.backup as Manifest;
        print(json, `${backup.id}: ${backup.tables.length} tables, ${backup.tables.reduce((n, t) => n + t.rows, 0)} rows, ${backup.bytes} bytes in ${String(json.elapsedMs)} ms`);
        return 0;
      }
      case 'list': {
        const { status, json } = await call('GET', `/api/backups${db}`);
        if (status !== 200) return fail(status, json);
        const backups = json.backups as Manifest[];
        print(backups, backups.length === 0 ? 'No backups.' : backups.map((b) => `${b.id}  ${b.database}  ${b.createdAt}  ${b.bytes} bytes  ${b.tables.length} tables`).join('\n'));
        return 0;
      }
      case 'restore': {
        const backupId = positionals[2];
        if (backupId === undefined) {
          process.stderr.write(`duckgate backup restore: name the backup id\n\n${BACKUP_HELP}`);
          return 1;
        }
        const { status, json } = await call('POST', '/automation/restore', { backupId, target: values.target, replace: values.replace === true ? true : undefined });
        if (status !== 200) return fail(status, json);
        const tables = json.tables as { table: string; rows: number }[];
        print(json, `Restored ${backupId} into '${String(json.database)}'${json.replaced ? ' (replaced)' : ''}: ${tables.length} tables verified (row counts and checksums)`);
        return 0;
      }
      default:
        process.stderr.write(`duckgate backup: unknown action "${action}"\n\n${BACKUP_HELP}`);
        return 1;
    }
  } catch (error) {
    process.stderr.write(`duckgate backup: cannot reach the server at ${base} (${error instanceof Error ? error.message : String(error)})\n`);
    return 1;
  }
}
