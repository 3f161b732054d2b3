import { randomUUID } from 'node:crypto';
import { errors, type ApiError } from '../../errors.js';
import type { Json, JsonObject } from '../engine.js';
import { foldIdentifier, isIdentifier } from '../identifiers.js';
import { expectation, fits, kindOfValue, type ColumnKind, type TableSchema } from './schema.js';

export interface Field {
  name: string;
  /** Folded name (`foldIdentifier`): the key columns are matched by. */
  key: string;
  value: Json;
}

export function isPlainObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `where` prefixes messages so a sync batch can say which record failed ("categories[3]: …"). */
export function invalidRecord(where: string, message: string): ApiError {
  return errors.badRequest('invalid_record', where === '' ? message : `${where}: ${message}`);
}

/** Splits a record into validated fields; names that differ only in case would hit one column. */
export function recordFields(record: unknown, where = ''): Field[] {
  if (!isPlainObject(record)) throw invalidRecord(where, 'Record must be a JSON object');
  const fields: Field[] = [];
  const seen = new Map<string, string>();
  for (const [name, value] of Object.entries(record)) {
    if (!isIdentifier(name)) {
      throw errors.badRequest('invalid_name', `${where === '' ? '' : `${where}: `}Invalid field name '${name}'`);
    }
    const key = foldIdentifier(name);
    const previous = seen.get(key);
    if (previous !== undefined) throw invalidRecord(where, `Field '${name}' duplicates '${previous}'`);
    seen.set(key, name);
    fields.push({ name, key, value: value === undefined ? null : value });
  }
  return fields;
}

/** A record id as stored: strings as given, integers as their decimal text. */
export function normalizeId(value: Json, where = ''): string {
  if (typeof value === 'string' && value.length > 0) return value;
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
  throw invalidRecord(where, "Field 'id' must be a non-empty string or an integer");
}

/** Takes `id` out of the fields, generating one when absent. */
export function takeId(fields: Field[], where = ''): { id: string; rest: Field[] } {
  const idField = fields.find((f) => f.key === 'id');
  const rest = fields.filter((f) => f.key !== 'id');
  if (idField === undefined || idField.value === null) return { id: randomUUID(), rest };
  return { id: normalizeId(idField.value, where), rest };
}

export interface ColumnPlan {
  /** The table's name as stored (or as it will be created). */
  table: string;
  create: boolean;
  /** Columns to add, in first-seen order. */
  add: { name: string; kind: Exclude<ColumnKind, 'other'> }[];
  /** Every column any field lands in, by lower-cased name. */
  columns: Map<string, { name: string; kind: ColumnKind }>;
}

/**
 * Decides the DDL a write needs and proves every value fits its column, before anything runs.
 * A new field's type comes from its first non-null value; later values must agree with it.
 */
export function planColumns(
  collection: string,
  existing: TableSchema | undefined,
  records: readonly { fields: readonly Field[]; where: string }[],
): ColumnPlan {
  const columns = new Map<string, { name: string; kind: ColumnKind }>();
  const added = new Map<string, { name: string; kind: Exclude<ColumnKind, 'other'> | undefined }>();
  if (existing !== undefined) {
    for (const [key, column] of existing.columns) columns.set(key, column);
  }
  for (const { fields, where } of records) {
    for (const field of fields) {
      const column = columns.get(field.key);
      if (column !== undefined) {
        if (!fits(column.kind, field.value)) throw invalidRecord(where, `Field '${field.name}' expects ${expectation(column.kind)}`);
        continue;
      }
      const pending = added.get(field.key);
      if (pending === undefined) {
        added.set(field.key, { name: field.name, kind: field.value === null ? undefined : kindOfValue(field.value) });
      } else if (field.value !== null) {
        if (pending.kind === undefined) pending.kind = kindOfValue(field.value);
        else if (!fits(pending.kind, field.value)) throw invalidRecord(where, `Field '${field.name}' expects ${expectation(pending.kind)}`);
      }
    }
  }
  const add = [...added.entries()].map(([key, { name, kind }]) => {
    const column = { name, kind: kind ?? ('json' as const) };
    columns.set(key, column);
    return column;
  });
  return { table: existing?.name ?? collection, create: existing === undefined, add, columns };
}
