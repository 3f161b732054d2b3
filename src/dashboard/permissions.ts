/**
 * Collection permissions as the editor shows them (one row per collection) and as the API takes
 * them: `["read", ...]` when no field rule is set, `{ read, write, delete, *_fields }` otherwise.
 */
import { LEVELS, type CollectionGrant, type CollectionPermissions, type PermissionLevel } from './types';

export interface PermissionRow {
  /** Stable identity for rendering; never sent. */
  id: number;
  collection: string;
  read: boolean;
  write: boolean;
  delete: boolean;
  /** Comma-separated field names, as typed. */
  selectFields: string;
  excludeFields: string;
  writableFields: string;
}

let nextRowId = 1;

export function emptyRow(collection = ''): PermissionRow {
  return { id: nextRowId++, collection, read: false, write: false, delete: false, selectFields: '', excludeFields: '', writableFields: '' };
}

export function grantLevels(grant: CollectionGrant): PermissionLevel[] {
  if (Array.isArray(grant)) return LEVELS.filter((level) => grant.includes(level));
  return LEVELS.filter((level) => grant[level] === true);
}

export function rowsFromPermissions(permissions: CollectionPermissions | null | undefined): PermissionRow[] {
  return Object.entries(permissions ?? {}).map(([collection, grant]) => {
    const levels = grantLevels(grant);
    const fields = Array.isArray(grant) ? {} : grant;
    return {
      ...emptyRow(collection),
      read: levels.includes('read'),
      write: levels.includes('write'),
      delete: levels.includes('delete'),
      selectFields: (fields.select_fields ?? []).join(', '),
      excludeFields: (fields.exclude_fields ?? []).join(', '),
      writableFields: (fields.writable_fields ?? []).join(', '),
    };
  });
}

export function splitList(text: string): string[] {
  return text.split(/[\s,]+/).map((part) => part.trim()).filter(Boolean);
}

// The server's own rules (src/auth/grants.ts), checked here so a typo is caught before sending.
const COLLECTION_NAME = /^(?:[a-z][a-z0-9_-]{0,62}\.)?(?:\*|[A-Za-z_][A-Za-z0-9_]{0,63})$/;
const FIELD_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

function isBlank(row: PermissionRow): boolean {
  return row.collection.trim() === '' && !row.read && !row.write && !row.delete
    && !row.selectFields.trim() && !row.excludeFields.trim() && !row.writableFields.trim();
}

/** The API's `collection_permissions`, or the first problem found (rows are 1-based in messages). */
export function permissionsFromRows(rows: PermissionRow[]): { permissions: CollectionPermissions } | { error: string } {
  const permissions: CollectionPermissions = {};
  let index = 0;
  for (const row of rows) {
    index += 1;
    if (isBlank(row)) continue;
    const name = row.collection.trim();
    if (!name) return { error: `Collection ${index}: enter a collection name.` };
    if (!COLLECTION_NAME.test(name)) {
      return { error: `Collection ${index}: "${name}" is not a collection name, "*", "<db>.<collection>" or "<db>.*".` };
    }
    if (Object.keys(permissions).some((other) => other.toLowerCase() === name.toLowerCase())) {
      return { error: `Collection ${index}: "${name}" is listed twice.` };
    }
    const lists = {
      select_fields: splitList(row.selectFields),
      exclude_fields: splitList(row.excludeFields),
      writable_fields: splitList(row.writableFields),
    };
    for (const [rule, fields] of Object.entries(lists)) {
      const bad = fields.find((field) => !FIELD_NAME.test(field));
      if (bad !== undefined) return { error: `Collection ${index}: "${bad}" in ${rule} is not a valid field name.` };
    }
    const levels = LEVELS.filter((level) => row[level]);
    const hasFieldRules = Object.values(lists).some((fields) => fields.length > 0);
    // The server refuses these contradictions too (400 invalid_permissions); say so before sending.
    if (hasFieldRules && levels.length === 0) {
      return { error: `Collection ${index}: field rules only shape what Read or Write allows: tick a level, or clear the fields.` };
    }
    const excluded = new Set(lists.exclude_fields.map((field) => field.toLowerCase()));
    const both = lists.select_fields.find((field) => excluded.has(field.toLowerCase()));
    if (both !== undefined) return { error: `Collection ${index}: "${both}" is both a selected and an excluded field.` };
    if (!hasFieldRules) {
      permissions[name] = levels;
    } else {
      permissions[name] = {
        read: row.read,
        write: row.write,
        delete: row.delete,
        ...(lists.select_fields.length ? { select_fields: lists.select_fields } : {}),
        ...(lists.exclude_fields.length ? { exclude_fields: lists.exclude_fields } : {}),
        ...(lists.writable_fields.length ? { writable_fields: lists.writable_fields } : {}),
      };
    }
  }
  return { permissions };
}

const SHORT: Record<PermissionLevel, string> = { read: 'read', write: 'write', delete: 'delete' };

/** One line per collection: `notes: read, write (select: a, b; exclude: c)`; `none` for an explicit deny. */
export function summarizeGrant(grant: CollectionGrant): string {
  const levels = grantLevels(grant).map((level) => SHORT[level]);
  const text = levels.length ? levels.join(', ') : 'none';
  const rules = describeRules(grant);
  return rules ? `${text} (${rules})` : text;
}

export function describeRules(grant: CollectionGrant): string {
  if (Array.isArray(grant)) return '';
  const parts: string[] = [];
  if (grant.select_fields?.length) parts.push(`select: ${grant.select_fields.join(', ')}`);
  if (grant.exclude_fields?.length) parts.push(`exclude: ${grant.exclude_fields.join(', ')}`);
  if (grant.writable_fields?.length) parts.push(`writable: ${grant.writable_fields.join(', ')}`);
  return parts.join('; ');
}
