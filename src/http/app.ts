/**
 * Assembles the Fastify app: error rendering, metrics, OpenAPI, authentication, then the routes.
 * Nothing listens here (see `server.ts`), so tests drive the same app through `inject` or a port.
 */
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { AuditTrail } from '../auth/audit-trail.js';
import { createAuthFailureCounter } from '../auth/auth-failures.js';
import { IpAllowList } from '../auth/ip-rules.js';
import { limiterBackend } from '../auth/limiter-backend.js';
import { MemoryInFlightLimiter } from '../auth/in-flight-memory.js';
import type { AuditStore } from '../store/audit-store.js';
import { EnvironmentKeys } from '../auth/environment-keys.js';
import { KeyService } from '../auth/key-service.js';
import { ManagedKeys } from '../auth/managed-keys.js';
import { CredentialResolver, type PrincipalResolver } from '../auth/resolver.js';
import { AdminLogin } from '../auth/admin-login.js';
import { LoginThrottle } from '../auth/login-throttle.js';
import { RevokedTokens } from '../auth/revoked-tokens.js';
import { followStoreChanges } from '../auth/store-sync.js';
import { credentialCaches } from '../auth/credential-cache.js';
import { SESSION_TOKEN, SessionTokens } from '../auth/sessions.js';
import { TokensByKind } from '../auth/token-kinds.js';
import { API_TOKEN, ApiTokens } from '../auth/tokens.js';
import type { AccountStore } from '../store/account-store.js';
import type { ChangeFeed } from '../store/changes.js';
import { RedisChangeFeed } from '../store/redis-changes.js';
import type { KeyStore } from '../store/key-store.js';
import type { Config } from '../config/index.js';
import type { DataEngine } from '../data/engine.js';
import { VERSION } from '../version.js';
import { installAdminAudit } from './admin-audit.js';
import { authEvents } from './auth-events.js';
import { installAuthentication } from './authenticate.js';
import { clientIpResolver } from './client-ip.js';
import { trackConnections, type ConnectionDrain } from './connection-drain.js';
import { installInFlightSlots, type InFlightSlots } from './in-flight.js';
import { auditRoutes } from './routes/audit.js';
import { installDeadline } from './plugins/deadline.js';
import { clientErrorHandler, installErrorHandling } from './plugins/errors.js';
import { installJsonBodyParser } from './plugins/json-body.js';
import { installMsgpack } from './plugins/msgpack.js';
import { installCors } from './plugins/cors.js';
import { validatorOptions } from './plugins/validators.js';
import { createMetrics, installRequestMetrics, watchChangeRelay, watchConnections, watchInFlight, watchRecordCache, type Metrics } from './plugins/metrics.js';
import { CachedEngine } from '../data/record-cache.js';
import { installOpenApi } from './plugins/openapi.js';
import { dashboardRoutes } from './routes/dashboard.js';
import { databaseRoutes } from './routes/databases.js';
import { keyRoutes } from './routes/keys.js';
import { operationRoutes } from './routes/operations.js';
import { queryRoutes } from './routes/query.js';
import { recordRoutes } from './routes/records.js';
import { sessionRoutes } from './routes/session.js';
import { syncRoutes } from './routes/sync.js';
import { sourceSyncRoutes } from './routes/source-sync.js';
import { SourceSecret } from '../auth/source-secret.js';
import { SourceSyncService } from '../data/sync/service.js';
import type { SourceStore } from '../store/source-store.js';
import { tableRoutes } from './routes/tables.js';
import { installWebSockets, websocketRoutes } from './routes/ws.js';
import { installHsts, readTlsMaterial } from './tls.js';
import { automationRoutes } from './routes/automation.js';
import { Automation } from '../automation/automation.js';
import { LocalBackupStorage } from '../data/backup/local-storage.js';
import { BackupService } from '../data/backup/service.js';
import type { SourceSync } from '../data/sync/types.js';
import type { AutomationStore } from '../store/automation-store.js';
import type { OpenSockets } from './ws/sockets.js';

