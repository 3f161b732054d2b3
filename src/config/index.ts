/**
 * The whole configuration (CONTRACT.md §1 plus the documented extensions), parsed and validated
 * once at start-up. Nothing else in the code reads `process.env`.
 */
import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import { passwordProblem } from '../auth/password-policy.js';
import { DEFAULT_LIMITS, type DataLimits, type ResultBudget } from '../data/limits.js';
import { FILES_RESERVED, defaultMaxConnections, openFileLimit } from './fd-limit.js';
import { ConfigError, byteSize, duration, integer, ipList, list, oneOf, secretKey, url } from './parse.js';
import { corsOrigins } from './cors.js';

export { ConfigError } from './parse.js';

export interface Config {
  port: number;
  host: string;
  dataDir: string;
  /** Seed 000: one admin key; unset means this key path is off. */
  ducklingApiKey?: string;
  /** Seed 001: admin key. */
  adminApiKey?: string;
  /** Seed 001: client keys with full data access and no admin routes. */
  validApiKeys: string[];
  adminUsername: string;
  adminPassword?: string;
  jwtSecret?: string;
  jwtSecretPrevious?: string;
  /** Seconds. */
  jwtExpiresIn: number;
  /** Seconds. */
  tokenExpiresIn: number;
  /** Requests per hour per client; 0 = no limit. */
  apiRateLimit: number;
  /** Failed authentications per IP per 15 minutes. */
  authFailureLimit: number;
  /** `['*']` allows every address. */
  allowedIps: string[];
  trustedProxies: string[];
  storeUrl?: string;
  redisUrl?: string;
  /** Set: the data plane lives in this PostgreSQL database (shared by replicas); unset: DuckDB in DATA_DIR. */
  dataUrl?: string;
  /**
   * DATA_READER_URL: a second PostgreSQL login, able only to read duckgate's tables, that scoped
   * SQL runs as (defence in depth behind the guard). Unset with DATA_URL: scoped SQL is refused.
   */
  dataReaderUrl?: string;
  /** Schemas of duckgate databases on DATA_URL start with it. */
  dataSchemaPrefix: string;
  /** Connections to DATA_URL per process. */
  dataPoolSize: number;
  /** Namespace of duckgate's keys in Redis, so several deployments can share one Redis. */
  redisKeyPrefix: string;
  /** CORS_ORIGINS: unset = CORS off; `['*']` = any origin; else exact origins (see `cors.ts`). */
  corsOrigins?: string[];
  /**
   * How control-plane changes reach every replica: `store` (PostgreSQL LISTEN/NOTIFY, or the SQLite
   * change log) or `redis` (pub/sub, relayed from the store by one replica). Default: `redis` when
   * REDIS_URL is set.
   */
  changeChannel: ChangeChannel;
  /** Largest accepted request body, bytes. */
  bodyLimit: number;
  /** Every data request's deadline, counted from its arrival: past it, 408 `query_timeout`. */
  queryTimeoutMs: number;
  /** The data plane's budgets: default result budget, SQL, filter and schema-growth caps. */
  dataLimits: DataLimits;
  /** How far an admin may raise the result budget of one request (`?max_rows=&max_bytes=`). */
  resultCeiling: ResultBudget;
  duckdbMemoryLimit: string;
  duckdbThreads: number;
  /**
   * DuckDB read connections per database: one per libuv pool thread (UV_THREADPOOL_SIZE, Node's
   * own variable, which the duckgate launcher sets to 8), since every query runs on that pool.
   */
  duckdbReadConnections: number;
  logLevel: LogLevel;
  /** After SIGTERM/SIGINT: how long requests in flight and the stores get before the process exits anyway. */
  shutdownTimeoutMs: number;
  /** Audit events older than this many days are pruned. */
  auditRetentionDays: number;
  /** Deepest nesting a JSON body may have. */
  maxJsonDepth: number;
  /** Largest total size of request headers, bytes. */
  maxHeaderSize: number;

