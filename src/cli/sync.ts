/**
 * `duckgate sync full|incremental|status --db <name>` (issue 15). With `--url` (or DUCKGATE_URL)
 * it asks a running server, authenticating with DUCKGATE_API_KEY (else ADMIN_API_KEY); without,
 * it opens the data plane itself: with DATA_URL the PostgreSQL schemas the servers share (a sync
 * already running on a replica answers 409 `sync_running`), else DATA_DIR, which only works while
 * no server holds the database (DuckDB allows one process per file) and says so if one does.
 */
import { parseArgs } from 'node:util';
import { SourceSecret } from '../auth/source-secret.js';
import type { Config } from '../config/index.js';
import { openDuckDBEngine } from '../data/duckdb/index.js';
import type { DataEngine } from '../data/engine.js';
import { openPostgresEngine } from '../data/postgres/index.js';
import { SourceSyncService } from '../data/sync/service.js';
import type { SyncEvent, SyncRun, SyncStatus } from '../data/sync/types.js';
import { isApiError } from '../errors.js';
import { openControlStore } from '../store/index.js';

export const SYNC_HELP = `Source sync (a database with a MySQL/MariaDB source; see README "Source sync"):
  duckgate sync full --db NAME          copy every source table (resumes an interrupted copy)
  duckgate sync incremental --db NAME   changed rows by watermark or key, deletes included
  duckgate sync status --db NAME        source, last run, per-table state
  Add --url URL (or DUCKGATE_URL) to ask a running server (key: DUCKGATE_API_KEY or ADMIN_API_KEY);
  without it the command opens the data itself: with DATA_URL the shared PostgreSQL (servers may run),
  else DATA_DIR (the server must not be running). --json for JSON.
`;

export async function syncCommand(config: Config, args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { db: { type: 'string' }, url: { type: 'string' }, json: { type: 'boolean' }, quiet: { type: 'boolean' } },
  });
  const action = positionals[1];
  if (action !== 'full' && action !== 'incremental' && action !== 'status') {
    process.stderr.write(`duckgate sync: expected full, incremental or status\n\n${SYNC_HELP}`);
    return 1;
  }
  const database = values.db ?? 'default';
  const url = values.url ?? env.DUCKGATE_URL;
  const print = (value: SyncRun | SyncStatus, human: string) => process.stdout.write(values.json ? `${JSON.stringify(value, null, 2)}\n` : `${human}\n`);
  if (url !== undefined) return remote(url, env.DUCKGATE_API_KEY ?? config.adminApiKey ?? config.ducklingApiKey, action, database, print);

  const control = await openControlStore(config, { applicationName: 'duckgate-cli' });
  let engine: DataEngine;
  try {
    engine = config.dataUrl !== undefined
      ? await openPostgresEngine({
        url: config.dataUrl, schemaPrefix: config.dataSchemaPrefix, poolSize: 2, statementTimeoutMs: config.queryTimeoutMs, limits: config.dataLimits,
      })
      : await openDuckDBEngine({
        dataDir: config.dataDir, memoryLimit: config.duckdbMemoryLimit, threads: config.duckdbThreads,
        readConnections: 1, limits: config.dataLimits,
      });
  } catch (error) {
    await control.close();
    const text = error instanceof Error ? error.message : String(error);
    process.stderr.write(config.dataUrl === undefined && /lock/i.test(text)
      ? `duckgate sync: DATA_DIR is in use by a running server; use --url to ask it instead\n`
      : `duckgate sync: ${text}\n`);
    return 1;
  }
  const sync = new SourceSyncService({ engine, sources: control.sources, secret: SourceSecret.load(config.dataDir) });
  const unsubscribe = values.quiet ? () => {} : sync.subscribe((event) => progressLine(event));
  try {
    if (action === 'status') {
      const status = await sync.status(database);
      print(status, statusText(status));
      return 0;
    }
    const run = action === 'full' ? await sync.full(database) : await sync.incremental(database);
    print(run, runText(run));
    return run.status === 'success' ? 0 : 2;
  } catch (error) {
    process.stderr.write(`duckgate sync: ${isApiError(error) ? `${error.message} (${error.code})` : error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  } finally {
    unsubscribe();
    sync.close();
    await engine.close();
    await control.close();
  }
}

async function remote(base: string, key: string | undefined, action: 'full' | 'incremental' | 'status', database: string,
  print: (value: SyncRun | SyncStatus, human: string) => void): Promise<number> {
  if (key === undefined) {
    process.stderr.write('duckgate sync: --url needs an admin key in DUCKGATE_API_KEY (or ADMIN_API_KEY)\n');
    return 1;
  }
  const path = action === 'status' ? '/sync/status' : `/sync/${action}`;
  const response = await fetch(new URL(`${path}?db=${encodeURIComponent(database)}`, base), {
    method: action === 'status' ? 'GET' : 'POST',
    headers: { authorization: `Bearer ${key}` },
  });
  const body = await response.json() as { error?: string; code?: string; run?: SyncRun } & SyncStatus;
  if (!response.ok) {
    process.stderr.write(`duckgate sync: ${body.error ?? response.statusText} (${body.code ?? response.status})\n`);
    return 1;
  }
  if (action === 'status') {
    print(body, statusText(body));
    return 0;
  }
  print(body.run!, runText(body.run!));
  return body.run!.status === 'success' ? 0 : 2;
}

function progressLine(event: SyncEvent): void {
  if (event.type === 'progress' && event.progress.currentTable !== null) {
    const p = event.progress;
    process.stderr.write(`${p.currentTable}: ${p.currentTableRecords}${p.currentTableEstimate ? ` of ~${p.currentTableEstimate}` : ''} rows (table ${p.tablesCompleted + 1}/${p.tablesTotal})\n`);
  }
}

function runText(run: SyncRun): string {
  const lines = [`${run.type} sync of '${run.database}': ${run.status}, ${run.totalRecords} rows in ${run.duration} ms`];
  for (const t of run.tables) {
    lines.push(`  ${t.table}: ${t.method}, ${t.recordsProcessed} rows${t.recordsDeleted ? `, ${t.recordsDeleted} deleted` : ''}${t.error ? `, error: ${t.error}` : ''}`);
  }
  if (run.error) lines.push(`  error: ${run.error}`);
  return lines.join('\n');
}

function statusText(status: SyncStatus): string {
  const lines = [`database '${status.database}': source ${status.source ?? '(none)'}`];
  lines.push(status.progress.inProgress ? `  running: ${status.progress.type} (${status.progress.currentTable ?? '…'})` : '  idle');
  if (status.lastRun) lines.push(`  last run: ${status.lastRun.type} ${status.lastRun.status} at ${status.lastRun.finishedAt}`);
  for (const t of status.tables) {
    lines.push(`  ${t.table}: ${t.rows} rows, ${t.method}${t.watermark ? ` (${t.watermark.column} = ${t.watermark.value})` : ''}, synced ${t.lastSyncAt ?? 'never'}`);
  }
  return lines.join('\n');
}
