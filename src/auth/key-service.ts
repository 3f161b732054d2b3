/**
 * Managing keys: create, list, revoke, regenerate, re-permission. Shared by the HTTP routes and
 * the CLI, so both validate the same way. The full key leaves this module exactly once, in the
 * return value of `create` or `regenerate`; the store only ever sees its hash and prefix.
 *
 * Every change is audited by construction: its event (who did what, never the key) goes into the
 * store's write and commits in the same transaction, so no crash keeps a change without its trace.
 */
import { randomBytes } from 'node:crypto';
import { errors } from '../errors.js';
import type { AuditEvent } from '../store/audit-store.js';
import type { KeyStore, KeyUpdate, NewKey, StoredKey } from '../store/key-store.js';
import { generateApiKey } from './api-key.js';
import { sanitise } from './audit-trail.js';
import { mergePermissions, parsePermissions, renderPermissions, type PermissionSet } from './grants.js';
import { isIpOrCidr } from './ip-rules.js';
import { permissionWarnings, type PermissionCatalog } from './permission-warnings.js';

export interface KeyRequest {
  label?: string;
  description?: string;
  is_admin?: boolean;
  collection_permissions?: unknown;
  expires_at?: string | null;
  rate_limit?: number | null;
  allowed_ips?: string[] | null;
}

/** An update's fields (PATCH semantics: what is absent is kept; null clears a limit). */
export interface KeyUpdateRequest extends Omit<KeyRequest, 'collection_permissions'> {
  disabled?: boolean;
}

/** A page of the key list: `total` keys matched the search, `keys` are those from `offset`. */
export interface KeyPage {
  keys: StoredKey[];
  total: number;
}

export interface IssuedKey {
  /** The full key: show it once, then forget it. */
  key: string;
  stored: StoredKey;
}

/** A key created with its permissions, and what those permissions name that does not exist yet. */
export interface CreatedKey extends IssuedKey {
  warnings: string[];
}

/** Who changed which key how: what the audit trail records (never the key itself). */
export interface KeyChange {
  kind: 'key.created' | 'key.regenerated' | 'key.revoked' | 'key.permissions' | 'key.updated';
  actor: string;
  target: string;
  keyPrefix: string;
  details: Record<string, unknown> | null;
}

export interface KeyServiceOptions {
  /** Admin keys configured in the environment count as admins that cannot be revoked here. */
  environmentAdminKeys: number;
  /** Called after every change with the key's id, e.g. to drop its cached verification. */
  onChange?: (keyId: string) => void;
  /** Called after every change with the audit event it wrote (never a key), e.g. for the server log. */
  onAudited?: (event: AuditEvent) => void;
  /** What exists in the data engine, to warn about grants naming what does not (yet). */
  catalog?: PermissionCatalog;
}

export class KeyService {
  constructor(private readonly store: KeyStore, private readonly options: KeyServiceOptions) {}

  async create(request: KeyRequest, createdBy: string | null): Promise<CreatedKey> {
    const { key, record } = newKey(request, createdBy);
    const event = creation(record, createdBy);
    const stored = await this.store.createKey(record, event);
    this.changed(stored.id, event);
    return { key, stored, warnings: await this.warnings(stored.isAdmin ? {} : stored.permissions) };
  }

  list(): Promise<StoredKey[]> {
    return this.store.listKeys();
  }

  /**
   * Keys whose label, description, prefix or id contains `search` (case-insensitive), oldest
   * first, `limit` of them from `offset`. Filtered in memory over the store's list, which the
   * listing read whole before paging existed: filtering it costs less than reading it.
   */
  async page(search: string, limit: number | undefined, offset: number): Promise<KeyPage> {
    const needle = search.trim().toLowerCase();
    const all = await this.store.listKeys();
    const matched = needle === '' ? all : all.filter((key) =>
      [key.label, key.description, key.prefix, key.id].some((text) => text.toLowerCase().includes(needle)));
    return { keys: matched.slice(offset, limit === undefined ? undefined : offset + limit), total: matched.length };
  }

  /**
   * Changes a key's label, description, admin flag, expiry, rate limit, allowed IPs or enabled
   * state (absent fields are kept). Demoting or disabling the last working admin key is refused
   * (409) unless the environment has an admin key, as revoking it is.
   */
  async update(id: string, request: KeyUpdateRequest, actor: string): Promise<StoredKey> {
    const update = parseUpdate(request);
    const current = await this.get(id);
    const changed = Object.keys(update);
    const event = auditEvent({ kind: 'key.updated', actor, target: id, keyPrefix: current.prefix, details: { changed, ...auditDetails(update) } });
    const outcome = await this.store.updateKey(id, update, { requireOtherAdmins: this.options.environmentAdminKeys > 0 ? 0 : 1 }, event);
    if (outcome.outcome === 'last_admin') {
      throw errors.conflict('Cannot demote or disable the last admin key: create or enable another admin key first');
    }
    if (outcome.outcome === 'not_found') throw keyNotFound(id);
    this.changed(id, event);
    return outcome.key;
  }

