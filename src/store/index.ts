/** Picks the control-plane store from configuration: SQLite in DATA_DIR unless STORE_URL says otherwise. */
import path from 'node:path';
import { ConfigError, type Config } from '../config/index.js';
import type { AccountStore } from './account-store.js';
import type { AuditStore } from './audit-store.js';
import type { KeyStore } from './key-store.js';
import { SqliteAccountStore } from './sqlite-accounts.js';
import { SqliteAuditStore } from './sqlite-audit.js';
import { SqliteKeyStore } from './sqlite.js';

export type { KeyStore, StoredKey, NewKey, KeyMatch, RevokeOptions, RevokeOutcome } from './key-store.js';
export type { AuditStore } from './audit-store.js';
export type { AccountStore, AdminAccount, KnownAddressStore, RevokedToken } from './account-store.js';

/** The SQLite file: never a `.duckdb` file, so DuckDB never opens it and SQL can never reach it. */
export const CONTROL_STORE_FILE = 'control.sqlite';

export function openKeyStore(config: Pick<Config, 'dataDir' | 'storeUrl'>): KeyStore {
  return new SqliteKeyStore(controlStoreFile(config));
}

/** The audit trail lives in the same control-plane store as the keys. */
export function openAuditStore(config: Pick<Config, 'dataDir' | 'storeUrl'>): AuditStore {
  return new SqliteAuditStore(controlStoreFile(config));
}

/** Dashboard accounts and logged-out tokens, in the same control-plane store. */
export function openAccountStore(config: Pick<Config, 'dataDir' | 'storeUrl'>): AccountStore {
  return new SqliteAccountStore(controlStoreFile(config));
}

function controlStoreFile(config: Pick<Config, 'dataDir' | 'storeUrl'>): string {
  if (config.storeUrl) {
    throw new ConfigError('STORE_URL', 'points at PostgreSQL, whose store is not in this release yet; unset it to use the embedded SQLite store');
  }
  return path.join(config.dataDir, CONTROL_STORE_FILE);
}
