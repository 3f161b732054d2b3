/**
 * Request and response shapes of the duckgate HTTP API (CONTRACT.md §4-§5). The wire bodies the
 * server validates (filters, find bodies, permissions, batch and query answers, error codes) are
 * the contract's TypeBox schemas in `src/contract/`, taken here as types only (`Static<>`, through
 * `import type`): no schema code and nothing of the server reaches the client, which runs in browsers.
 */
import type {
  BatchResult as ContractBatchResult, CollectionGrant as ContractCollectionGrant, CollectionPermissions as ContractCollectionPermissions,
  CollectionRules as ContractCollectionRules, ComparisonOperator as ContractComparisonOperator, DeleteResult as ContractDeleteResult,
  ErrorCode as ContractErrorCode, Filter as ContractFilter, FindBody, Json as ContractJson, JsonObject as ContractJsonObject,
  PermissionLevel as ContractPermissionLevel, SortField as ContractSortField, StatusMessage as ContractStatusMessage,
} from '../contract/index.js';

export type Json = ContractJson;
export type JsonObject = ContractJsonObject;
/** Every `code` the server can answer (the closed catalogue, README "Errors"). */
export type ErrorCode = ContractErrorCode;

/**
 * A stored record: any JSON object, always with its `id` on the way out. Generic parameters take
 * `object` rather than `JsonObject` so that interfaces (which have no index signature) fit.
 */
export type StoredRecord<T extends object = JsonObject> = T & { id: string };

/** Every data route takes `?db=<name>` (default `default`). */
export interface DbOption {
  db?: string;
}

// ── Records (ekoDB shapes, seed 003) ─────────────────────────────────────────────────────────

export type ComparisonOperator = ContractComparisonOperator;

/** ekoDB's filter language. */
export type Filter = ContractFilter;

export type SortField = ContractSortField;

/** Body of `POST /api/find/:collection`; a `limit` above the row budget is clamped to it. */
export type FindQuery = FindBody;

export interface ListOptions extends DbOption {
  /** 1 to 10000; the server's default is 100. */
  limit?: number;
  skip?: number;
}

export type DeleteResult = ContractDeleteResult;

/** Each item of a batch succeeds or fails on its own. */
export type BatchResult = ContractBatchResult;

export interface BatchUpdate<T extends object = JsonObject> {
  id: string;
  data: Partial<T>;
}

export interface CollectionList {
  collections: string[];
}

export type StatusMessage = ContractStatusMessage;

// ── SQL, tables, databases (Duckling shapes, seed 000) ───────────────────────────────────────

export type QueryParams = Json[] | Record<string, Json>;

export interface QueryResult<Row extends object = JsonObject> {
  result: Row[];
  columns: string[];
  rowCount: number;
  elapsedMs: number;
}

export interface TableColumn {
  column_name: string;
  column_type: string;
  null: string;
  key: string | null;
  default_value: string | null;
}

export interface TableSchema {
  columns: TableColumn[];
}

export interface TableDataOptions extends DbOption {
  /** 1 to 10000; the server's default is 100. */
  limit?: number;
  offset?: number;
}

export interface DatabaseList {
  success: boolean;
  databases: string[];
}

export interface DatabaseChange {
  success: boolean;
  message: string;
  name: string;
}

// ── Sync (DuckHub shape, seed 002) ───────────────────────────────────────────────────────────

/** A record to upsert by its `externalId`. */
export type SyncRecord = { externalId: string; [field: string]: Json };

export interface SyncCounts {
  created: number;
  updated: number;
  unchanged: number;
}

/** Collection → what the sync did there. */
export type SyncResult = Record<string, SyncCounts>;

// ── Keys and permissions (seed 003) ──────────────────────────────────────────────────────────

export type PermissionLevel = ContractPermissionLevel;

/** Field rules for one collection; the array form `["read","write"]` grants levels only. */
export type CollectionRules = ContractCollectionRules;

/** One collection's grant: levels, or field rules. */
export type CollectionGrant = ContractCollectionGrant;

/** Collection (or `*`, `<db>.<collection>`, `<db>.*`) → its grant. */
export type CollectionPermissions = ContractCollectionPermissions;

/** Body of `POST /api/auth/register`. */
export interface RegisterKeyRequest {
  label: string;
  description?: string;
  is_admin?: boolean;
  collection_permissions?: CollectionPermissions;
  /** ISO 8601, or null for never. */
  expires_at?: string | null;
  /** Requests per hour; overrides `API_RATE_LIMIT`. */
  rate_limit?: number | null;
  allowed_ips?: string[] | null;
}

