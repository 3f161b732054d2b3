/** Shapes of the duckgate answers the dashboard reads (CONTRACT.md §4-§5). */

export type Level = 'read' | 'write' | 'delete';
export const LEVELS: readonly Level[] = ['read', 'write', 'delete'];

export interface GrantObject {
  read?: boolean;
  write?: boolean;
  delete?: boolean;
  select_fields?: string[] | null;
  exclude_fields?: string[] | null;
  writable_fields?: string[] | null;
}
export type Grant = Level[] | GrantObject;
export type Permissions = Record<string, Grant>;

export interface KeySummary {
  key: string;
  key_id: string;
  prefix: string;
  label: string;
  description: string;
  is_admin: boolean;
  collection_permissions: Permissions;
  expires_at: string | null;
  rate_limit: number | null;
  allowed_ips: string[] | null;
  created_at: string;
  created_by: string | null;
  last_used_at: string | null;
}

export interface IssuedKey extends Omit<KeySummary, 'last_used_at'> {
  /** The full key: shown once. */
  key: string;
  warning: string;
  grace_until?: string | null;
}

export interface LoginAnswer {
  success: boolean;
  message?: string;
  username: string;
  token: string;
  expiresIn?: string;
  expiresAt?: string;
}

export interface CheckAuthAnswer {
  authenticated: boolean;
  username?: string;
  keyId?: string;
  authMethod?: 'jwt' | 'api-key';
  expiresAt?: string;
}

export interface QueryAnswer {
  result: Record<string, unknown>[];
  columns: string[];
  rowCount: number;
  elapsedMs: number;
}

export interface HealthAnswer {
  status: 'healthy' | 'unhealthy';
  timestamp: string;
  databases: Record<string, 'ok' | 'error'>;
}

export interface StatusAnswer {
  uptime: number;
  memory: { rss: number; heapTotal?: number; heapUsed?: number; external?: number };
  version: string;
  databases: string[];
  counters?: { requests?: number; errors?: number; authFailures?: number; rateLimited?: number } & Record<string, number | undefined>;
}
