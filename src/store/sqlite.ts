/**
 * The embedded control-plane store: SQLite through better-sqlite3, in WAL mode so the CLI can
 * write while a server reads. The SQL stays portable (TEXT times in ISO form, no SQLite-only
 * types) so the PostgreSQL store can share it.
 */
import Database from 'better-sqlite3';
import type { PermissionSet } from '../auth/grants.js';
import type { AuditEvent } from './audit-store.js';
import { takesAdminPower, type KeyMatch, type KeyStore, type KeyUpdate, type NewKey, type RevokeOptions, type RevokeOutcome, type StoredKey, type UpdateOutcome } from './key-store.js';
import { prepareAuditInsert, type AuditInsert } from './sqlite-audit-row.js';
import { openSqliteFile } from './sqlite-file.js';

interface KeyRow {
  id: string;
  prefix: string;
  label: string;
  description: string;
  is_admin: number;
  collection_permissions: string;
  expires_at: string | null;
  rate_limit: number | null;
  allowed_ips: string | null;
  created_at: string;
  created_by: string | null;
  last_used_at: string | null;
  generation: number;
  disabled_at: string | null;
}

const KEY_COLUMNS = `k.id, k.prefix, k.label, k.description, k.is_admin, k.collection_permissions, k.expires_at,
  k.rate_limit, k.allowed_ips, k.created_at, k.created_by, k.last_used_at, k.generation, k.disabled_at`;

export class SqliteKeyStore implements KeyStore {
  private readonly db: Database.Database;
  private readonly statements;
  /** A change's audit event, written in the change's transaction on this FULL connection. */
  private readonly insertAudit: AuditInsert;

  constructor(file: string) {
    // A revoked key must stay revoked even after a power cut: FULL syncs the WAL on every commit.
    this.db = openSqliteFile(file, { synchronous: 'FULL' });
    // Key lookups should cost the same at a million keys as at a thousand: keep the hash index in
    // memory (64 MiB page cache) and read the file through mmap rather than read() calls.
    this.db.pragma('cache_size = -65536');
    this.db.pragma('mmap_size = 268435456');
    const db = this.db;
    this.statements = {
      insert: db.prepare(`INSERT INTO api_keys (id, prefix, key_hash, label, description, is_admin, collection_permissions,
        expires_at, rate_limit, allowed_ips, created_at, created_by, generation)
        VALUES (@id, @prefix, @hash, @label, @description, @isAdmin, @permissions, @expiresAt, @rateLimit, @allowedIps, @createdAt, @createdBy, 1)`),
      insertFirstAdmin: db.prepare(`INSERT INTO api_keys (id, prefix, key_hash, label, description, is_admin, collection_permissions,
        expires_at, rate_limit, allowed_ips, created_at, created_by, generation)
        SELECT @id, @prefix, @hash, @label, @description, 1, @permissions, @expiresAt, @rateLimit, @allowedIps, @createdAt, @createdBy, 1
        WHERE NOT EXISTS (SELECT 1 FROM api_keys WHERE is_admin = 1 AND revoked_at IS NULL)`),
      byHash: db.prepare<[string], KeyRow>(`SELECT ${KEY_COLUMNS} FROM api_keys k WHERE k.key_hash = ? AND k.revoked_at IS NULL`),
      byGraceHash: db.prepare<[string], KeyRow & { valid_until: string }>(`SELECT ${KEY_COLUMNS}, g.valid_until FROM api_key_grace g
        JOIN api_keys k ON k.id = g.key_id WHERE g.key_hash = ? AND k.revoked_at IS NULL`),
      byId: db.prepare<[string], KeyRow>(`SELECT ${KEY_COLUMNS} FROM api_keys k WHERE k.id = ? AND k.revoked_at IS NULL`),
      list: db.prepare<[], KeyRow>(`SELECT ${KEY_COLUMNS} FROM api_keys k WHERE k.revoked_at IS NULL ORDER BY k.created_at, k.id`),
      // One statement: the admin count is read under the same write lock that revokes.
      revoke: db.prepare(`UPDATE api_keys SET revoked_at = @now WHERE id = @id AND revoked_at IS NULL
        AND (is_admin = 0 OR (SELECT count(*) FROM api_keys o WHERE o.is_admin = 1 AND o.revoked_at IS NULL AND o.disabled_at IS NULL AND o.id <> @id) >= @requireOtherAdmins)`),
      otherEnabledAdmins: db.prepare<[string], { n: number }>(`SELECT count(*) AS n FROM api_keys WHERE is_admin = 1 AND revoked_at IS NULL AND disabled_at IS NULL AND id <> ?`),
      dropGrace: db.prepare(`DELETE FROM api_key_grace WHERE key_id = ?`),
      pruneGrace: db.prepare(`DELETE FROM api_key_grace WHERE valid_until <= ?`),
      addGrace: db.prepare(`INSERT INTO api_key_grace (key_hash, key_id, valid_until) SELECT key_hash, id, ? FROM api_keys WHERE id = ?`),
      rehash: db.prepare(`UPDATE api_keys SET key_hash = ?, prefix = ?, generation = generation + 1 WHERE id = ? AND revoked_at IS NULL`),
      setPermissions: db.prepare(`UPDATE api_keys SET collection_permissions = ? WHERE id = ? AND revoked_at IS NULL`),
      touch: db.prepare(`UPDATE api_keys SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)`),
      countAdmins: db.prepare<[], { n: number }>(`SELECT count(*) AS n FROM api_keys WHERE is_admin = 1 AND revoked_at IS NULL`),
    };
    this.insertAudit = prepareAuditInsert(db);
  }

