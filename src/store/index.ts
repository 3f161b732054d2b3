/**
 * Picks the control-plane store from configuration, once: SQLite in DATA_DIR, or PostgreSQL when
 * STORE_URL says so (several replicas on one store). Either way the same four seams come back.
 */
import path from 'node:path';
import type { Config } from '../config/index.js';
import type { AccountStore } from './account-store.js';
import type { AuditStore } from './audit-store.js';
import type { AutomationStore } from './automation-store.js';
import type { ChangeFeed } from './changes.js';
import type { KeyStore } from './key-store.js';
import { PostgresAccountStore } from './postgres/accounts.js';
import { PostgresAuditStore } from './postgres/audit.js';
import { PostgresAutomationStore } from './postgres/automation.js';
import { PostgresChangeFeed } from './postgres/changes.js';
import { PostgresDatabase } from './postgres/database.js';
import { PostgresKeyStore } from './postgres/keys.js';
import { PostgresSourceStore } from './postgres/sources.js';
import type { SourceStore } from './source-store.js';
import { SqliteAccountStore } from './sqlite-accounts.js';
import { SqliteAuditStore } from './sqlite-audit.js';
import { SqliteAutomationStore } from './sqlite-automation.js';
import { SqliteChangeFeed } from './sqlite-changes.js';
import { SqliteKeyStore } from './sqlite.js';
import { SqliteSourceStore } from './sqlite-sources.js';

export type { KeyStore, StoredKey, NewKey, KeyMatch, RevokeOptions, RevokeOutcome } from './key-store.js';
export type { AuditStore } from './audit-store.js';
export type { AccountStore, AdminAccount, KnownAddressStore, RevokedToken } from './account-store.js';
export type { ChangeFeed, ChangeListener, ControlChange } from './changes.js';
export type { AutomationStore, Schedule, JobKind } from './automation-store.js';
export type { SourceStore, StoredSource } from './source-store.js';

/** The SQLite file: never a `.duckdb` file, so DuckDB never opens it and SQL can never reach it. */
export const CONTROL_STORE_FILE = 'control.sqlite';

/** Everything the control plane keeps, and how changes to it are announced. */
export interface ControlStore {
  kind: 'sqlite' | 'postgres';
  keys: KeyStore;
  accounts: AccountStore;
  audit: AuditStore;
  changes: ChangeFeed;
  /** Source connections and sync logs (issue 15). */
  sources: SourceStore;
  /** Automation schedules, the runner lease and its switch. */
  automation: AutomationStore;
  close(): Promise<void>;
}

export interface OpenControlStoreOptions {
  /** Tells replicas apart in `pg_stat_activity` (PostgreSQL only). */
  applicationName?: string;
}

export async function openControlStore(
  config: Pick<Config, 'dataDir' | 'storeUrl'>,
  options: OpenControlStoreOptions = {},
): Promise<ControlStore> {
  if (config.storeUrl) return openPostgresStore(config.storeUrl, options);
  const file = path.join(config.dataDir, CONTROL_STORE_FILE);
  // One connection per seam, as before: SQLite serialises their writes, WAL lets them read at once.
  const keys = new SqliteKeyStore(file);
  const accounts = new SqliteAccountStore(file);
  const audit = new SqliteAuditStore(file);
  const changes = new SqliteChangeFeed(file);
  const sources = new SqliteSourceStore(file);
  return bundle('sqlite', keys, accounts, audit, changes, sources, new SqliteAutomationStore(file));
}

async function openPostgresStore(url: string, options: OpenControlStoreOptions): Promise<ControlStore> {
  const pgOptions = { url, applicationName: options.applicationName };
  const db = await PostgresDatabase.open(pgOptions);
  const changes = new PostgresChangeFeed({ ...pgOptions, schema: db.schema });
  return bundle('postgres', new PostgresKeyStore(db), new PostgresAccountStore(db.retain()), new PostgresAuditStore(db.retain()), changes, new PostgresSourceStore(db.retain()),
    new PostgresAutomationStore(db.retain()));
}

function bundle(kind: ControlStore['kind'], keys: KeyStore, accounts: AccountStore, audit: AuditStore, changes: ChangeFeed, sources: SourceStore,
  automation: AutomationStore): ControlStore {
  let closing: Promise<void> | undefined;
  return {
    kind,
    keys,
    accounts,
    audit,
    changes,
    sources,
    automation,
    close: () => (closing ??= (async () => {
      await changes.close();
      await automation.close();
      await keys.close();
      await accounts.close();
      await audit.close();
      await sources.close();
    })()),
  };
}
