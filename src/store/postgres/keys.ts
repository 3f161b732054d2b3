/**
 * API keys on PostgreSQL: the `KeyStore` of `../sqlite.ts` for several replicas. Each invariant is
 * one conditional operation inside the store: the last admin key is revoked only under a lock on
 * every active admin row (`FOR UPDATE`), so of replicas revoking admin keys at the same moment the
 * later ones count what the earlier ones left; the first admin key is created under a transaction
 * lock, so of replicas starting on an empty store one creates it. A change's audit event, when
 * given, is inserted in the change's transaction (see `KeyStore`).
 */
import type { PermissionSet } from '../../auth/grants.js';
import type { AuditEvent } from '../audit-store.js';
import { takesAdminPower, type KeyMatch, type KeyStore, type KeyUpdate, type NewKey, type RevokeOptions, type RevokeOutcome, type StoredKey, type UpdateOutcome } from '../key-store.js';
import { insertAuditEvent } from './audit.js';
import type { PostgresDatabase, Queryable } from './database.js';
import { isoOrNull, isoTime } from './times.js';

interface KeyRow {
  id: string;
  prefix: string;
  label: string;
  description: string;
  is_admin: boolean;
  collection_permissions: string;
  expires_at: Date | null;
  rate_limit: number | null;
  allowed_ips: string | null;
  created_at: Date;
  created_by: string | null;
  last_used_at: Date | null;
  generation: number;
  disabled_at: Date | null;
}

const KEY_COLUMNS = `k.id, k.prefix, k.label, k.description, k.is_admin, k.collection_permissions, k.expires_at,
  k.rate_limit, k.allowed_ips, k.created_at, k.created_by, k.last_used_at, k.generation, k.disabled_at`;
const RETURNING = `RETURNING id, prefix, label, description, is_admin, collection_permissions, expires_at,
  rate_limit, allowed_ips, created_at, created_by, last_used_at, generation, disabled_at`;
const INSERT = `INSERT INTO api_keys (id, prefix, key_hash, label, description, is_admin, collection_permissions,
  expires_at, rate_limit, allowed_ips, created_at, created_by, generation)`;

export class PostgresKeyStore implements KeyStore {
  private closed = false;

  constructor(private readonly db: PostgresDatabase) {}

  async createKey(key: NewKey, audit?: AuditEvent): Promise<StoredKey> {
    return this.db.transaction(async (client) => {
      const { rows } = await client.query<KeyRow>(`${INSERT} VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 1) ${RETURNING}`, keyParams(key));
      await audited(client, audit);
      return toKey(rows[0]!);
    });
  }

  async createFirstAdminKey(key: NewKey, audit?: AuditEvent): Promise<StoredKey | undefined> {
    return this.db.transaction(async (client) => {
      // NOT EXISTS alone would let two transactions each see no admin and both insert: the lock
      // makes the second wait, and its INSERT (a new snapshot in READ COMMITTED) sees the first's key.
      await client.query(`SELECT pg_advisory_xact_lock(hashtext('duckgate.first-admin.' || current_schema()))`);
      const { rows } = await client.query<KeyRow>(`${INSERT} SELECT $1::text, $2::text, $3::text, $4::text, $5::text, $6::boolean, $7::text,
        $8::timestamptz, $9::integer, $10::text, $11::timestamptz, $12::text, 1
        WHERE NOT EXISTS (SELECT 1 FROM api_keys WHERE is_admin AND revoked_at IS NULL) ${RETURNING}`, keyParams({ ...key, isAdmin: true }));
      if (!rows[0]) return undefined;
      await audited(client, audit);
      return toKey(rows[0]);
    });
  }

  async findKeyByHash(hash: string): Promise<KeyMatch | undefined> {
    // One round trip: the current hash, else a previous one within its grace period.
    const { rows } = await this.db.query<KeyRow & { valid_until: Date | null }>(`
      SELECT ${KEY_COLUMNS}, NULL::timestamptz AS valid_until FROM api_keys k WHERE k.key_hash = $1 AND k.revoked_at IS NULL
      UNION ALL
      SELECT ${KEY_COLUMNS}, g.valid_until FROM api_key_grace g JOIN api_keys k ON k.id = g.key_id WHERE g.key_hash = $1 AND k.revoked_at IS NULL
      LIMIT 1`, [hash]);
    const row = rows[0];
    if (!row) return undefined;
    const key = toKey(row);
    if (row.valid_until === null) return { key, validUntil: key.expiresAt };
    const graceUntil = isoTime(row.valid_until);
    return { key, validUntil: key.expiresAt !== null && key.expiresAt < graceUntil ? key.expiresAt : graceUntil };
  }

