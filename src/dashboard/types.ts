/**
 * Shapes of the duckgate answers the dashboard reads (CONTRACT.md §4-§5): the client library's own
 * declarations (`src/client/types.ts`, type-only and dependency-free), which take the wire bodies
 * from the contract (`src/contract/`) as `Static<>` types, so server, client and dashboard cannot drift.
 */
import type { PermissionLevel } from '../client/types';

export type {
  AuthCheck, CollectionGrant, CollectionPermissions, CollectionRules, Health, IssuedKey, KeySummary, LoginResponse,
  PermissionLevel, PermissionsSet, QueryResult, RegeneratedKey, RegisteredKey, Status,
} from '../client/types';

export const LEVELS: readonly PermissionLevel[] = ['read', 'write', 'delete'];
