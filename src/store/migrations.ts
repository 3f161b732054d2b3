/**
 * Versioned schema of the control-plane store, applied in order, each once. Portable SQL only:
 * the PostgreSQL store runs the same list.
 */
export interface Migration {
  version: number;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE api_keys (
        id TEXT PRIMARY KEY,
        prefix TEXT NOT NULL,
        key_hash TEXT NOT NULL,
        label TEXT NOT NULL,
        description TEXT NOT NULL DEFAULT '',
        is_admin INTEGER NOT NULL DEFAULT 0,
        collection_permissions TEXT NOT NULL DEFAULT '{}',
        expires_at TEXT,
        rate_limit INTEGER,
        allowed_ips TEXT,
        created_at TEXT NOT NULL,
        created_by TEXT,
        last_used_at TEXT,
        revoked_at TEXT,
        generation INTEGER NOT NULL DEFAULT 1
      );
      CREATE UNIQUE INDEX api_keys_key_hash ON api_keys (key_hash);
      CREATE TABLE api_key_grace (
        key_hash TEXT PRIMARY KEY,
        key_id TEXT NOT NULL REFERENCES api_keys (id),
        valid_until TEXT NOT NULL
      );
      CREATE INDEX api_key_grace_key_id ON api_key_grace (key_id);
    `,
  },
];