  async getKey(id: string): Promise<StoredKey | undefined> {
    const { rows } = await this.db.query<KeyRow>(`SELECT ${KEY_COLUMNS} FROM api_keys k WHERE k.id = $1 AND k.revoked_at IS NULL`, [id]);
    return rows[0] ? toKey(rows[0]) : undefined;
  }

  async listKeys(): Promise<StoredKey[]> {
    const { rows } = await this.db.query<KeyRow>(`SELECT ${KEY_COLUMNS} FROM api_keys k WHERE k.revoked_at IS NULL ORDER BY k.created_at, k.id`);
    return rows.map(toKey);
  }

  async revokeKey(id: string, options: RevokeOptions = { requireOtherAdmins: 0 }, audit?: AuditEvent): Promise<RevokeOutcome> {
    return this.db.transaction(async (client): Promise<RevokeOutcome> => {
      // Lock every active admin row, in one order (no deadlock between two revocations): a second
      // revocation waits here, and its UPDATE below (a new snapshot) counts what the first left.
      await client.query(`SELECT id FROM api_keys WHERE is_admin AND revoked_at IS NULL ORDER BY id FOR UPDATE`);
      const revoked = await client.query(`UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL
        AND (NOT is_admin OR (SELECT count(*) FROM api_keys o WHERE o.is_admin AND o.revoked_at IS NULL AND o.disabled_at IS NULL AND o.id <> $1) >= $3)`,
      [id, new Date().toISOString(), options.requireOtherAdmins]);
      if (revoked.rowCount === 1) {
        await client.query(`DELETE FROM api_key_grace WHERE key_id = $1`, [id]);
        await audited(client, audit);
        return 'revoked';
      }
      const { rowCount } = await client.query(`SELECT 1 FROM api_keys WHERE id = $1 AND revoked_at IS NULL`, [id]);
      return rowCount === 1 ? 'last_admin' : 'not_found';
    });
  }

  async replaceKeyHash(id: string, next: { hash: string; prefix: string }, graceUntil: string | null, audit?: AuditEvent): Promise<StoredKey | undefined> {
    return this.db.transaction(async (client) => {
      const current = await client.query<{ key_hash: string }>(`SELECT key_hash FROM api_keys WHERE id = $1 AND revoked_at IS NULL FOR UPDATE`, [id]);
      const oldHash = current.rows[0]?.key_hash;
      if (oldHash === undefined) return undefined;
      await client.query(`DELETE FROM api_key_grace WHERE valid_until <= $1`, [new Date().toISOString()]);
      // A second regeneration ends the first one's grace: only the key just replaced lives on.
      await client.query(`DELETE FROM api_key_grace WHERE key_id = $1`, [id]);
      if (graceUntil) await client.query(`INSERT INTO api_key_grace (key_hash, key_id, valid_until) VALUES ($1, $2, $3)`, [oldHash, id, graceUntil]);
      const { rows } = await client.query<KeyRow>(`UPDATE api_keys SET key_hash = $2, prefix = $3, generation = generation + 1
        WHERE id = $1 ${RETURNING}`, [id, next.hash, next.prefix]);
      await audited(client, audit);
      return toKey(rows[0]!);
    });
  }

  async setPermissions(id: string, permissions: PermissionSet, audit?: AuditEvent): Promise<StoredKey | undefined> {
    return this.db.transaction(async (client) => {
      const { rows } = await client.query<KeyRow>(`UPDATE api_keys SET collection_permissions = $2 WHERE id = $1 AND revoked_at IS NULL ${RETURNING}`,
        [id, JSON.stringify(permissions)]);
      if (!rows[0]) return undefined;
      await audited(client, audit);
      return toKey(rows[0]);
    });
  }