export interface AppDependencies {
  config: Config;
  engine: DataEngine;
  /** The control-plane store: managed keys (never the full keys). */
  store: KeyStore;
  /** The audit trail's store (the same control-plane store). */
  audit: AuditStore;
  /** The dashboard account and logged-out tokens (the same control-plane store). */
  accounts: AccountStore;
  /** Source connections and sync logs (issue 15; the same control-plane store). */
  sources: SourceStore;
  /** Announces control-plane changes made anywhere on the store; unset (benches): caches never drop what others change. */
  changes?: ChangeFeed;
  /** Set with REDIS_URL: rate-limit counters shared by every replica. */
  redis?: Redis;
  /** HS256 secret for tokens (see `auth/jwt-secret.ts`). */
  jwtSecret: Uint8Array;
  /** Log through pino at the configured level; false silences the app (tests). */
  log?: boolean;
  /** Where log lines go (default: stdout), e.g. to count them in a test. */
  logDestination?: { write(line: string): void };
  /**
   * Who each credential stands for (see `auth/resolver.ts`). Unset: the real resolver over the
   * environment keys, managed keys and tokens, with AUTH_FAILURE_LIMIT and API_RATE_LIMIT. `bench/`
   * passes its own to measure the request path without authentication.
   */
  resolver?: PrincipalResolver;
  /** Where the built dashboard is (default: this package's `dist/dashboard`). */
  dashboardDir?: string;
  /** Automation schedules and the runner lease (the same control-plane store); unset: no `/automation` runner routes. */
  automation?: AutomationStore;
}

export interface RouteInfo {
  method: string;
  url: string;
  public: boolean;
  /** Authenticates from the JSON body (seed 003's `api_key`). */
  credentialInBody: boolean;
  /** In `/openapi.json` (all but the dashboard's static files). */
  documented: boolean;
}

export interface App {
  fastify: FastifyInstance;
  metrics: Metrics;
  /** Every registered route, for tests that prove none is left open and all are documented. */
  routes: RouteInfo[];
  keys: KeyService;
  audit: AuditTrail;
  /** The open WebSockets of `GET /ws`. */
  sockets: OpenSockets;
  /** Responses in progress per connection, for a shutdown that ends (`connection-drain.ts`). */
  connections: ConnectionDrain;
  /** Source sync of every database (issue 15): the automation runner and the CLI drive it too. */
  sourceSync: SourceSyncService;
  backups: BackupService;
  /** Unset without `AppDependencies.automation`. */
  automation?: Automation;
}