  async createKey(key: NewKey, audit?: AuditEvent): Promise<StoredKey> {
    return this.db.transaction(() => {
      this.statements.insert.run(keyParams(key));
      this.audited(audit);
      return toKey(this.statements.byId.get(key.id)!);
    })();
  }

  async createFirstAdminKey(key: NewKey, audit?: AuditEvent): Promise<StoredKey | undefined> {
    // IMMEDIATE takes the write lock before the NOT EXISTS is read: two processes starting at once
    // cannot both see "no admin" and both insert.
    return this.db.transaction(() => {
      if (this.statements.insertFirstAdmin.run(keyParams(key)).changes !== 1) return undefined;
      this.audited(audit);
      return toKey(this.statements.byId.get(key.id)!);
    }).immediate();
  }

  async findKeyByHash(hash: string): Promise<KeyMatch | undefined> {
    const current = this.statements.byHash.get(hash);
    if (current) return { key: toKey(current), validUntil: current.expires_at };
    const grace = this.statements.byGraceHash.get(hash);
    if (!grace) return undefined;
    const until = grace.expires_at !== null && grace.expires_at < grace.valid_until ? grace.expires_at : grace.valid_until;
    return { key: toKey(grace), validUntil: until };
  }

  async getKey(id: string): Promise<StoredKey | undefined> {
    const row = this.statements.byId.get(id);
    return row ? toKey(row) : undefined;
  }

  async listKeys(): Promise<StoredKey[]> {
    return this.statements.list.all().map(toKey);
  }

  async revokeKey(id: string, options: RevokeOptions = { requireOtherAdmins: 0 }, audit?: AuditEvent): Promise<RevokeOutcome> {
    // IMMEDIATE: the write lock is held from the first read, so the count and the revocation see
    // the same state whichever connection or process commits first.
    return this.db.transaction((): RevokeOutcome => {
      const revoked = this.statements.revoke.run({ now: new Date().toISOString(), id, requireOtherAdmins: options.requireOtherAdmins }).changes === 1;
      if (revoked) {
        this.statements.dropGrace.run(id);
        this.audited(audit);
        return 'revoked';
      }
      return this.statements.byId.get(id) ? 'last_admin' : 'not_found';
    }).immediate();
  }

  async replaceKeyHash(id: string, next: { hash: string; prefix: string }, graceUntil: string | null, audit?: AuditEvent): Promise<StoredKey | undefined> {
    return this.db.transaction(() => {
      this.statements.pruneGrace.run(new Date().toISOString());
      // A second regeneration ends the first one's grace: only the key just replaced lives on.
      this.statements.dropGrace.run(id);
      if (graceUntil) this.statements.addGrace.run(graceUntil, id);
      if (this.statements.rehash.run(next.hash, next.prefix, id).changes !== 1) return undefined;
      this.audited(audit);
      return toKey(this.statements.byId.get(id)!);
    })();
  }