interface KeyFields {
  key_id: string;
  /** The first 16 characters, e.g. `dk_live_a1B2c3D4`. */
  prefix: string;
  label: string;
  description: string;
  is_admin: boolean;
  collection_permissions: CollectionPermissions;
  expires_at: string | null;
  rate_limit: number | null;
  allowed_ips: string[] | null;
  created_at: string;
  created_by: string | null;
}

/** A key as `GET /api/auth/keys` lists it: `key` is the prefix and "...", never the full key. */
export interface KeySummary extends KeyFields {
  key: string;
  last_used_at: string | null;
}

/** A newly created key: `key` is the full key, shown this once. */
export interface IssuedKey extends KeyFields {
  key: string;
  warning: string;
}

/** What `POST /api/auth/register` answers. */
export interface RegisteredKey extends IssuedKey {
  /** Names in `collection_permissions` that do not exist yet, and field rules with no effect (stored as sent). */
  warnings: string[];
}

export interface RegeneratedKey extends IssuedKey {
  /** Until when the old key keeps working, or null when it died at once. */
  grace_until: string | null;
}

export interface RegenerateOptions {
  /** 0 to 2592000 (30 days); default 0: the old key dies now. */
  grace_seconds?: number;
}

export interface OwnPermissions {
  key_id: string;
  label: string;
  is_admin: boolean;
  collection_permissions: CollectionPermissions;
}

export interface PermissionsSet {
  status: string;
  key_id: string;
  collection_permissions: CollectionPermissions;
  /** Names sent that do not exist yet, and field rules with no effect (stored as sent). */
  warnings: string[];
}

export interface PermissionsUpdated extends PermissionsSet {
  /** e.g. `Added 'delete' permission to 'users' collection`. */
  changes: string[];
}

export interface TokenResponse {
  token: string;
  /** Seconds. */
  expires_in: number;
}

// ── Admin session (CONTRACT.md §4) ───────────────────────────────────────────────────────────

export interface LoginResponse {
  success: boolean;
  message: string;
  username: string;
  token: string;
  /** The configured lifetime, e.g. "7d". */
  expiresIn: string;
  /** ISO 8601. */
  expiresAt: string;
}

// ── Audit ────────────────────────────────────────────────────────────────────────────────────

export type AuditKind =
  | 'auth.failure' | 'auth.login' | 'auth.login_failed' | 'auth.logout' | 'admin.password'
  | 'key.created' | 'key.regenerated' | 'key.revoked' | 'key.permissions'
  | 'database.created' | 'database.dropped' | 'collection.dropped'
  | 'database.source_set' | 'database.source_removed' | 'database.source_tested'
  | 'sync.full' | 'sync.incremental' | 'sync.table' | 'sync.validated' | 'sync.cleared'
  | 'backup.created' | 'backup.restored' | 'backup.deleted'
  | 'automation.started' | 'automation.stopped' | 'automation.schedule_set' | 'automation.schedule_deleted' | 'automation.job';

export interface AuditFilters {
  kind?: AuditKind | AuditKind[];
  actor?: string;
  ip?: string;
  code?: string;
  /** A key_id acted on. */
  target?: string;
  since?: string | Date;
  until?: string | Date;
  /** 1 to 1000; the server's default is 100. */
  limit?: number;
  /** Paging cursor: `next_before` of the previous page. */
  before?: number;
}

export interface AuditEvent {
  id: number;
  at: string;
  kind: AuditKind;
  actor: string | null;
  key_prefix: string | null;
  ip: string | null;
  user_agent: string | null;
  route: string | null;
  code: string | null;
  target: string | null;
  details: Record<string, unknown> | null;
}

export interface AuditPage {
  events: AuditEvent[];
  next_before: number | null;
}

// ── Operations ───────────────────────────────────────────────────────────────────────────────

export interface Health {
  status: 'healthy' | 'unhealthy';
  timestamp: string;
  databases: Record<string, 'ok' | 'error'>;
}

export interface Status {
  /** Seconds. */
  uptime: number;
  memory: { rss: number; heapTotal: number; heapUsed: number; external: number };
  version: string;
  databases: string[];
  /** Since the server started. */
  counters: { requests: number; errors: number; authFailures: number; rateLimited: number };
}

/** `GET /api/check-auth` (CONTRACT.md §4). */
export interface AuthCheck {
  authenticated: boolean;
  username?: string;
  keyId?: string;
  authMethod?: 'jwt' | 'api-key';
  expiresAt?: string;
}