export async function buildApp(deps: AppDependencies): Promise<App> {
  const { config, engine } = deps;
  const tls = config.tls ? readTlsMaterial(config.tls) : undefined;
  const httpOptions = { maxHeaderSize: config.maxHeaderSize, ...connectionLimits(config) };
  const fastify = Fastify({
    // With TLS_CERT/TLS_KEY, Fastify creates an https.Server, which takes the http options too.
    // Its type stays http.Server's: everything used here (listen, upgrade, limits) is common to both.
    ...(tls ? { https: { ...httpOptions, ...tls } } as unknown as Record<string, never> : {}),
    logger: deps.log === false ? false : {
      level: config.logLevel,
      // Credentials travel in these headers; they must never reach a log line.
      redact: { paths: ['req.headers.authorization', 'req.headers["x-api-key"]', 'req.body.api_key', 'req.body.password'], censor: '[redacted]' },
      ...(deps.logDestination ? { stream: deps.logDestination } : {}),
    },
    bodyLimit: config.bodyLimit,
    // Slow clients (slowloris, slow bodies) and idle connections are cut off; see `connectionLimits`.
    requestTimeout: config.requestReceiveTimeoutMs,
    keepAliveTimeout: config.keepAliveTimeoutMs,
    maxRequestsPerSocket: config.maxRequestsPerSocket,
    http: httpOptions,
    clientErrorHandler,
    // Per-request access logs would cost more than authentication itself; errors are still logged.
    logController: new LogController({ disableRequestLogging: true }),
    trustProxy: config.trustedProxies.length > 0 ? config.trustedProxies : false,
    // Query strings and path parameters are coerced from text; bodies are not (see `validators.ts`).
    ...validatorOptions(),
  });

  // Past the cap, Node closes new connections at once: the file handles left keep the databases open.
  fastify.server.maxConnections = config.maxConnections;
  // First of the hooks: every request that reaches Fastify is counted until its response is written.
  const connections = trackConnections(fastify);

  // JSON routes take JSON only: without this, a text/plain body would be parsed as a string and
  // answer 400 instead of the 415 a client can act on.
  fastify.removeContentTypeParser('text/plain');
  installJsonBodyParser(fastify, config.maxJsonDepth);
  // Before authentication's hooks: a msgpack client's 401 or 429 is in msgpack too.
  installMsgpack(fastify, config.maxJsonDepth);

  const routes: RouteInfo[] = [];
  fastify.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) {
      if (method !== 'HEAD') {
        routes.push({
          method,
          url: route.url,
          public: route.config?.public === true,
          credentialInBody: route.config?.credentialInBody !== undefined,
          documented: (route.schema as { hide?: boolean } | undefined)?.hide !== true,
        });
      }
    }
  });

  const metrics = createMetrics();
  if (tls) installHsts(fastify, config.hstsMaxAge);
  installErrorHandling(fastify, { onAuthFailure: (error) => metrics.authFailures.inc({ code: error.code }) });
  installRequestMetrics(fastify, metrics);
  // Before authentication's hooks: the deadline counts from arrival, and an upgrade is known as one.
  installDeadline(fastify, config.queryTimeoutMs);
  watchConnections(metrics, fastify.server);
  if (engine instanceof CachedEngine) watchRecordCache(metrics, () => engine.cache.stats());
  const sockets = await installWebSockets(fastify, config.ws.maxMessageBytes);
  // Before authentication's hook: a preflight carries no credential and is answered here.
  await installCors(fastify, config.corsOrigins);
  await installOpenApi(fastify, VERSION);

  const environmentKeys = new EnvironmentKeys({
    adminApiKey: config.adminApiKey,
    validApiKeys: config.validApiKeys,
    ducklingApiKey: config.ducklingApiKey,
    secrets: { secret: deps.jwtSecret, previousSecret: jwtSecretPrevious(config) },
  });
  // The credential cache seam, chosen once: keys by hash and id, verified tokens by token id.
  const caches = credentialCaches();
  const managedKeys = new ManagedKeys(deps.store, {
    caches,
    onError: (error) => fastify.log.error({ err: error }, 'key store'),
    cacheWithoutFeed: deps.changes === undefined,
  });
  const audit = new AuditTrail(deps.audit, {
    onError: (error) => fastify.log.error({ err: error }, 'audit trail'),
    onDropped: (count) => fastify.log.warn({ dropped: count }, 'audit events dropped under load'),
    summaryWindowMs: config.auditSummaryWindowMs,
    maxEvents: config.auditMaxEvents,
  });
  void audit.startRetention({ retentionDays: config.auditRetentionDays }).catch((error: unknown) => fastify.log.error({ err: error }, 'audit retention'));
  installAdminAudit(fastify, audit);
  // Memory or Redis, chosen once here for every limiter: the per-client limit, failures, logins.
  const limiters = limiterBackend({
    redis: deps.redis,
    keyPrefix: config.redisKeyPrefix,
    onError: (error) => fastify.log.error({ err: error }, 'Redis rate limiter failing; counting in this process meanwhile'),
  });
  const rateLimiter = limiters.slidingWindow('rl');
  const authFailures = createAuthFailureCounter({ limit: config.authFailureLimit, backend: limiters });
  fastify.addHook('onClose', async () => {
    await managedKeys.close();
    await rateLimiter.close();
    await authFailures.close();
    await audit.close();
  });
  const secrets = { secret: deps.jwtSecret, previousSecret: jwtSecretPrevious(config) };
  const revoked = await RevokedTokens.open(deps.accounts, (error) => fastify.log.error({ err: error }, 'revoked tokens'));
  fastify.addHook('onClose', async () => revoked.close());
  if (deps.changes) {
    const unwatch = followStoreChanges(deps.changes, { keys: managedKeys, revoked, caches }, {
      lost: (error) => {
        metrics.storeFeedLive.set(0);
        metrics.storeFeedLosses.inc();
        fastify.log.warn({ err: error }, 'control store change feed lost: reading every key and token through to the store until it is back');
      },
      resumed: (afterLoss) => {
        metrics.storeFeedLive.set(1);
        if (afterLoss) fastify.log.warn('control store change feed back: caches cleared and in use again');
      },
    });
    fastify.addHook('onClose', async () => unwatch());
    const changes = deps.changes;
    if (changes instanceof RedisChangeFeed) watchChangeRelay(metrics, () => changes.isRelay);
  }
  const apiTokens = new ApiTokens({
    ...secrets,
    lifetimeSeconds: config.tokenExpiresIn,
    resolveSubject: async (subject, generation) =>
      (subject.startsWith('env:') ? environmentKeys.forToken(subject, generation) : managedKeys.principalForToken(subject, generation)),
    revoked,
    caches,
  });
  const sessions = new SessionTokens({ ...secrets, caches, lifetimeSeconds: config.jwtExpiresIn, username: config.adminUsername, accounts: deps.accounts, revoked });
  const tokens = new TokensByKind([[API_TOKEN, apiTokens], [SESSION_TOKEN, sessions]], revoked);
  const login = await AdminLogin.create({
    username: config.adminUsername,
    accounts: deps.accounts,
    throttle: new LoginThrottle({
      knownAddresses: deps.accounts,
      backend: limiters,
      onError: (error) => fastify.log.error({ err: error }, 'login throttle: known addresses'),
    }),
  });
  const keys = new KeyService(deps.store, {
    environmentAdminKeys: [config.adminApiKey, config.ducklingApiKey].filter(Boolean).length,
    onChange: (keyId) => managedKeys.forgetKey(keyId),
    // Who changed which key how, in the log as in the audit trail: the prefix, never the key.
    onAudited: (event) => fastify.log.info({ event: event.kind, actor: event.actor, target: event.target, key_prefix: event.keyPrefix, details: event.details }, `${event.kind} ${event.target ?? ''}`.trim()),
    catalog: engine,
  });
  const events = authEvents(metrics, audit, fastify.log, { summaryWindowMs: config.auditSummaryWindowMs, adminUsername: config.adminUsername });
  fastify.addHook('onClose', async () => events.close());
  const inFlight = inFlightSlots(fastify, config, metrics);
  const resolver = deps.resolver ?? new CredentialResolver({
    sources: { environmentKeys, managedKeys, tokens },
    authFailures,
    rateLimit: { limiter: rateLimiter, defaultLimit: config.apiRateLimit },
  });
  const authenticator = installAuthentication(fastify, {
    clientIp: clientIpResolver(config.trustedProxies),
    allowedIps: new IpAllowList(config.allowedIps),
    resolver,
    tables: (database, name, deadline) => engine.database(database).resolveTable(name, { deadline }),
    inFlight,
    events,
  });

  const resultLimits = { defaults: config.dataLimits.result, ceiling: config.resultCeiling };
  recordRoutes(fastify, engine, resultLimits);
  tableRoutes(fastify, engine, resultLimits);
  queryRoutes(fastify, engine, resultLimits);
  websocketRoutes(fastify, sockets, {
    authenticator, resolver, engine, limits: resultLimits, settings: config.ws, queryTimeoutMs: config.queryTimeoutMs,
    maxJsonDepth: config.maxJsonDepth, metrics, log: fastify.log, changes: deps.changes,
  });
  const sourceSync = new SourceSyncService({ engine, sources: deps.sources, secret: SourceSecret.load(config.dataDir) });
  fastify.addHook('onClose', async () => sourceSync.close());
  databaseRoutes(fastify, engine, sourceSync);
  syncRoutes(fastify, engine);
  sourceSyncRoutes(fastify, sourceSync);
  operationRoutes(fastify, engine, metrics);
  keyRoutes(fastify, keys, apiTokens, environmentKeys);
  auditRoutes(fastify, audit);
  sessionRoutes(fastify, { login, sessions, tokens, authenticator, events, sessionSeconds: config.jwtExpiresIn });
  const { backups, automation } = await installAutomation(fastify, deps, audit, sourceSync);
  dashboardRoutes(fastify, deps.dashboardDir);

  await fastify.ready();
  automation?.begin();
  return { fastify, metrics, routes, keys, audit, sockets, connections, sourceSync, backups, automation };
}

