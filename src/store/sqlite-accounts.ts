/**
 * Dashboard accounts and logged-out tokens in the embedded control-plane store (migration 4), in
 * the same SQLite file as the keys, through its own connection.
 */
import type Database from 'better-sqlite3';
import type { AccountStore, AdminAccount, RevokedToken } from './account-store.js';
import type { AuditEvent } from './audit-store.js';
import { prepareAuditInsert, type AuditInsert } from './sqlite-audit-row.js';
import { openSqliteFile } from './sqlite-file.js';

interface AccountRow {
  username: string;
  password_hash: string;
  generation: number;
  created_at: string;
  updated_at: string;
}

export class SqliteAccountStore implements AccountStore {
  private readonly db: Database.Database;
  private readonly statements;
  /** A change's audit event, written in the change's transaction on this FULL connection. */
  private readonly insertAudit: AuditInsert;

  constructor(file: string) {
    // A logout or password change must survive a power cut, as a key revocation does.
    this.db = openSqliteFile(file, { synchronous: 'FULL' });
    const db = this.db;
    this.statements = {
      get: db.prepare<[string], AccountRow>(`SELECT username, password_hash, generation, created_at, updated_at FROM admin_users WHERE username = ?`),
      create: db.prepare(`INSERT INTO admin_users (username, password_hash, generation, created_at, updated_at)
        VALUES (@username, @hash, 1, @now, @now) ON CONFLICT (username) DO NOTHING`),
      setPassword: db.prepare(`INSERT INTO admin_users (username, password_hash, generation, created_at, updated_at)
        VALUES (@username, @hash, 1, @now, @now)
        ON CONFLICT (username) DO UPDATE SET password_hash = excluded.password_hash,
          generation = admin_users.generation + 1, updated_at = excluded.updated_at`),
      revoke: db.prepare(`INSERT INTO revoked_tokens (jti, expires_at) VALUES (?, ?) ON CONFLICT (jti) DO NOTHING`),
      isRevoked: db.prepare<[string, string], { found: number }>(`SELECT 1 AS found FROM revoked_tokens WHERE jti = ? AND expires_at > ?`),
      listRevoked: db.prepare<[string], { jti: string; expires_at: string }>(`SELECT jti, expires_at FROM revoked_tokens WHERE expires_at > ?`),
      prune: db.prepare(`DELETE FROM revoked_tokens WHERE expires_at <= ?`),
      rememberAddress: db.prepare(`INSERT INTO login_addresses (username, address, last_seen_at) VALUES (@username, @address, @at)
        ON CONFLICT (username, address) DO UPDATE SET last_seen_at = excluded.last_seen_at`),
      trimAddresses: db.prepare(`DELETE FROM login_addresses WHERE username = @username AND (last_seen_at < @since OR address NOT IN
        (SELECT address FROM login_addresses WHERE username = @username ORDER BY last_seen_at DESC, address LIMIT @max))`),
      knownAddress: db.prepare<{ username: string; address: string; since: string }, { found: number }>(`SELECT 1 AS found FROM login_addresses
        WHERE username = @username AND address = @address AND last_seen_at >= @since`),
    };
    this.insertAudit = prepareAuditInsert(db);
  }

  async getAccount(username: string): Promise<AdminAccount | undefined> {
    const row = this.statements.get.get(username);
    return row && toAccount(row);
  }

  async setPassword(username: string, passwordHash: string, audit?: AuditEvent): Promise<AdminAccount> {
    return this.db.transaction(() => {
      this.statements.setPassword.run({ username, hash: passwordHash, now: new Date().toISOString() });
      if (audit !== undefined) this.insertAudit(audit);
      return toAccount(this.statements.get.get(username)!);
    })();
  }

  async createAccount(username: string, passwordHash: string): Promise<boolean> {
    return this.statements.create.run({ username, hash: passwordHash, now: new Date().toISOString() }).changes === 1;
  }

  async revokeToken(token: RevokedToken, audit?: AuditEvent): Promise<void> {
    this.db.transaction(() => {
      this.statements.revoke.run(token.jti, token.expiresAt);
      if (audit !== undefined) this.insertAudit(audit);
    })();
  }

  async isTokenRevoked(jti: string, now: string): Promise<boolean> {
    return this.statements.isRevoked.get(jti, now) !== undefined;
  }

  async listRevokedTokens(now: string): Promise<RevokedToken[]> {
    return this.statements.listRevoked.all(now).map((row) => ({ jti: row.jti, expiresAt: row.expires_at }));
  }

  async pruneRevokedTokens(now: string): Promise<number> {
    return this.statements.prune.run(now).changes;
  }

  async rememberLoginAddress(username: string, address: string, at: string, retention: { since: string; maxPerAccount: number }): Promise<void> {
    this.db.transaction(() => {
      this.statements.rememberAddress.run({ username, address, at });
      this.statements.trimAddresses.run({ username, since: retention.since, max: retention.maxPerAccount });
    })();
  }

  async isKnownLoginAddress(username: string, address: string, since: string): Promise<boolean> {
    return this.statements.knownAddress.get({ username, address, since }) !== undefined;
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}

function toAccount(row: AccountRow): AdminAccount {
  return { username: row.username, passwordHash: row.password_hash, generation: row.generation, createdAt: row.created_at, updatedAt: row.updated_at };
}
