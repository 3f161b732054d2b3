/**
 * Collection grants (CONTRACT.md §5, seed 003): their shape, validation of what clients send,
 * ekoDB's rendering, PUT's merge with its `changes` list, and which grant applies where.
 *
 * Grants name a collection of the `default` database (`users`), any collection of it (`*`), a
 * collection of another database (`analytics.events`) or all of one (`analytics.*`). The most
 * specific grant wins: `users` over `*`, `analytics.events` over `analytics.*`.
 */
import { foldIdentifier } from '../data/identifiers.js';
import { errors, ApiError, type PermissionLevel } from '../errors.js';

export const LEVELS: readonly PermissionLevel[] = ['read', 'write', 'delete'];
export const FIELD_RULES = ['select_fields', 'exclude_fields', 'writable_fields'] as const;
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

/** Grant name (folded: `foldIdentifier`) → grant. */
export type PermissionSet = Record<string, CollectionGrant>;

const GRANT_NAME = /^(?:[a-z][a-z0-9_-]{0,62}\.)?(?:\*|[A-Za-z_][A-Za-z0-9_]{0,63})$/;
const FIELD_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

// ---------------------------------------------------------------- parsing (edge of the system)

/**
 * Validates `collection_permissions` as a client sends it (arrays or objects per collection) and
 * returns the normalised set. Throws 400 `invalid_permissions` naming the first problem.
 *
 * Besides shapes, contradictions are refused, since storing them would grant something other than
 * what the admin meant: two spellings of one grant name (`Users` and `users`), an object that names
 * no level at all (`{}`: write `[]` to deny a collection), field rules on a grant that allows
 * nothing, and a field both selected and excluded. A field both writable and excluded from reads is
 * allowed: a write-only field (a password hash set by the app, never read back) is a real use.
 */
export function parsePermissions(input: unknown): PermissionSet {
  if (input === undefined || input === null) return {};
  if (typeof input !== 'object' || Array.isArray(input)) {
    throw invalid('collection_permissions must be an object of collection → permissions');
  }
  const set: PermissionSet = {};
  const spelled = new Map<string, string>();
  for (const [name, value] of Object.entries(input as Record<string, unknown>)) {
    if (!GRANT_NAME.test(name)) throw invalid(`'${name}' is not a collection name, '*', '<db>.<collection>' or '<db>.*'`);
    const key = foldIdentifier(name);
    const other = spelled.get(key);
    if (other !== undefined) throw invalid(`'${other}' and '${name}' name the same collection: keep one`);
    spelled.set(key, name);
    set[key] = parseGrant(name, value);
  }
  return set;
}

function parseGrant(name: string, value: unknown): CollectionGrant {
  const grant = parseGrantShape(name, value);
  const hasLevel = LEVELS.some((level) => grant[level]);
  const rules = FIELD_RULES.filter((rule) => grant[rule] !== null);
  if (!hasLevel && rules.length > 0) {
    throw invalid(`Collection '${name}' has ${rules.join(' and ')} but grants no level: field rules only shape what read or write allows`);
  }
  const excluded = new Set((grant.exclude_fields ?? []).map((field) => field.toLowerCase()));
  const both = (grant.select_fields ?? []).find((field) => excluded.has(field.toLowerCase()));
  if (both !== undefined) throw invalid(`Field '${both}' of collection '${name}' is both in select_fields and exclude_fields`);
  return grant;
}

function parseGrantShape(name: string, value: unknown): CollectionGrant {
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
  if (!LEVELS.some((level) => level in value)) {
    throw invalid(`Permissions for collection '${name}' name no level: set read, write or delete (or give [] to deny the collection)`);
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

/**
 * The grant that applies to `collection` in `database`, most specific first. The name folds as
 * DuckDB binds it (ASCII case only, `identifiers.ts`): `İnvoices` and `\u212Aeys` are other tables
 * than `invoices` and `keys`, so they never take those grants.
 */
export function grantFor(set: PermissionSet, database: string, collection: string): CollectionGrant | undefined {
  const c = foldIdentifier(collection);
  if (database === 'default') return set[c] ?? set[`default.${c}`] ?? set['*'] ?? set['default.*'];
  return set[`${database}.${c}`] ?? set[`${database}.*`];
}