/** Backups (local storage in BACKUP_DIR) and, with an automation store, the runner and its routes. */
async function installAutomation(fastify: FastifyInstance, deps: AppDependencies, audit: AuditTrail, sourceSync: Pick<SourceSync, 'incremental'>): Promise<{ backups: BackupService; automation?: Automation }> {
  const { config, engine } = deps;
  const storage = new LocalBackupStorage(config.backup.dir);
  // What a crash left half-written; no backup runs yet in this process.
  await storage.sweep();
  const retention = { keep: config.backup.keep, maxAgeDays: config.backup.maxAgeDays };
  const backups = new BackupService({
    engine, storage, dataDir: config.dataDir, minFreeBytes: config.backup.minFreeBytes, retention,
  });
  const automation = deps.automation === undefined ? undefined : new Automation({
    store: deps.automation, engine, backups, sync: sourceSync, pruneSyncLogs: (before) => deps.sources.pruneSyncLogs(before), retention,
    hasSource: async (database) => (await deps.sources.getSource(database)) !== undefined,
    tickMs: config.automation.tickMs, leaseMs: config.automation.leaseMs,
    onError: (error) => fastify.log.error({ err: error }, 'automation runner'),
    onRun: (schedule, outcome) => audit.record({
      kind: 'automation.job', actor: 'automation', target: `schedule:${schedule.database}/${schedule.kind}`, code: outcome.status === 'ok' ? null : 'job_failed',
      details: { status: outcome.status, error: outcome.error, durationMs: outcome.durationMs },
    }),
  });
  if (automation !== undefined) fastify.addHook('onClose', async () => automation.close());
  automationRoutes(fastify, backups, automation);
  return { backups, automation };
}

