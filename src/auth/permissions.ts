/**
 * May this principal do that? One evaluator for every data path (records, sync, tables, SQL).
 * Throws the contract's 403s; returns nothing when allowed.
 */
import { errors, type PermissionLevel } from '../errors.js';
import type { StatementKind } from '../data/engine.js';
import type { Principal } from './principal.js';

export type { PermissionLevel } from '../errors.js';

export function assertAdmin(principal: Principal): void {
  if (!principal.isAdmin) throw errors.adminRequired();
}

export function assertCollectionAccess(principal: Principal, level: PermissionLevel, _database: string, collection: string): void {
  if (principal.isAdmin) return;
  if (principal.access.kind === 'all') return;
  throw errors.noPermission(level, collection);
}

/** Databases the principal can see at all (the tenant boundary of CONTRACT.md §5). */
export function canSeeDatabase(principal: Principal, _database: string): boolean {
  return principal.isAdmin || principal.access.kind === 'all';
}

/**
 * Statement kinds a principal may send to `POST /api/query`. Admins: everything, still under
 * DuckDB's locked configuration. Full-data clients: reads and row writes, but no DDL, ATTACH,
 * SET or PRAGMA, since dropping or reshaping collections is an admin action.
 */
export function allowedStatements(principal: Principal): readonly StatementKind[] | undefined {
  if (principal.isAdmin) return undefined;
  return ['SELECT', 'INSERT', 'UPDATE', 'DELETE'];
}