  async get(id: string): Promise<StoredKey> {
    const key = await this.store.getKey(id);
    if (!key) throw keyNotFound(id);
    return key;
  }

  async revoke(id: string, actor: string): Promise<void> {
    const key = await this.get(id);
    // The last-admin rule is the store's to enforce, in the same operation that revokes: a count
    // read here could be stale by the time the revocation lands (another process, another replica).
    const event = auditEvent({ kind: 'key.revoked', actor, target: id, keyPrefix: key.prefix, details: { label: key.label } });
    const outcome = await this.store.revokeKey(id, { requireOtherAdmins: this.options.environmentAdminKeys > 0 ? 0 : 1 }, event);
    if (outcome === 'last_admin') throw errors.conflict('Cannot revoke the last admin key: create another admin key first');
    if (outcome === 'not_found') throw keyNotFound(id);
    this.changed(id, event);
  }

  /** A new key under the same id; the old one works `graceSeconds` longer (never past its expiry). */
  async regenerate(id: string, graceSeconds: number, actor: string): Promise<IssuedKey & { graceUntil: string | null }> {
    if (!Number.isInteger(graceSeconds) || graceSeconds < 0 || graceSeconds > 30 * 86400) {
      throw errors.badRequest('invalid_key', 'grace_seconds must be a whole number from 0 to 2592000');
    }
    const generated = generateApiKey('live');
    const graceUntil = graceSeconds > 0 ? new Date(Date.now() + graceSeconds * 1000).toISOString() : null;
    const event = auditEvent({ kind: 'key.regenerated', actor, target: id, keyPrefix: generated.prefix, details: { grace_until: graceUntil } });
    const stored = await this.store.replaceKeyHash(id, { hash: generated.hash, prefix: generated.prefix }, graceUntil, event);
    if (!stored) throw keyNotFound(id);
    this.changed(id, event);
    return { key: generated.key, stored, graceUntil };
  }

  /** POST semantics: the whole set is replaced. Warns about names that do not exist yet. */
  async setPermissions(id: string, input: unknown, actor: string): Promise<{ stored: StoredKey; warnings: string[] }> {
    const permissions = parsePermissions(input);
    // Read first for the prefix the event names: the event is written with the change, not after it.
    const current = await this.get(id);
    const event = auditEvent({ kind: 'key.permissions', actor, target: id, keyPrefix: current.prefix, details: { replaced: permissions } });
    const stored = await this.store.setPermissions(id, permissions, event);
    if (!stored) throw keyNotFound(id);
    this.changed(id, event);
    return { stored, warnings: stored.isAdmin ? [] : await this.warnings(permissions) };
  }

  /** PUT semantics (seed 003): named collections replaced, others kept, changes listed; warnings about the named ones. */
  async updatePermissions(id: string, input: unknown, actor: string): Promise<{ stored: StoredKey; changes: string[]; warnings: string[] }> {
    const update = parsePermissions(input);
    const current = await this.get(id);
    const { merged, changes } = mergePermissions(current.permissions, update);
    const event = auditEvent({ kind: 'key.permissions', actor, target: id, keyPrefix: current.prefix, details: { changes } });
    const stored = await this.store.setPermissions(id, merged, event);
    if (!stored) throw keyNotFound(id);
    this.changed(id, event);
    return { stored, changes, warnings: stored.isAdmin ? [] : await this.warnings(update) };
  }

  private warnings(permissions: PermissionSet): Promise<string[]> {
    return permissionWarnings(permissions, this.options.catalog);
  }

  private changed(keyId: string, event: AuditEvent): void {
    this.options.onChange?.(keyId);
    this.options.onAudited?.(event);
  }

  /**
   * Seed 003: an admin key exists from deployment on. When neither the store nor the environment
   * has one, create it and return the full key for a one-time banner.
   */
  async ensureAdminKey(): Promise<IssuedKey | undefined> {
    if (this.options.environmentAdminKeys > 0 || (await this.store.countAdminKeys()) > 0) return undefined;
    // Conditional in the store: of several processes starting at once, one creates it.
    const { key, record } = newKey({ label: 'Initial admin key', description: 'Generated at first start', is_admin: true }, 'first-start');
    const event = creation(record, 'first-start');
    const stored = await this.store.createFirstAdminKey(record, event);
    if (!stored) return undefined;
    this.changed(stored.id, event);
    return { key, stored };
  }
}