function jwtSecretPrevious(config: Config): Uint8Array | undefined {
  return config.jwtSecretPrevious === undefined ? undefined : new TextEncoder().encode(config.jwtSecretPrevious);
}

/**
 * Node's own limits on slow clients. Its timer checks connections every
 * `connectionsCheckingInterval` (30 s by default), so a slow body could outlive its timeout by that
 * much: check every quarter of the shorter timeout, and at least once a second.
 */
function connectionLimits(config: Config) {
  const shorter = Math.min(config.headersTimeoutMs, config.requestReceiveTimeoutMs);
  return {
    headersTimeout: config.headersTimeoutMs,
    requestTimeout: config.requestReceiveTimeoutMs,
    keepAliveTimeout: config.keepAliveTimeoutMs,
    connectionsCheckingInterval: Math.max(25, Math.min(1000, Math.floor(shorter / 4))),
  };
}

/** MAX_IN_FLIGHT_PER_CLIENT (0: no cap): the step after the rate limit in `authenticate.ts`. */
function inFlightSlots(fastify: FastifyInstance, config: Config, metrics: Metrics): InFlightSlots | undefined {
  if (config.maxInFlightPerClient === 0) return undefined;
  const limiter = new MemoryInFlightLimiter({ maxInFlight: config.maxInFlightPerClient, maxQueued: config.maxQueuedPerClient });
  watchInFlight(metrics, () => limiter.stats());
  return installInFlightSlots(fastify, limiter, {
    queueTimeoutMs: config.queryTimeoutMs,
    onRefused: (reason) => metrics.inFlightRefused.inc({ reason }),
  });
}
