/**
 * Versioned schema of the PostgreSQL control-plane store: the SQLite store's tables and columns
 * (`../migrations.ts`) in PostgreSQL's dialect. Times are `timestamptz` (microseconds, so the
 * millisecond ISO strings the stores are given come back exactly); JSON columns stay `text`, so the
 * bytes read are the bytes written, as in SQLite (jsonb would reorder keys).
 */
import type { Migration } from '../migrations.js';

export const POSTGRES_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE api_keys (
        id text PRIMARY KEY,
        prefix text NOT NULL,
        key_hash text NOT NULL,
        label text NOT NULL,
        description text NOT NULL DEFAULT '',
        is_admin boolean NOT NULL DEFAULT false,
        collection_permissions text NOT NULL DEFAULT '{}',
        expires_at timestamptz,
        rate_limit integer,
        allowed_ips text,
        created_at timestamptz NOT NULL,
        created_by text,
        last_used_at timestamptz,
        revoked_at timestamptz,
        generation integer NOT NULL DEFAULT 1
      );
      CREATE UNIQUE INDEX api_keys_key_hash ON api_keys (key_hash);
      CREATE INDEX api_keys_active_admins ON api_keys (id) WHERE is_admin AND revoked_at IS NULL;
      CREATE TABLE api_key_grace (
        key_hash text PRIMARY KEY,
        key_id text NOT NULL REFERENCES api_keys (id),
        valid_until timestamptz NOT NULL
      );
      CREATE INDEX api_key_grace_key_id ON api_key_grace (key_id);
    `,
  },
  {
    version: 2,
    sql: `
      CREATE TABLE audit_events (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        at timestamptz NOT NULL,
        kind text NOT NULL,
        actor text,
        key_prefix text,
        ip text,
        user_agent text,
        route text,
        code text,
        target text,
        details text
      );
      CREATE INDEX audit_events_at ON audit_events (at);
      CREATE INDEX audit_events_kind ON audit_events (kind, id);
      CREATE INDEX audit_events_actor ON audit_events (actor, id);
      CREATE INDEX audit_events_ip ON audit_events (ip, id);
      CREATE INDEX audit_events_target ON audit_events (target, id);
    `,
  },
  {
    version: 3,
    sql: `
      CREATE TABLE admin_users (
        username text PRIMARY KEY,
        password_hash text NOT NULL,
        generation integer NOT NULL DEFAULT 1,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL
      );
      CREATE TABLE revoked_tokens (
        jti text PRIMARY KEY,
        expires_at timestamptz NOT NULL
      );
      CREATE INDEX revoked_tokens_expires_at ON revoked_tokens (expires_at);
      CREATE TABLE login_addresses (
        username text NOT NULL,
        address text NOT NULL,
        last_seen_at timestamptz NOT NULL,
        PRIMARY KEY (username, address)
      );
      CREATE INDEX login_addresses_last_seen ON login_addresses (username, last_seen_at);
    `,
  },
  {
    // Every control-plane change is announced on the channel 'duckgate:<schema>' when its
    // transaction commits, naming what changed, so every replica drops exactly that from its caches
    // (store/postgres/changes.ts). Triggers, so the CLI's changes are announced too; last-use times
    // and audit writes are not changes and announce nothing.
    version: 4,
    sql: `
      CREATE FUNCTION duckgate_announce_change() RETURNS trigger LANGUAGE plpgsql AS $$
      DECLARE
        payload text;
      BEGIN
        IF TG_TABLE_NAME = 'api_keys' THEN
          payload := json_build_object('kind', 'key', 'keyId', CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END)::text;
        ELSIF TG_TABLE_NAME = 'api_key_grace' THEN
          payload := json_build_object('kind', 'key', 'keyId', CASE WHEN TG_OP = 'DELETE' THEN OLD.key_id ELSE NEW.key_id END)::text;
        ELSIF TG_TABLE_NAME = 'revoked_tokens' THEN
          payload := json_build_object('kind', 'token', 'jti', NEW.jti, 'expiresAt', NEW.expires_at)::text;
        ELSIF TG_TABLE_NAME = 'admin_users' THEN
          payload := json_build_object('kind', 'account', 'username', NEW.username)::text;
        END IF;
        PERFORM pg_notify('duckgate:' || TG_TABLE_SCHEMA, payload);
        RETURN NULL;
      END
      $$;
      CREATE TRIGGER api_keys_announce AFTER INSERT OR DELETE OR UPDATE OF prefix, key_hash, label, description, is_admin,
        collection_permissions, expires_at, rate_limit, allowed_ips, revoked_at, generation ON api_keys
        FOR EACH ROW EXECUTE FUNCTION duckgate_announce_change();
      CREATE TRIGGER api_key_grace_announce AFTER INSERT OR DELETE ON api_key_grace
        FOR EACH ROW EXECUTE FUNCTION duckgate_announce_change();
      CREATE TRIGGER revoked_tokens_announce AFTER INSERT ON revoked_tokens
        FOR EACH ROW EXECUTE FUNCTION duckgate_announce_change();
      CREATE TRIGGER admin_users_announce AFTER INSERT OR UPDATE OF password_hash, generation ON admin_users
        FOR EACH ROW EXECUTE FUNCTION duckgate_announce_change();
    `,
  },
  {
    // Source sync (issue 15): as SQLite's migration 7.
    version: 5,
    sql: `
      CREATE TABLE data_sources (
        database text PRIMARY KEY,
        url text NOT NULL,
        sealed_password text,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL
      );
      CREATE TABLE sync_logs (
        id text PRIMARY KEY,
        database text NOT NULL,
        type text NOT NULL,
        status text NOT NULL,
        started_at timestamptz NOT NULL,
        finished_at timestamptz NOT NULL,
        total_records bigint NOT NULL,
        run jsonb NOT NULL
      );
      CREATE INDEX sync_logs_finished ON sync_logs (finished_at);
      CREATE INDEX sync_logs_database ON sync_logs (database, finished_at);
    `,
  },
  {
    // Automation: the tables of the SQLite store's migration 8 (schedules, the runner lease, settings).
    version: 6,
    sql: `
      CREATE TABLE automation_schedules (
        database_name text NOT NULL,
        kind text NOT NULL,
        interval_seconds integer NOT NULL,
        enabled boolean NOT NULL DEFAULT true,
        options text NOT NULL DEFAULT '{}',
        next_run_at timestamptz NOT NULL,
        last_run_at timestamptz,
        last_status text,
        last_error text,
        last_duration_ms integer,
        runs integer NOT NULL DEFAULT 0,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        PRIMARY KEY (database_name, kind)
      );
      CREATE TABLE automation_leases (
        name text PRIMARY KEY,
        holder text NOT NULL,
        expires_at timestamptz NOT NULL
      );
      CREATE TABLE automation_settings (
        name text PRIMARY KEY,
        value text NOT NULL,
        updated_at timestamptz NOT NULL
      );
    `,
  },
];