  // Connections and per-client concurrency (issue 10, item 5).
  /** A request (headers and body) must be received within this many ms of its first byte, else 408 and the connection closes. */
  requestReceiveTimeoutMs: number;
  /** The headers alone must be received within this many ms (also an idle new connection's lifetime). */
  headersTimeoutMs: number;
  /** An idle keep-alive connection is closed after this many ms. */
  keepAliveTimeoutMs: number;
  /** Requests one connection may carry before the server closes it; 0 = no limit. */
  maxRequestsPerSocket: number;
  /** Open connections at most; further ones are closed at once. Below the open-file limit. */
  maxConnections: number;
  /** Requests one client may have running at once; 0 = no cap. */
  maxInFlightPerClient: number;
  /** Requests one client may have waiting for a slot; beyond them, 429 too_many_in_flight. */
  maxQueuedPerClient: number;

  // Audit and log flooding (issue 10, item 6).
  /** Identical failures within this many ms are written once, then as one summary with their count; 0 = every one. */
  auditSummaryWindowMs: number;
  /** Audit events kept at most (oldest pruned first); 0 = no bound besides the age. */
  auditMaxEvents: number;
  /** `GET /ws` (Duckling's WebSocket protocol). */
  ws: WebSocketSettings;

  // The first deployment (issue 16).
  /** TLS_CERT / TLS_KEY: PEM files; set, the server speaks HTTPS (re-read on SIGHUP). */
  tls?: TlsFiles;
  /** HSTS_MAX_AGE: seconds of `Strict-Transport-Security` sent over TLS; 0 sends none. */
  hstsMaxAge: number;
  /** LOG_FORMAT: `pretty` (readable lines), `json` (one JSON object a line), `auto` (pretty on a terminal). */
  logFormat: LogFormat;
  /** RECORD_CACHE_BYTES: bound of the point-read cache (`data/record-cache.ts`); 0 = off. */
  recordCacheBytes: number;
  /** Backups (issue 15 item 5). */
  backup: BackupSettings;
  /** The automation runner (issue 15 item 4). */
  automation: AutomationSettings;
}

export interface BackupSettings {
  /** BACKUP_DIR: where the local backup storage keeps backups (default `<DATA_DIR>/backups`). */
  dir: string;
  /** BACKUP_MIN_FREE: a backup or restore that would leave less free space than this is refused (507). */
  minFreeBytes: number;
  /** BACKUP_KEEP: newest backups kept per database after each backup; 0 = no count limit. */
  keep: number;
  /** BACKUP_MAX_AGE_DAYS: older backups are deleted (never a database's newest); 0 = no age limit. */
  maxAgeDays: number;
}

export interface AutomationSettings {
  /** AUTOMATION_TICK_MS: how often each runner checks for due jobs and renews its lease. */
  tickMs: number;
  /** AUTOMATION_LEASE_MS: how long the runner lease lasts unrenewed (a crashed holder is replaced after it). */
  leaseMs: number;
}

export interface TlsFiles {
  certFile: string;
  keyFile: string;
}