  async updateKey(id: string, update: KeyUpdate, options: RevokeOptions = { requireOtherAdmins: 0 }, audit?: AuditEvent): Promise<UpdateOutcome> {
    return this.db.transaction(async (client): Promise<UpdateOutcome> => {
      // The same lock order as revokeKey: every active admin row, then this key's row.
      await client.query(`SELECT id FROM api_keys WHERE is_admin AND revoked_at IS NULL ORDER BY id FOR UPDATE`);
      const found = await client.query<KeyRow>(`SELECT ${KEY_COLUMNS} FROM api_keys k WHERE k.id = $1 AND k.revoked_at IS NULL FOR UPDATE`, [id]);
      const current = found.rows[0];
      if (!current) return { outcome: 'not_found' };
      if (takesAdminPower(current.is_admin, current.disabled_at !== null, update)) {
        const { rows } = await client.query<{ n: string }>(`SELECT count(*) AS n FROM api_keys
          WHERE is_admin AND revoked_at IS NULL AND disabled_at IS NULL AND id <> $1`, [id]);
        if (Number(rows[0]!.n) < options.requireOtherAdmins) return { outcome: 'last_admin' };
      }
      const sets: string[] = [];
      const params: unknown[] = [id];
      const set = (column: string, value: unknown) => {
        params.push(value);
        sets.push(`${column} = $${params.length}`);
      };
      if (update.label !== undefined) set('label', update.label);
      if (update.description !== undefined) set('description', update.description);
      if (update.isAdmin !== undefined) set('is_admin', update.isAdmin);
      if (update.expiresAt !== undefined) set('expires_at', update.expiresAt);
      if (update.rateLimit !== undefined) set('rate_limit', update.rateLimit);
      if (update.allowedIps !== undefined) set('allowed_ips', update.allowedIps ? JSON.stringify(update.allowedIps) : null);
      if (update.disabled === true) {
        params.push(new Date().toISOString());
        sets.push(`disabled_at = COALESCE(disabled_at, $${params.length}::timestamptz)`);
      } else if (update.disabled === false) {
        sets.push('disabled_at = NULL');
      }
      let row = current;
      if (sets.length > 0) {
        const { rows } = await client.query<KeyRow>(`UPDATE api_keys SET ${sets.join(', ')} WHERE id = $1 ${RETURNING}`, params);
        row = rows[0]!;
      }
      await audited(client, audit);
      return { outcome: 'updated', key: toKey(row) };
    });
  }

  async touchKeys(lastUsed: ReadonlyMap<string, string>): Promise<void> {
    if (lastUsed.size === 0) return;
    // One statement, rows in id order (fewer lock-order conflicts with a revocation; a deadlock is retried).
    const entries = [...lastUsed].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    await this.db.query(`UPDATE api_keys k SET last_used_at = t.at FROM unnest($1::text[], $2::timestamptz[]) AS t(id, at)
      WHERE k.id = t.id AND (k.last_used_at IS NULL OR k.last_used_at < t.at)`, [entries.map(([id]) => id), entries.map(([, at]) => at)]);
  }

  async countAdminKeys(): Promise<number> {
    const { rows } = await this.db.query<{ n: string }>(`SELECT count(*) AS n FROM api_keys WHERE is_admin AND revoked_at IS NULL`);
    return Number(rows[0]!.n);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.db.release();
  }
}

/** Inside a change's transaction: its event, committed with it or not at all. */
async function audited(client: Queryable, audit: AuditEvent | undefined): Promise<void> {
  if (audit !== undefined) await insertAuditEvent(client, audit);
}

function keyParams(key: NewKey): unknown[] {
  return [
    key.id, key.prefix, key.hash, key.label, key.description, key.isAdmin, JSON.stringify(key.permissions),
    key.expiresAt, key.rateLimit, key.allowedIps ? JSON.stringify(key.allowedIps) : null, new Date().toISOString(), key.createdBy,
  ];
}

function toKey(row: KeyRow): StoredKey {
  return {
    id: row.id,
    prefix: row.prefix,
    label: row.label,
    description: row.description,
    isAdmin: row.is_admin,
    permissions: JSON.parse(row.collection_permissions) as PermissionSet,
    expiresAt: isoOrNull(row.expires_at),
    rateLimit: row.rate_limit,
    allowedIps: row.allowed_ips === null ? null : (JSON.parse(row.allowed_ips) as string[]),
    createdAt: isoTime(row.created_at),
    createdBy: row.created_by,
    lastUsedAt: isoOrNull(row.last_used_at),
    generation: row.generation,
    disabledAt: isoOrNull(row.disabled_at),
  };
}
