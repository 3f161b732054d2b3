/**
 * Dashboard accounts, logged-out tokens and known login addresses on PostgreSQL: the
 * `AccountStore` of `../sqlite-accounts.ts`, shared by every replica on the store. A password
 * change's or a logout's audit event is inserted in the change's transaction.
 */
import type { AccountStore, AdminAccount, RevokedToken } from '../account-store.js';
import type { AuditEvent } from '../audit-store.js';
import { insertAuditEvent } from './audit.js';
import type { PostgresDatabase } from './database.js';
import { isoTime } from './times.js';

interface AccountRow {
  username: string;
  password_hash: string;
  generation: number;
  created_at: Date;
  updated_at: Date;
}

const ACCOUNT_COLUMNS = 'username, password_hash, generation, created_at, updated_at';

export class PostgresAccountStore implements AccountStore {
  private closed = false;

  constructor(private readonly db: PostgresDatabase) {}

  async getAccount(username: string): Promise<AdminAccount | undefined> {
    const { rows } = await this.db.query<AccountRow>(`SELECT ${ACCOUNT_COLUMNS} FROM admin_users WHERE username = $1`, [username]);
    return rows[0] && toAccount(rows[0]);
  }

  async setPassword(username: string, passwordHash: string, audit?: AuditEvent): Promise<AdminAccount> {
    return this.db.transaction(async (client) => {
      const { rows } = await client.query<AccountRow>(`INSERT INTO admin_users (username, password_hash, generation, created_at, updated_at)
        VALUES ($1, $2, 1, $3, $3)
        ON CONFLICT (username) DO UPDATE SET password_hash = excluded.password_hash,
          generation = admin_users.generation + 1, updated_at = excluded.updated_at
        RETURNING ${ACCOUNT_COLUMNS}`, [username, passwordHash, new Date().toISOString()]);
      if (audit !== undefined) await insertAuditEvent(client, audit);
      return toAccount(rows[0]!);
    });
  }

  async createAccount(username: string, passwordHash: string): Promise<boolean> {
    const { rowCount } = await this.db.query(`INSERT INTO admin_users (username, password_hash, generation, created_at, updated_at)
      VALUES ($1, $2, 1, $3, $3) ON CONFLICT (username) DO NOTHING`, [username, passwordHash, new Date().toISOString()]);
    return rowCount === 1;
  }

  async revokeToken(token: RevokedToken, audit?: AuditEvent): Promise<void> {
    if (audit === undefined) {
      await this.db.query(`INSERT INTO revoked_tokens (jti, expires_at) VALUES ($1, $2) ON CONFLICT (jti) DO NOTHING`, [token.jti, token.expiresAt]);
      return;
    }
    await this.db.transaction(async (client) => {
      await client.query(`INSERT INTO revoked_tokens (jti, expires_at) VALUES ($1, $2) ON CONFLICT (jti) DO NOTHING`, [token.jti, token.expiresAt]);
      await insertAuditEvent(client, audit);
    });
  }

  async isTokenRevoked(jti: string, now: string): Promise<boolean> {
    const { rowCount } = await this.db.query(`SELECT 1 FROM revoked_tokens WHERE jti = $1 AND expires_at > $2`, [jti, now]);
    return rowCount === 1;
  }

  async listRevokedTokens(now: string): Promise<RevokedToken[]> {
    const { rows } = await this.db.query<{ jti: string; expires_at: Date }>(`SELECT jti, expires_at FROM revoked_tokens WHERE expires_at > $1`, [now]);
    return rows.map((row) => ({ jti: row.jti, expiresAt: isoTime(row.expires_at) }));
  }

  async pruneRevokedTokens(now: string): Promise<number> {
    const { rowCount } = await this.db.query(`DELETE FROM revoked_tokens WHERE expires_at <= $1`, [now]);
    return rowCount ?? 0;
  }

  async rememberLoginAddress(username: string, address: string, at: string, retention: { since: string; maxPerAccount: number }): Promise<void> {
    await this.db.transaction(async (client) => {
      await client.query(`INSERT INTO login_addresses (username, address, last_seen_at) VALUES ($1, $2, $3)
        ON CONFLICT (username, address) DO UPDATE SET last_seen_at = excluded.last_seen_at`, [username, address, at]);
      // Byte order for ties ("C"), as SQLite compares text, so both stores keep the same addresses.
      await client.query(`DELETE FROM login_addresses WHERE username = $1 AND (last_seen_at < $2 OR address NOT IN
        (SELECT address FROM login_addresses WHERE username = $1 ORDER BY last_seen_at DESC, address COLLATE "C" LIMIT $3))`,
      [username, retention.since, retention.maxPerAccount]);
    });
  }

  async isKnownLoginAddress(username: string, address: string, since: string): Promise<boolean> {
    const { rowCount } = await this.db.query(`SELECT 1 FROM login_addresses WHERE username = $1 AND address = $2 AND last_seen_at >= $3`,
      [username, address, since]);
    return rowCount === 1;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.db.release();
  }
}

function toAccount(row: AccountRow): AdminAccount {
  return {
    username: row.username,
    passwordHash: row.password_hash,
    generation: row.generation,
    createdAt: isoTime(row.created_at),
    updatedAt: isoTime(row.updated_at),
  };
}