export const LOG_FORMATS = ['auto', 'json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export interface WebSocketSettings {
  /** WS_AUTH_TIMEOUT_MS: the first message must authenticate within this, else close 1008. */
  authTimeoutMs: number;
  /** WS_MAX_IN_FLIGHT: messages one socket may have running at once; past it the socket stops being read. */
  maxInFlight: number;
  /** WS_MAX_QUEUED: messages already read past the cap that wait their turn; one more is refused `too_many_in_flight`. */
  maxQueued: number;
  /** WS_MAX_MESSAGE_BYTES: a larger frame closes the socket 1009. */
  maxMessageBytes: number;
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const CHANGE_CHANNELS = ['store', 'redis'] as const;
export type ChangeChannel = (typeof CHANGE_CHANNELS)[number];

type Env = Record<string, string | undefined>;

/** Parses `env` (normally `process.env`); throws `ConfigError` naming the first bad variable. */
export function loadConfig(env: Env): Config {
  const jwtSecret = env.JWT_SECRET || undefined;
  if (jwtSecret !== undefined && Buffer.byteLength(jwtSecret) < 32) {
    throw new ConfigError('JWT_SECRET', 'must be at least 32 bytes long');
  }
  const jwtSecretPrevious = env.JWT_SECRET_PREVIOUS || undefined;
  if (jwtSecretPrevious !== undefined && Buffer.byteLength(jwtSecretPrevious) < 32) {
    throw new ConfigError('JWT_SECRET_PREVIOUS', 'must be at least 32 bytes long');
  }
  const validApiKeys = list(env.VALID_API_KEYS).map((key, index) => secretKey(`VALID_API_KEYS (entry ${index + 1})`, key)!);
  const memoryLimit = (env.DUCKDB_MEMORY_LIMIT ?? '1GB').trim();
  if (!/^\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$/i.test(memoryLimit)) {
    throw new ConfigError('DUCKDB_MEMORY_LIMIT', `must be a size such as 512MB or 2GB (got "${memoryLimit}")`);
  }
  const adminUsername = (env.ADMIN_USERNAME ?? 'admin').trim();
  if (adminUsername === '' || adminUsername.length > 128) {
    throw new ConfigError('ADMIN_USERNAME', 'must be 1 to 128 characters long');
  }
  const adminPassword = env.ADMIN_PASSWORD || undefined;
  const weakPassword = adminPassword === undefined ? undefined : passwordProblem(adminPassword);
  if (weakPassword) throw new ConfigError('ADMIN_PASSWORD', weakPassword);
  const host = (env.HOST ?? '127.0.0.1').trim();
  if (host === '') throw new ConfigError('HOST', 'must not be empty');
  const connections = connectionSettings(env);
  const redisUrl = url('REDIS_URL', env.REDIS_URL, ['redis:', 'rediss:']);
  const changeChannel = oneOf('CHANGE_CHANNEL', env.CHANGE_CHANNEL?.trim(), CHANGE_CHANNELS, redisUrl ? 'redis' : 'store');
  if (changeChannel === 'redis' && !redisUrl) throw new ConfigError('CHANGE_CHANNEL', 'redis needs REDIS_URL');

  const { dataLimits, resultCeiling } = budgets(env);
  const dataDir = path.resolve(env.DATA_DIR?.trim() || './data');

  return {
    port: integer('PORT', env.PORT, 3000, 0, 65535),
    host,
    dataDir,
    ducklingApiKey: secretKey('DUCKLING_API_KEY', env.DUCKLING_API_KEY),
    adminApiKey: secretKey('ADMIN_API_KEY', env.ADMIN_API_KEY),
    validApiKeys,
    adminUsername,
    adminPassword,
    jwtSecret,
    jwtSecretPrevious,
    jwtExpiresIn: duration('JWT_EXPIRES_IN', env.JWT_EXPIRES_IN, '7d'),
    tokenExpiresIn: duration('TOKEN_EXPIRES_IN', env.TOKEN_EXPIRES_IN, '1h'),
    apiRateLimit: integer('API_RATE_LIMIT', env.API_RATE_LIMIT, 0, 0, 1_000_000_000),
    authFailureLimit: integer('AUTH_FAILURE_LIMIT', env.AUTH_FAILURE_LIMIT, 100, 1, 1_000_000_000),
    allowedIps: env.ALLOWED_IPS?.trim() ? ipList('ALLOWED_IPS', env.ALLOWED_IPS, true) : ['*'],
    trustedProxies: ipList('TRUSTED_PROXIES', env.TRUSTED_PROXIES, false),
    storeUrl: url('STORE_URL', env.STORE_URL, ['postgres:', 'postgresql:']),
    redisUrl,
    dataUrl: url('DATA_URL', env.DATA_URL, ['postgres:', 'postgresql:']),
    dataReaderUrl: dataReaderUrl(env),
    dataSchemaPrefix: schemaPrefix(env.DATA_SCHEMA_PREFIX),
    dataPoolSize: integer('DATA_POOL_SIZE', env.DATA_POOL_SIZE, 10, 1, 1000),
    redisKeyPrefix: redisKeyPrefix(env.REDIS_KEY_PREFIX),
    corsOrigins: corsOrigins(env.CORS_ORIGINS),
    changeChannel,
    bodyLimit: byteSize('BODY_LIMIT', env.BODY_LIMIT, 10 * 1024 * 1024),
    queryTimeoutMs: integer('QUERY_TIMEOUT_MS', env.QUERY_TIMEOUT_MS, 30_000, 10, 3_600_000),
    dataLimits,
    resultCeiling,
    duckdbMemoryLimit: memoryLimit,
    duckdbThreads: integer('DUCKDB_THREADS', env.DUCKDB_THREADS, 1, 1, 256),
    duckdbReadConnections: integer('UV_THREADPOOL_SIZE', env.UV_THREADPOOL_SIZE, 4, 1, 1024),
    logLevel: oneOf('LOG_LEVEL', env.LOG_LEVEL, LOG_LEVELS, 'info'),
    auditRetentionDays: integer('AUDIT_RETENTION_DAYS', env.AUDIT_RETENTION_DAYS, 90, 1, 36_500),
    shutdownTimeoutMs: integer('SHUTDOWN_TIMEOUT_MS', env.SHUTDOWN_TIMEOUT_MS, 10_000, 100, 3_600_000),
    maxJsonDepth: integer('MAX_JSON_DEPTH', env.MAX_JSON_DEPTH, 32, 2, 1000),
    maxHeaderSize: byteSize('MAX_HEADER_SIZE', env.MAX_HEADER_SIZE, 16 * 1024),
    ws: {
      authTimeoutMs: integer('WS_AUTH_TIMEOUT_MS', env.WS_AUTH_TIMEOUT_MS, 5000, 10, 600_000),
      maxInFlight: integer('WS_MAX_IN_FLIGHT', env.WS_MAX_IN_FLIGHT, 16, 1, 10_000),
      maxQueued: integer('WS_MAX_QUEUED', env.WS_MAX_QUEUED, 256, 0, 100_000),
      maxMessageBytes: byteSize('WS_MAX_MESSAGE_BYTES', env.WS_MAX_MESSAGE_BYTES, 1024 * 1024),
    },
    ...connections,
    auditSummaryWindowMs: integer('AUDIT_SUMMARY_WINDOW_MS', env.AUDIT_SUMMARY_WINDOW_MS, 60_000, 0, 86_400_000),
    auditMaxEvents: integer('AUDIT_MAX_EVENTS', env.AUDIT_MAX_EVENTS, 1_000_000, 0, 1_000_000_000),
    tls: tlsFiles(env),
    hstsMaxAge: integer('HSTS_MAX_AGE', env.HSTS_MAX_AGE, 31_536_000, 0, 63_072_000),
    logFormat: oneOf('LOG_FORMAT', env.LOG_FORMAT, LOG_FORMATS, 'auto'),
    recordCacheBytes: recordCacheBytes(env),
    backup: {
      dir: path.resolve(dataDir, env.BACKUP_DIR?.trim() || 'backups'),
      minFreeBytes: byteSize('BACKUP_MIN_FREE', env.BACKUP_MIN_FREE, 1024 ** 3),
      keep: integer('BACKUP_KEEP', env.BACKUP_KEEP, 7, 0, 100_000),
      maxAgeDays: integer('BACKUP_MAX_AGE_DAYS', env.BACKUP_MAX_AGE_DAYS, 0, 0, 36_500),
    },
    automation: automationSettings(env),
  };
}

/** Both or neither, each a readable file: a typo must stop the start, not serve plain HTTP. */
function tlsFiles(env: Env): TlsFiles | undefined {
  const cert = env.TLS_CERT?.trim() || undefined;
  const key = env.TLS_KEY?.trim() || undefined;
  if (cert === undefined && key === undefined) return undefined;
  if (cert === undefined) throw new ConfigError('TLS_CERT', 'must be set with TLS_KEY (both PEM files)');
  if (key === undefined) throw new ConfigError('TLS_KEY', 'must be set with TLS_CERT (both PEM files)');
  for (const [name, file] of [['TLS_CERT', cert], ['TLS_KEY', key]] as const) {
    try {
      accessSync(file, constants.R_OK);
    } catch (error) {
      throw new ConfigError(name, `must name a readable PEM file (${(error as { code?: string }).code ?? 'unreadable'}: ${path.resolve(file)})`);
    }
  }
  return { certFile: path.resolve(cert), keyFile: path.resolve(key) };
}

function automationSettings(env: Env): AutomationSettings {
  const tickMs = integer('AUTOMATION_TICK_MS', env.AUTOMATION_TICK_MS, 10_000, 100, 3_600_000);
  const leaseMs = integer('AUTOMATION_LEASE_MS', env.AUTOMATION_LEASE_MS, 60_000, 300, 86_400_000);
  // A lease shorter than two ticks would lapse between its holder's renewals.
  if (leaseMs < 2 * tickMs) throw new ConfigError('AUTOMATION_LEASE_MS', `must be at least twice AUTOMATION_TICK_MS (${2 * tickMs})`);
  return { tickMs, leaseMs };
}

/** DATA_READER_URL: only with DATA_URL, whose data it reads. */
function dataReaderUrl(env: Env): string | undefined {
  const reader = url('DATA_READER_URL', env.DATA_READER_URL, ['postgres:', 'postgresql:']);
  if (reader !== undefined && !env.DATA_URL?.trim()) throw new ConfigError('DATA_READER_URL', 'needs DATA_URL: it is the role scoped SQL reads DATA_URL\'s data as');
  return reader;
}

/**
 * RECORD_CACHE_BYTES: 64mb by default, `0` turns the cache off. With DATA_URL (a data engine shared
 * by several replicas) other replicas' writes never pass through this one's cache, so it is off and
 * may not be turned on until every write's invalidation reaches every replica.
 */
function recordCacheBytes(env: Env): number {
  const raw = env.RECORD_CACHE_BYTES?.trim();
  const shared = Boolean(env.DATA_URL?.trim());
  if (raw === undefined || raw === '') return shared ? 0 : 64 * 1024 * 1024;
  if (raw === '0') return 0;
  const bytes = byteSize('RECORD_CACHE_BYTES', raw, 0);
  if (bytes > 64 * GB) throw new ConfigError('RECORD_CACHE_BYTES', `must be at most 64gb (got "${raw}")`);
  if (shared) {
    throw new ConfigError('RECORD_CACHE_BYTES', "must be 0 with DATA_URL: other replicas' writes would not invalidate this replica's cache");
  }
  return bytes;
}

/** Lower-case letters, digits and `_`: a schema prefix that never needs care when quoted or compared. */
function schemaPrefix(raw: string | undefined): string {
  const prefix = (raw ?? 'duckgate_').trim();
  if (!/^[a-z_][a-z0-9_]{0,31}$/.test(prefix)) {
    throw new ConfigError('DATA_SCHEMA_PREFIX', `must be 1 to 32 of a-z, 0-9 and '_', not starting with a digit (got "${raw}")`);
  }
  return prefix;
}

type ConnectionSettings = Pick<Config, 'requestReceiveTimeoutMs' | 'headersTimeoutMs' | 'keepAliveTimeoutMs' | 'maxRequestsPerSocket'
  | 'maxConnections' | 'maxInFlightPerClient' | 'maxQueuedPerClient'>;

function connectionSettings(env: Env): ConnectionSettings {
  const requestReceiveTimeoutMs = integer('REQUEST_RECEIVE_TIMEOUT_MS', env.REQUEST_RECEIVE_TIMEOUT_MS, 30_000, 100, 3_600_000);
  const headersTimeoutMs = integer('HEADERS_TIMEOUT_MS', env.HEADERS_TIMEOUT_MS, Math.min(10_000, requestReceiveTimeoutMs), 100, 3_600_000);
  // Node refuses to start a server whose headers may take longer than the whole request.
  if (headersTimeoutMs > requestReceiveTimeoutMs) {
    throw new ConfigError('HEADERS_TIMEOUT_MS', `must not be longer than REQUEST_RECEIVE_TIMEOUT_MS (${requestReceiveTimeoutMs})`);
  }
  const fileLimit = openFileLimit();
  const maxConnections = integer('MAX_CONNECTIONS', env.MAX_CONNECTIONS, defaultMaxConnections(fileLimit), 1, 1_000_000);
  if (fileLimit !== undefined && maxConnections > fileLimit - FILES_RESERVED) {
    throw new ConfigError('MAX_CONNECTIONS', `must leave ${FILES_RESERVED} of the process's ${fileLimit} open files (ulimit -n) for database files: at most ${fileLimit - FILES_RESERVED} (got ${maxConnections})`);
  }
  return {
    requestReceiveTimeoutMs,
    headersTimeoutMs,
    keepAliveTimeoutMs: integer('KEEP_ALIVE_TIMEOUT_MS', env.KEEP_ALIVE_TIMEOUT_MS, 72_000, 100, 3_600_000),
    maxRequestsPerSocket: integer('MAX_REQUESTS_PER_SOCKET', env.MAX_REQUESTS_PER_SOCKET, 0, 0, 1_000_000_000),
    maxConnections,
    maxInFlightPerClient: integer('MAX_IN_FLIGHT_PER_CLIENT', env.MAX_IN_FLIGHT_PER_CLIENT, 4, 0, 100_000),
    maxQueuedPerClient: integer('MAX_QUEUED_PER_CLIENT', env.MAX_QUEUED_PER_CLIENT, 64, 0, 100_000),
  };
}

const GB = 1024 ** 3;

/** Issue 10's budgets. A default above its ceiling would be a budget no one could ever get. */
function budgets(env: Env): { dataLimits: DataLimits; resultCeiling: ResultBudget } {
  const d = DEFAULT_LIMITS;
  const rowsCeiling = integer('RESULT_ROWS_CEILING', env.RESULT_ROWS_CEILING, 1_000_000, 1, 100_000_000);
  const bytesCeiling = byteSize('RESULT_BYTES_CEILING', env.RESULT_BYTES_CEILING, 256 * 1024 * 1024);
  if (bytesCeiling > 4 * GB) throw new ConfigError('RESULT_BYTES_CEILING', `must be at most 4gb (got "${env.RESULT_BYTES_CEILING}")`);
  const maxRows = integer('MAX_RESULT_ROWS', env.MAX_RESULT_ROWS, d.result.maxRows, 1, 100_000_000);
  if (maxRows > rowsCeiling) throw new ConfigError('MAX_RESULT_ROWS', `must not exceed RESULT_ROWS_CEILING (${rowsCeiling})`);
  const maxBytes = byteSize('MAX_RESULT_BYTES', env.MAX_RESULT_BYTES, d.result.maxBytes);
  if (maxBytes > bytesCeiling) throw new ConfigError('MAX_RESULT_BYTES', `must not exceed RESULT_BYTES_CEILING (${bytesCeiling} bytes)`);
  const maxNewFields = integer('MAX_NEW_FIELDS_PER_WRITE', env.MAX_NEW_FIELDS_PER_WRITE, d.maxNewFieldsPerWrite, 1, 10_000);
  const maxColumns = integer('MAX_COLUMNS_PER_COLLECTION', env.MAX_COLUMNS_PER_COLLECTION, d.maxColumnsPerCollection, 2, 100_000);
  return {
    dataLimits: {
      result: { maxRows, maxBytes },
      maxSqlLength: byteSize('MAX_SQL_LENGTH', env.MAX_SQL_LENGTH, d.maxSqlLength),
      maxSqlNodes: integer('MAX_SQL_NODES', env.MAX_SQL_NODES, d.maxSqlNodes, 10, 10_000_000),
      maxSqlTableRefs: integer('MAX_SQL_TABLE_REFS', env.MAX_SQL_TABLE_REFS, d.maxSqlTableRefs, 1, 100_000),
      maxSqlDepth: integer('MAX_SQL_DEPTH', env.MAX_SQL_DEPTH, d.maxSqlDepth, 8, 10_000),
      maxInValues: integer('MAX_IN_VALUES', env.MAX_IN_VALUES, d.maxInValues, 1, 10_000_000),
      maxFilterTerms: integer('MAX_FILTER_TERMS', env.MAX_FILTER_TERMS, d.maxFilterTerms, 1, 1_000_000),
      maxNewFieldsPerWrite: maxNewFields,
      maxColumnsPerCollection: maxColumns,
    },
    resultCeiling: { maxRows: rowsCeiling, maxBytes: bytesCeiling },
  };
}

function redisKeyPrefix(raw: string | undefined): string {
  const prefix = raw?.trim() || 'duckgate';
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(prefix)) {
    throw new ConfigError('REDIS_KEY_PREFIX', `must be 1 to 64 letters, digits, '_', '.' or '-' (got "${prefix}")`);
  }
  return prefix;
}
