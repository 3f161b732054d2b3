/**
 * May this principal do that? One evaluator serves every data path: record routes, sync, tables
 * and SQL. Throws the contract's 403s (seed 003 wording); returns nothing when allowed.
 */
import { foldIdentifier } from '../data/identifiers.js';
import { errors, ApiError, type PermissionLevel } from '../errors.js';
import type { FieldView } from '../data/engine.js';
import { grantFor } from './grants.js';
import type { Principal } from './principal.js';

export type { PermissionLevel } from '../errors.js';

/** What reads of one collection may see (the data plane's own type, so views pass straight through). */
export type { FieldView } from '../data/engine.js';

export function assertAdmin(principal: Principal): void {
  if (!principal.isAdmin) throw errors.adminRequired();
}

export function assertCollectionAccess(principal: Principal, level: PermissionLevel, database: string, collection: string): void {
  if (!hasCollectionAccess(principal, level, database, collection)) throw errors.noPermission(level, collection);
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
  const view: FieldView = {};
  // Every point read passes here: a principal without field rules asking for none gets `{}` without
  // building the lists.
  if (grant === undefined && !requested.select_fields && !requested.exclude_fields) return view;
  let select = grant?.select_fields ?? undefined;
  if (requested.select_fields) {
    select = select ? requested.select_fields.filter((f) => includesField(select!, f)) : requested.select_fields;
  }
  const exclude = [...(grant?.exclude_fields ?? []), ...(requested.exclude_fields ?? [])];
  if (select) view.select_fields = select;
  if (exclude.length > 0) view.exclude_fields = exclude;
  return view;
}

/** Whether `field` can be read under `view` (`id` always can). */
export function isFieldVisible(view: FieldView, field: string): boolean {
  if (foldIdentifier(field) === 'id') return true;
  if (view.exclude_fields && includesField(view.exclude_fields, field)) return false;
  return !view.select_fields || includesField(view.select_fields, field);
}

export interface WriteOptions {
  /**
   * The sync routes upsert by `externalId`: there it names which record to write, not a value
   * written, so it needs no place in `writable_fields`. Everywhere else it is an ordinary field:
   * writing it would retarget a record for every later sync.
   */
  matchKey?: 'externalId';
}

/**
 * A write touching a field outside `writable_fields` is refused, naming the field. Fields are
 * SQL identifiers, so they compare as DuckDB binds them (ASCII case-insensitively).
 */
export function assertWritableFields(principal: Principal, database: string, collection: string, fields: Iterable<string>, options: WriteOptions = {}): void {
  if (principal.isAdmin || principal.access.kind === 'all') return;
  const writable = grantFor(principal.access.permissions, database, collection)?.writable_fields;
  if (!writable) return;
  const matchKey = options.matchKey === undefined ? undefined : foldIdentifier(options.matchKey);
  for (const field of fields) {
    const folded = foldIdentifier(field);
    if (folded === 'id' || folded === matchKey) continue;
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
  const folded = foldIdentifier(field);
  return list.some((item) => foldIdentifier(item) === folded);
}
