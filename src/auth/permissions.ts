/**
 * May this principal do that? One evaluator serves every data path: record routes, sync, tables
 * and SQL. Throws the contract's 403s (seed 003 wording); returns nothing when allowed.
 *
 * Grants (CONTRACT.md §5) name a collection of the `default` database (`users`), any collection
 * of it (`*`), a collection of another database (`analytics.events`) or all of one (`analytics.*`).
 * The most specific grant wins: `users` over `*`, `analytics.events` over `analytics.*`.
 */
import { errors, ApiError, type PermissionLevel } from '../errors.js';
import type { StatementKind } from '../data/engine.js';
import type { Principal } from './principal.js';

export type { PermissionLevel } from '../errors.js';

export const LEVELS: readonly PermissionLevel[] = ['read', 'write', 'delete'];
const FIELD_RULES = ['select_fields', 'exclude_fields', 'writable_fields'] as const;
type FieldRule = (typeof FIELD_RULES)[number];

export interface CollectionGrant {
  read: boolean;
  write: boolean;
  delete: boolean;
  /** Only these fields (and `id`) are ever read. */
  select_fields: string[] | null;
  /** These fields are never read. */
  exclude_fields: string[] | null;
  /** Writes may touch only these fields. */
  writable_fields: string[] | null;
}

/** Grant name (lower case) → grant. */
export type PermissionSet = Record<string, CollectionGrant>;

/** What reads of one collection may see. */
export interface FieldView {
  select_fields?: string[];
  exclude_fields?: string[];
}

const GRANT_NAME = /^(?:[a-z][a-z0-9_-]{0,62}\.)?(?:\*|[A-Za-z_][A-Za-z0-9_]{0,63})$/;
const FIELD_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

// ---------------------------------------------------------------- parsing (edge of the system)

/**
 * Validates `collection_permissions` as a client sends it (arrays or objects per collection) and
 * returns the normalised set. Throws 400 `invalid_permissions` naming the first problem.
 */
export function parsePermissions(input: unknown): PermissionSet {
  if (input === undefined || input === null) return {};
  if (typeof input !== 'object' || Array.isArray(input)) {
    throw invalid('collection_permissions must be an object of collection → permissions');
  }
  const set: PermissionSet = {};
  for (const [name, value] of Object.entries(input as Record<string, unknown>)) {
    if (!GRANT_NAME.test(name)) throw invalid(`'${name}' is not a collection name, '*', '<db>.<collection>' or '<db>.*'`);
    set[name.toLowerCase()] = parseGrant(name, value);
  }
  return set;
}

function parseGrant(name: string, value: unknown): CollectionGrant {
  const grant: CollectionGrant = { read: false, write: false, delete: false, select_fields: null, exclude_fields: null, writable_fields: null };
  if (Array.isArray(value)) {
    for (const level of value) {
      if (typeof level !== 'string' || !(LEVELS as readonly string[]).includes(level)) {
        throw invalid(`Unknown permission level ${JSON.stringify(level)} for collection '${name}' (use read, write, delete)`);
      }
      grant[level as PermissionLevel] = true;
    }
    return grant;
  }
  if (value === null || typeof value !== 'object') {
    throw invalid(`Permissions for collection '${name}' must be an array of levels or an object`);
  }
  for (const [key, setting] of Object.entries(value as Record<string, unknown>)) {
    if ((LEVELS as readonly string[]).includes(key)) {
      if (typeof setting !== 'boolean') throw invalid(`'${key}' for collection '${name}' must be true or false`);
      grant[key as PermissionLevel] = setting;
    } else if ((FIELD_RULES as readonly string[]).includes(key)) {
      grant[key as FieldRule] = parseFields(name, key, setting);
    } else {
      throw invalid(`Unknown permission '${key}' for collection '${name}' (use read, write, delete, ${FIELD_RULES.join(', ')})`);
    }
  }
  return grant;
}

function parseFields(collection: string, rule: string, value: unknown): string[] | null {
  if (value === null) return null;
  if (!Array.isArray(value)) throw invalid(`'${rule}' for collection '${collection}' must be an array of field names or null`);
  for (const field of value) {
    if (typeof field !== 'string' || !FIELD_NAME.test(field)) {
      throw invalid(`'${rule}' for collection '${collection}' has ${JSON.stringify(field)}, which is not a field name`);
    }
  }
  return [...new Set(value as string[])];
}

function invalid(message: string): ApiError {
  return errors.badRequest('invalid_permissions', message);
}

// ---------------------------------------------------------------- rendering and merging

/** ekoDB's shape: a plain level array where no field rule is set, the full object otherwise. */
export function renderPermissions(set: PermissionSet): Record<string, PermissionLevel[] | CollectionGrant> {
  const out: Record<string, PermissionLevel[] | CollectionGrant> = {};
  for (const [name, grant] of Object.entries(set)) {
    const plain = FIELD_RULES.every((rule) => grant[rule] === null);
    out[name] = plain ? LEVELS.filter((level) => grant[level]) : { ...grant };
  }
  return out;
}

/**
 * PUT semantics (seed 003): each named collection's grant is replaced, others are kept; the
 * answer lists the changes in seed 003's words.
 */
