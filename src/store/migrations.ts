/**
 * Versioned schema of the embedded (SQLite) control-plane store, applied in order, each once. The
 * PostgreSQL store has its own list in its dialect (`postgres/migrations.ts`): the same tables and
 * columns, with native times, booleans and identity ids, and NOTIFY triggers instead of a log table.
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
  {
    // The audit trail: append-only, newest first by id, pruned by `at`. Never a full key or password.
    // Filter indexes end in id so a filtered page is one backwards index scan. (PostgreSQL: the id
    // column needs its dialect's identity form; everything else runs as is.)
    version: 2,
    sql: `
      CREATE TABLE audit_events (
        id INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        kind TEXT NOT NULL,
        actor TEXT,
        key_prefix TEXT,
        ip TEXT,
        user_agent TEXT,
        route TEXT,
        code TEXT,
        target TEXT,
        details TEXT
      );
      CREATE INDEX audit_events_at ON audit_events (at);
      CREATE INDEX audit_events_kind ON audit_events (kind, id);
      CREATE INDEX audit_events_actor ON audit_events (actor, id);
      CREATE INDEX audit_events_ip ON audit_events (ip, id);
      CREATE INDEX audit_events_target ON audit_events (target, id);
    `,
  },
  {
    // A counter that only key changes move, so a running server's key cache is dropped when the CLI
    // changes a key, and not when audit events or last-use times are written. (SQLite triggers;
    // the PostgreSQL store will announce changes with LISTEN/NOTIFY instead.)
    version: 3,
    sql: `
      CREATE TABLE key_changes (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL);
      INSERT INTO key_changes (id, version) VALUES (1, 0);
      CREATE TRIGGER api_keys_inserted AFTER INSERT ON api_keys
        BEGIN UPDATE key_changes SET version = version + 1 WHERE id = 1; END;
      CREATE TRIGGER api_keys_deleted AFTER DELETE ON api_keys
        BEGIN UPDATE key_changes SET version = version + 1 WHERE id = 1; END;
      CREATE TRIGGER api_keys_changed AFTER UPDATE OF prefix, key_hash, label, description, is_admin,
        collection_permissions, expires_at, rate_limit, allowed_ips, revoked_at, generation ON api_keys
        BEGIN UPDATE key_changes SET version = version + 1 WHERE id = 1; END;
      CREATE TRIGGER api_key_grace_inserted AFTER INSERT ON api_key_grace
        BEGIN UPDATE key_changes SET version = version + 1 WHERE id = 1; END;
      CREATE TRIGGER api_key_grace_deleted AFTER DELETE ON api_key_grace
        BEGIN UPDATE key_changes SET version = version + 1 WHERE id = 1; END;
    `,
  },
  {
    // Dashboard accounts (never a password: an argon2id hash), and the ids of logged-out tokens,
    // kept until the token would have expired so a restart does not bring it back. `generation`
    // moves with every password change and ends every session issued before it.
    version: 4,
    sql: `
      CREATE TABLE admin_users (
        username TEXT PRIMARY KEY,
        password_hash TEXT NOT NULL,
        generation INTEGER NOT NULL DEFAULT 1,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      );
      CREATE TABLE revoked_tokens (
        jti TEXT PRIMARY KEY,
        expires_at TEXT NOT NULL
      );
      CREATE INDEX revoked_tokens_expires_at ON revoked_tokens (expires_at);
    `,
  },
  {
    // Addresses the admin signed in from (login throttle, README "Login brute force"): exempt from
    // the per-account cap for 30 days, so a spray from strangers cannot lock the admin out of a
    // usual address. In the store, not in memory, so a restart or another replica keeps them.
    // `address` is the throttle's client key (an IPv4 address or an IPv6 /64).
    version: 5,
    sql: `
      CREATE TABLE login_addresses (
        username TEXT NOT NULL,
        address TEXT NOT NULL,
        last_seen_at TEXT NOT NULL,
        PRIMARY KEY (username, address)
      );
      CREATE INDEX login_addresses_last_seen ON login_addresses (username, last_seen_at);
    `,
  },
  {
    // A log of what changed (a key by id, a logged-out token by jti, an account by name), filled by
    // triggers so the CLI's changes are logged too. A running server polls it and drops exactly the
    // affected cache entries (store/sqlite-changes.ts); it replaces migration 3's single counter,
    // which could only say "something changed". Rows older than a few minutes are pruned.
    version: 6,
    sql: `
      CREATE TABLE control_changes (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL,
        ref TEXT NOT NULL,
        detail TEXT,
        at TEXT NOT NULL
      );
      CREATE INDEX control_changes_at ON control_changes (at);
      DROP TRIGGER api_keys_inserted;
      DROP TRIGGER api_keys_deleted;
      DROP TRIGGER api_keys_changed;
      DROP TRIGGER api_key_grace_inserted;
      DROP TRIGGER api_key_grace_deleted;
      DROP TABLE key_changes;
      CREATE TRIGGER api_keys_inserted AFTER INSERT ON api_keys
        BEGIN INSERT INTO control_changes (kind, ref, at) VALUES ('key', NEW.id, strftime('%Y-%m-%dT%H:%M:%fZ', 'now')); END;
      CREATE TRIGGER api_keys_deleted AFTER DELETE ON api_keys
        BEGIN INSERT INTO control_changes (kind, ref, at) VALUES ('key', OLD.id, strftime('%Y-%m-%dT%H:%M:%fZ', 'now')); END;
      CREATE TRIGGER api_keys_changed AFTER UPDATE OF prefix, key_hash, label, description, is_admin,
        collection_permissions, expires_at, rate_limit, allowed_ips, revoked_at, generation ON api_keys
        BEGIN INSERT INTO control_changes (kind, ref, at) VALUES ('key', NEW.id, strftime('%Y-%m-%dT%H:%M:%fZ', 'now')); END;
      CREATE TRIGGER api_key_grace_inserted AFTER INSERT ON api_key_grace
        BEGIN INSERT INTO control_changes (kind, ref, at) VALUES ('key', NEW.key_id, strftime('%Y-%m-%dT%H:%M:%fZ', 'now')); END;
      CREATE TRIGGER api_key_grace_deleted AFTER DELETE ON api_key_grace
        BEGIN INSERT INTO control_changes (kind, ref, at) VALUES ('key', OLD.key_id, strftime('%Y-%m-%dT%H:%M:%fZ', 'now')); END;
      CREATE TRIGGER revoked_tokens_inserted AFTER INSERT ON revoked_tokens
        BEGIN INSERT INTO control_changes (kind, ref, detail, at) VALUES ('token', NEW.jti, NEW.expires_at, strftime('%Y-%m-%dT%H:%M:%fZ', 'now')); END;
      CREATE TRIGGER admin_users_inserted AFTER INSERT ON admin_users
        BEGIN INSERT INTO control_changes (kind, ref, at) VALUES ('account', NEW.username, strftime('%Y-%m-%dT%H:%M:%fZ', 'now')); END;
      CREATE TRIGGER admin_users_changed AFTER UPDATE OF password_hash, generation ON admin_users
        BEGIN INSERT INTO control_changes (kind, ref, at) VALUES ('account', NEW.username, strftime('%Y-%m-%dT%H:%M:%fZ', 'now')); END;
    `,
  },
  {
    // Source sync (issue 15): a database's source connection (the password only as AES-256-GCM
    // ciphertext, see auth/source-secret.ts) and one log row per sync run.
    version: 7,
    sql: `
      CREATE TABLE data_sources (
        database TEXT PRIMARY KEY,
        url TEXT NOT NULL,
        sealed_password TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      );
      CREATE TABLE sync_logs (
        id TEXT PRIMARY KEY,
        database TEXT NOT NULL,
        type TEXT NOT NULL,
        status TEXT NOT NULL,
        started_at TEXT NOT NULL,
        finished_at TEXT NOT NULL,
        total_records INTEGER NOT NULL,
        run TEXT NOT NULL
      );
      CREATE INDEX sync_logs_finished ON sync_logs (finished_at);
      CREATE INDEX sync_logs_database ON sync_logs (database, finished_at);
    `,
  },
  {
    // Automation (issue 15 item 4): job schedules per database and kind, the lease that lets one
    // runner at a time act on them (several replicas on one store), and the runner's on/off switch.
    version: 8,
    sql: `
      CREATE TABLE automation_schedules (
        database_name TEXT NOT NULL,
        kind TEXT NOT NULL,
        interval_seconds INTEGER NOT NULL,
        enabled INTEGER NOT NULL DEFAULT 1,
        options TEXT NOT NULL DEFAULT '{}',
        next_run_at TEXT NOT NULL,
        last_run_at TEXT,
        last_status TEXT,
        last_error TEXT,
        last_duration_ms INTEGER,
        runs INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (database_name, kind)
      );
      CREATE TABLE automation_leases (
        name TEXT PRIMARY KEY,
        holder TEXT NOT NULL,
        expires_at TEXT NOT NULL
      );
      CREATE TABLE automation_settings (
        name TEXT PRIMARY KEY,
        value TEXT NOT NULL,
        updated_at TEXT NOT NULL
      );
    `,
  },
];