/** The event a change writes with itself: sanitised here, as the audit trail would (no full key). */
function auditEvent(change: KeyChange): AuditEvent {
  return sanitise(change, Date.now());
}

function creation(record: NewKey, createdBy: string | null): AuditEvent {
  return auditEvent({ kind: 'key.created', actor: createdBy ?? 'unknown', target: record.id, keyPrefix: record.prefix,
    details: { label: record.label, is_admin: record.isAdmin, permissions: record.permissions } });
}

/** A validated key record and its full key (which never reaches the store). */
function newKey(request: KeyRequest, createdBy: string | null): { key: string; record: NewKey } {
  const label = request.label?.trim() ?? '';
  if (label === '' || label.length > 200) throw errors.badRequest('invalid_key', 'label must be 1 to 200 characters');
  const permissions = parsePermissions(request.collection_permissions);
  const generated = generateApiKey('live');
  return {
    key: generated.key,
    record: {
      id: `key_${randomBytes(12).toString('base64url')}`,
      hash: generated.hash,
      prefix: generated.prefix,
      label,
      description: (request.description ?? '').slice(0, 2000),
      isAdmin: request.is_admin === true,
      permissions,
      expiresAt: parseExpiry(request.expires_at),
      rateLimit: parseRateLimit(request.rate_limit),
      allowedIps: parseAllowedIps(request.allowed_ips),
      createdBy,
    },
  };
}

/** A validated update: only the fields the request names, each checked as on creation. */
function parseUpdate(request: KeyUpdateRequest): KeyUpdate {
  const update: KeyUpdate = {};
  if (request.label !== undefined) {
    const label = request.label.trim();
    if (label === '' || label.length > 200) throw errors.badRequest('invalid_key', 'label must be 1 to 200 characters');
    update.label = label;
  }
  if (request.description !== undefined) {
    if (request.description.length > 2000) throw errors.badRequest('invalid_key', 'description must be at most 2000 characters');
    update.description = request.description.trim();
  }
  if (request.is_admin !== undefined) update.isAdmin = request.is_admin;
  if (request.expires_at !== undefined) update.expiresAt = parseExpiry(request.expires_at);
  if (request.rate_limit !== undefined) update.rateLimit = parseRateLimit(request.rate_limit);
  if (request.allowed_ips !== undefined) update.allowedIps = parseAllowedIps(request.allowed_ips);
  if (request.disabled !== undefined) update.disabled = request.disabled;
  if (Object.keys(update).length === 0) {
    throw errors.badRequest('invalid_key', 'Nothing to update: send at least one of label, description, is_admin, expires_at, rate_limit, allowed_ips, disabled');
  }
  return update;
}

/** The new values an update event records (labels and limits; nothing secret). */
function auditDetails(update: KeyUpdate): Record<string, unknown> {
  const details: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(update)) if (name !== 'description') details[name] = value;
  return details;
}

function keyNotFound(id: string) {
  return errors.notFound(`API key '${id}' not found`);
}

function parseExpiry(value: string | null | undefined): string | null {
  if (value === undefined || value === null) return null;
  const time = Date.parse(value);
  if (Number.isNaN(time)) throw errors.badRequest('invalid_key', `expires_at must be an ISO 8601 date (got "${value}")`);
  if (time <= Date.now()) throw errors.badRequest('invalid_key', 'expires_at must be in the future');
  return new Date(time).toISOString();
}

function parseRateLimit(value: number | null | undefined): number | null {
  if (value === undefined || value === null) return null;
  if (!Number.isInteger(value) || value < 1 || value > 1_000_000_000) {
    throw errors.badRequest('invalid_key', 'rate_limit must be a whole number of requests per hour, at least 1');
  }
  return value;
}

function parseAllowedIps(value: string[] | null | undefined): string[] | null {
  if (value === undefined || value === null) return null;
  for (const entry of value) {
    if (typeof entry !== 'string' || (entry !== '*' && !isIpOrCidr(entry))) {
      throw errors.badRequest('invalid_key', `allowed_ips has ${JSON.stringify(entry)}, which is not an IP address or CIDR range`);
    }
  }
  return value.length === 0 ? null : [...value];
}

/** A key as the API and the CLI show it (seed 003's snake_case shape); never the full key. */
export function keyJson(key: StoredKey) {
  return {
    key_id: key.id,
    prefix: key.prefix,
    label: key.label,
    description: key.description,
    is_admin: key.isAdmin,
    collection_permissions: renderPermissions(key.permissions),
    expires_at: key.expiresAt,
    rate_limit: key.rateLimit,
    allowed_ips: key.allowedIps,
    created_at: key.createdAt,
    created_by: key.createdBy,
    disabled: key.disabledAt !== null,
    disabled_at: key.disabledAt,
  };
}
