/**
 * What a permission set names that does not exist (yet), and rules that do nothing: warnings, not
 * refusals. A key may rightly be granted `categories` before its first sync creates it, but a
 * misspelt collection or an excluded field that is not a field (so the real one stays readable)
 * should not be stored in silence. The answer of register and of the permission routes carries
 * these, and the dashboard shows them.
 */
import { FIELD_RULES, type CollectionGrant, type PermissionSet } from './grants.js';

/** The part of the data engine the warnings read: which databases, collections and fields exist. */
export interface PermissionCatalog {
  listDatabases(): string[];
  database(name: string): {
    listCollections(): Promise<string[]>;
    schema(table: string): Promise<Array<{ column_name: string }>>;
  };
}

/** Warnings about `set` (or only the grants it names, for a merge), against what exists now. */
export async function permissionWarnings(set: PermissionSet, catalog: PermissionCatalog | undefined): Promise<string[]> {
  const warnings: string[] = [];
  for (const [name, grant] of Object.entries(set)) {
    warnings.push(...ineffectiveRules(name, grant));
    if (catalog) warnings.push(...(await missingNames(name, grant, catalog)));
  }
  return warnings;
}

function ineffectiveRules(name: string, grant: CollectionGrant): string[] {
  const out: string[] = [];
  for (const rule of ['select_fields', 'exclude_fields'] as const) {
    if (grant[rule] !== null && !grant.read) out.push(`'${name}': ${rule} has no effect without read`);
  }
  if (grant.writable_fields !== null && !grant.write) out.push(`'${name}': writable_fields has no effect without write`);
  return out;
}

async function missingNames(name: string, grant: CollectionGrant, catalog: PermissionCatalog): Promise<string[]> {
  const dot = name.indexOf('.');
  const database = dot === -1 ? 'default' : name.slice(0, dot);
  const collection = dot === -1 ? name : name.slice(dot + 1);
  if (!catalog.listDatabases().includes(database)) {
    return [`Database '${database}' does not exist yet: the grant '${name}' applies once it is created`];
  }
  if (collection === '*') return [];
  const db = catalog.database(database);
  const real = (await db.listCollections()).find((existing) => existing.toLowerCase() === collection);
  if (real === undefined) {
    return [`Collection '${collection}' does not exist yet in database '${database}': the grant applies once it is created (is the name spelt right?)`];
  }
  const fields = new Set((await db.schema(real)).map((column) => column.column_name.toLowerCase()));
  const out: string[] = [];
  for (const rule of FIELD_RULES) {
    for (const field of grant[rule] ?? []) {
      if (fields.has(field.toLowerCase())) continue;
      const consequence = rule === 'exclude_fields' ? 'it hides nothing until such a field exists' : 'it matches nothing until such a field exists';
      out.push(`Field '${field}' in ${rule} of '${name}' is not a field of collection '${real}': ${consequence}`);
    }
  }
  return out;
}