  async setPermissions(id: string, permissions: PermissionSet, audit?: AuditEvent): Promise<StoredKey | undefined> {
    return this.db.transaction(() => {
      if (this.statements.setPermissions.run(JSON.stringify(permissions), id).changes !== 1) return undefined;
      this.audited(audit);
      return toKey(this.statements.byId.get(id)!);
    })();
  }

  async updateKey(id: string, update: KeyUpdate, options: RevokeOptions = { requireOtherAdmins: 0 }, audit?: AuditEvent): Promise<UpdateOutcome> {
    const { sets, params } = updateSets(update);
    // IMMEDIATE: the admin count read below and the update see the same state, whichever process writes.
    return this.db.transaction((): UpdateOutcome => {
      const current = this.statements.byId.get(id);
      if (!current) return { outcome: 'not_found' };
      if (takesAdminPower(current.is_admin === 1, current.disabled_at !== null, update)
        && this.statements.otherEnabledAdmins.get(id)!.n < options.requireOtherAdmins) return { outcome: 'last_admin' };
      if (sets.length > 0) this.db.prepare(`UPDATE api_keys SET ${sets.join(', ')} WHERE id = @id AND revoked_at IS NULL`).run({ ...params, id });
      this.audited(audit);
      return { outcome: 'updated', key: toKey(this.statements.byId.get(id)!) };
    }).immediate();
  }

  async touchKeys(lastUsed: ReadonlyMap<string, string>): Promise<void> {
    this.db.transaction(() => {
      for (const [id, at] of lastUsed) this.statements.touch.run(at, id, at);
    })();
  }

  async countAdminKeys(): Promise<number> {
    return this.statements.countAdmins.get()!.n;
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }

  /** Inside a transaction: the change's event, committed (and synced) with it or not at all. */
  private audited(audit: AuditEvent | undefined): void {
    if (audit !== undefined) this.insertAudit(audit);
  }
}

/** The SET clauses (named parameters) of an update: only the fields it names. */
function updateSets(update: KeyUpdate): { sets: string[]; params: Record<string, unknown> } {
  const sets: string[] = [];
  const params: Record<string, unknown> = {};
  const set = (column: string, value: unknown) => {
    sets.push(`${column} = @${column}`);
    params[column] = value;
  };
  if (update.label !== undefined) set('label', update.label);
  if (update.description !== undefined) set('description', update.description);
  if (update.isAdmin !== undefined) set('is_admin', update.isAdmin ? 1 : 0);
  if (update.expiresAt !== undefined) set('expires_at', update.expiresAt);
  if (update.rateLimit !== undefined) set('rate_limit', update.rateLimit);
  if (update.allowedIps !== undefined) set('allowed_ips', update.allowedIps ? JSON.stringify(update.allowedIps) : null);
  if (update.disabled === true) {
    // Disabling twice keeps the first time.
    sets.push('disabled_at = COALESCE(disabled_at, @disabled_at)');
    params.disabled_at = new Date().toISOString();
  } else if (update.disabled === false) {
    sets.push('disabled_at = NULL');
  }
  return { sets, params };
}

function keyParams(key: NewKey) {
  return {
    ...key,
    isAdmin: key.isAdmin ? 1 : 0,
    permissions: JSON.stringify(key.permissions),
    allowedIps: key.allowedIps ? JSON.stringify(key.allowedIps) : null,
    createdAt: new Date().toISOString(),
  };
}

function toKey(row: KeyRow): StoredKey {
  return {
    id: row.id,
    prefix: row.prefix,
    label: row.label,
    description: row.description,
    isAdmin: row.is_admin === 1,
    permissions: JSON.parse(row.collection_permissions) as PermissionSet,
    expiresAt: row.expires_at,
    rateLimit: row.rate_limit,
    allowedIps: row.allowed_ips === null ? null : (JSON.parse(row.allowed_ips) as string[]),
    createdAt: row.created_at,
    createdBy: row.created_by,
    lastUsedAt: row.last_used_at,
    generation: row.generation,
    disabledAt: row.disabled_at,
  };
}
