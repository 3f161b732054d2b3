import { errors } from '../../errors.js';
import { isIdentifier } from '../identifiers.js';

/** Lower-case so a database name maps to one file on every file system, case-sensitive or not. */
const DATABASE_NAME = /^[a-z][a-z0-9_-]{0,62}$/;

export type NameKind = 'database' | 'collection' | 'field';

export function assertDatabaseName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || !DATABASE_NAME.test(name)) {
    throw errors.badRequest('invalid_name', `Invalid database name '${String(name)}': use a-z, 0-9, '_' or '-', starting with a letter`);
  }
}

export { isIdentifier };

export function assertIdentifier(name: unknown, kind: Exclude<NameKind, 'database'>): asserts name is string {
  if (!isIdentifier(name)) {
    throw errors.badRequest('invalid_name', `Invalid ${kind} name '${String(name)}'`);
  }
}

/** Always quoted, even when validated: a field called `select` or `order` must still work. */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