export function mergePermissions(current: PermissionSet, update: PermissionSet): { merged: PermissionSet; changes: string[] } {
  const merged: PermissionSet = { ...current };
  const changes: string[] = [];
  for (const [name, next] of Object.entries(update)) {
    const before = current[name];
    for (const level of LEVELS) {
      const had = before?.[level] ?? false;
      if (next[level] && !had) changes.push(`Added '${level}' permission to '${name}' collection`);
      if (!next[level] && had) changes.push(`Removed '${level}' permission from '${name}' collection`);
    }
    for (const rule of FIELD_RULES) {
      const was = JSON.stringify(before?.[rule] ?? null);
      const now = JSON.stringify(next[rule]);
      if (was !== now) {
        changes.push(next[rule] === null ? `Removed '${rule}' from '${name}' collection` : `Set '${rule}' to ${now} on '${name}' collection`);
      }
    }
    merged[name] = next;
  }
  return { merged, changes };
}

// ---------------------------------------------------------------- evaluation (every request)

/** The grant that applies to `collection` in `database`, most specific first. */
export function grantFor(set: PermissionSet, database: string, collection: string): CollectionGrant | undefined {
  const c = collection.toLowerCase();
  if (database === 'default') return set[c] ?? set[`default.${c}`] ?? set['*'] ?? set['default.*'];
  return set[`${database}.${c}`] ?? set[`${database}.*`];
}

export function assertAdmin(principal: Principal): void {
  if (!principal.isAdmin) throw errors.adminRequired();
}

export function assertCollectionAccess(principal: Principal, level: PermissionLevel, database: string, collection: string): void {
  if (principal.isAdmin || principal.access.kind === 'all') return;
  if (!grantFor(principal.access.permissions, database, collection)?.[level]) throw errors.noPermission(level, collection);
}

export function hasCollectionAccess(principal: Principal, level: PermissionLevel, database: string, collection: string): boolean {
  if (principal.isAdmin || principal.access.kind === 'all') return true;
  return grantFor(principal.access.permissions, database, collection)?.[level] === true;
}

/** Databases the principal can see at all: the tenant boundary of CONTRACT.md §5. */
export function canSeeDatabase(principal: Principal, database: string): boolean {
  if (principal.isAdmin || principal.access.kind === 'all') return true;
  const prefix = `${database}.`;
  return Object.keys(principal.access.permissions).some((name) =>
    database === 'default' ? !name.includes('.') || name.startsWith(prefix) : name.startsWith(prefix));
}

/** What reads may see, combining the grant's field rules with the caller's own request. */
export function fieldView(principal: Principal, database: string, collection: string, requested: FieldView = {}): FieldView {
  const grant = principal.isAdmin || principal.access.kind === 'all'
    ? undefined
    : grantFor(principal.access.permissions, database, collection);
  let select = grant?.select_fields ?? undefined;
  if (requested.select_fields) {
    select = select ? requested.select_fields.filter((f) => includesField(select!, f)) : requested.select_fields;
  }
  const exclude = [...(grant?.exclude_fields ?? []), ...(requested.exclude_fields ?? [])];
  const view: FieldView = {};
  if (select) view.select_fields = select;
  if (exclude.length > 0) view.exclude_fields = exclude;
  return view;
}

/** Whether `field` can be read under `view` (`id` always can). */
export function isFieldVisible(view: FieldView, field: string): boolean {
  if (field.toLowerCase() === 'id') return true;
  if (view.exclude_fields && includesField(view.exclude_fields, field)) return false;
  return !view.select_fields || includesField(view.select_fields, field);
}

/**
 * A write touching a field outside `writable_fields` is refused, naming the field. Fields are
 * SQL identifiers, so they compare case-insensitively.
 */
export function assertWritableFields(principal: Principal, database: string, collection: string, fields: Iterable<string>): void {
  if (principal.isAdmin || principal.access.kind === 'all') return;
  const writable = grantFor(principal.access.permissions, database, collection)?.writable_fields;
  if (!writable) return;
  for (const field of fields) {
    if (field.toLowerCase() === 'id' || field === 'externalId') continue;
    if (!includesField(writable, field)) {
      throw new ApiError(403, 'forbidden', `No write permission for field ${field} in collection ${collection}`);
    }
  }
}

/** Readable fields must also bound what a filter or sort may look at, or values leak through them. */
export function assertFieldsReadable(view: FieldView, collection: string, fields: Iterable<string>): void {
  for (const field of fields) {
    if (!isFieldVisible(view, field)) {
      throw new ApiError(403, 'forbidden', `No read permission for field ${field} in collection ${collection}`);
    }
  }
}

function includesField(list: readonly string[], field: string): boolean {
  const lower = field.toLowerCase();
  return list.some((item) => item.toLowerCase() === lower);
}

/**
 * Statement kinds a principal may send to `POST /api/query` without the SQL guard. Admins:
 * everything, still under DuckDB's locked configuration. Full-data clients: reads and row writes,
 * but no DDL, ATTACH, SET or PRAGMA, since dropping or reshaping collections is an admin action.
 */
export function allowedStatements(principal: Principal): readonly StatementKind[] | undefined {
  if (principal.isAdmin) return undefined;
  return ['SELECT', 'INSERT', 'UPDATE', 'DELETE'];
}
