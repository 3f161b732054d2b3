/** Starts duckgate: configuration, stores, app, listener, and a clean shutdown on signals. */
import { ensureAdminAccount } from './auth/admin-login.js';
import { loadJwtSecret } from './auth/jwt-secret.js';
import type { PrincipalResolver } from './auth/resolver.js';
import type { Config } from './config/index.js';
import type { DataEngine } from './data/engine.js';
import { openDuckDBEngine } from './data/duckdb/index.js';
import { openPostgresEngine } from './data/postgres/index.js';
import { withRecordCache } from './data/record-cache.js';
import { buildApp, type App } from './http/app.js';
import { reloadTls } from './http/tls.js';
import type { ConnectionDrain } from './http/connection-drain.js';
import { Redis } from 'ioredis';
import { ensurePrivateDir, usePrivateUmask } from './private-files.js';
import { openControlStore, type ControlStore } from './store/index.js';
import { RedisChangeFeed } from './store/redis-changes.js';
import type { KeyStore } from './store/key-store.js';

export interface RunningServer {
  app: App;
  engine: DataEngine;
  store: KeyStore;
  /** The whole control-plane store (keys, accounts, audit, change feed). */
  control: ControlStore;
  url: string;
  close(): Promise<void>;
  /** What a shutdown would wait for now: HTTP responses in progress, open WebSockets. */
  inFlight(): { requests: number; sockets: number };
  /** Re-reads TLS_CERT and TLS_KEY (SIGHUP); throws, keeping the old pair, when they cannot be used. False without TLS. */
  reloadTls(): boolean;
}

export interface StartOptions {
  log?: boolean;
  /** Where log lines go (default: stdout). */
  logDestination?: { write(line: string): void };
  /** Replaces the credential resolver (`bench/` measures the path without authentication): see `AppDependencies.resolver`. */
  resolver?: PrincipalResolver;
  /** Where the one-time first-start banner goes (default: stdout, never the log). */
  announce?: (text: string) => void;
}

export async function startServer(config: Config, options: StartOptions = {}): Promise<RunningServer> {
  // Key hashes, the JWT secret and the databases: 0700 / 0600, readable by this user only.
  usePrivateUmask();
  const dataDir = ensurePrivateDir(config.dataDir);
  const jwtSecret = loadJwtSecret(config.jwtSecret, config.dataDir);
  const control = await openControlStoreOrExplain(config);
  const { keys: store, audit, accounts, sources } = control;
  // One client for every Redis user; commands time out so a stalled Redis cannot hold requests.
  const redis = config.redisUrl ? new Redis(config.redisUrl, { maxRetriesPerRequest: 1, commandTimeout: 1000, lazyConnect: false }) : undefined;
  // Failures surface as failed commands, which their users log (once per outage); without a
  // listener ioredis would also print every reconnection attempt.
  redis?.on('error', () => {});
  // With CHANGE_CHANNEL=redis, changes arrive over Redis pub/sub, relayed from the store's own feed.
  let log: App['fastify']['log'] | undefined;
  const changes = config.changeChannel === 'redis' && redis
    ? new RedisChangeFeed({
      redis,
      source: control.changes,
      keyPrefix: config.redisKeyPrefix,
      onRelay: (relaying) => log?.info(relaying ? 'relaying control store changes to Redis' : 'no longer relaying control store changes to Redis'),
    })
    : control.changes;
  const closeStores = async () => {
    if (changes !== control.changes) await changes.close();
    await control.close();
    redis?.disconnect();
  };
  let engine: DataEngine | undefined;
  let app: App | undefined;
  let connections: ConnectionDrain | undefined;
  try {
    engine = withRecordCache(await openDataEngine(config), config.recordCacheBytes);
    app = await buildApp({
      config, engine, store, audit, accounts, changes, sources, redis, jwtSecret, log: options.log, resolver: options.resolver, logDestination: options.logDestination,
      automation: control.automation,
    });
    log = app.fastify.log;
    log.info({ changeChannel: config.changeChannel }, `control-plane changes arrive over ${changes === control.changes ? control.kind : 'redis'}`);
    if (config.dataUrl !== undefined && config.dataReaderUrl === undefined) {
      log.warn('DATA_READER_URL is not set: scoped (non-admin) SQL is refused with 403 until it names a read-only role (docs/deployment.md)');
    }
    if (dataDir.openToOthers) {
      app.fastify.log.warn({ dataDir: config.dataDir }, 'DATA_DIR can be entered by other users; its files are 0600, but consider chmod 700');
    }
    if (redis && config.redisUrl) {
      const problem = await unreachable(redis, REDIS_PING_TIMEOUT_MS);
      if (problem) {
        app.fastify.log.warn({ redis: redactedUrl(config.redisUrl), problem },
          'REDIS_URL is unreachable: rate limits and failure counters are kept in this process until it answers');
      }
    }
    connections = app.connections;
    // Listen before generating anything: a busy port or a bad HOST must stop the start before a
    // key or password is stored and shown for a server that never ran.
    await listenOrExplain(app, config);
    const firstAdmin = await app.keys.ensureAdminKey();
    const { generatedPassword, passwordChanged } = await ensureAdminAccount(accounts, config.adminUsername, config.adminPassword);
    // The change itself, never the password.
    if (passwordChanged) app.fastify.log.info({ event: 'admin.password', actor: 'config', target: `user:${config.adminUsername}` }, 'admin password set from ADMIN_PASSWORD; earlier sessions ended');
    if (generatedPassword) app.fastify.log.info({ event: 'admin.password', actor: 'first-start', target: `user:${config.adminUsername}` }, 'admin password generated (shown once, on standard output)');
    if (firstAdmin || generatedPassword) {
      (options.announce ?? ((text) => process.stdout.write(text)))(firstStartBanner(listeningUrl(app, config), firstAdmin?.key, generatedPassword === undefined ? undefined : { username: config.adminUsername, password: generatedPassword }));
    }
  } catch (error) {
    await app?.fastify.close();
    await engine?.close();
    await closeStores();
    throw error;
  }
  let closing: Promise<void> | undefined;
  const running = { app, engine };
  return {
    ...running,
    store,
    control,
    url: listeningUrl(app, config),
    inFlight: () => ({ requests: connections?.inFlight() ?? 0, sockets: running.app.sockets.size }),
    reloadTls: () => {
      if (!config.tls) return false;
      reloadTls(running.app.fastify.server, config.tls);
      return true;
    },
    close: () => (closing ??= (async () => {
      // Requests already running finish; connections with nothing left to answer close now.
      connections?.drain();
      await running.app.fastify.close();
      await running.engine.close();
      await closeStores();
    })()),
  };
}

/** The data plane: PostgreSQL shared by replicas when DATA_URL is set, else DuckDB files in DATA_DIR. */
export function openDataEngine(config: Config): Promise<DataEngine> {
  if (config.dataUrl !== undefined) {
    return openPostgresEngine({
      url: config.dataUrl,
      readerUrl: config.dataReaderUrl,
      schemaPrefix: config.dataSchemaPrefix,
      poolSize: config.dataPoolSize,
      statementTimeoutMs: config.queryTimeoutMs,
      limits: config.dataLimits,
    });
  }
  return openDuckDBEngine({
    dataDir: config.dataDir,
    memoryLimit: config.duckdbMemoryLimit,
    threads: config.duckdbThreads,
    readConnections: config.duckdbReadConnections,
    limits: config.dataLimits,
  });
}

/** Errors that stop a start, worded for the operator (no stack trace, the setting to change). */
export class StartupError extends Error {
  override name = 'StartupError';
}

const REDIS_PING_TIMEOUT_MS = 2000;

function listeningUrl(app: App, config: Config): string {
  const address = app.fastify.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  return `${config.tls ? 'https' : 'http'}://${host}:${port}`;
}

async function listenOrExplain(app: App, config: Config): Promise<void> {
  try {
    await app.fastify.listen({ port: config.port, host: config.host });
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === 'EADDRINUSE') {
      throw new StartupError(`port ${config.port} on ${config.host} is already in use (another duckgate still running? stop it, or set PORT)`);
    }
    if (code === 'EACCES') throw new StartupError(`port ${config.port} needs privileges this user lacks (set PORT above 1023, or put a proxy in front)`);
    if (code === 'ENOTFOUND' || code === 'EADDRNOTAVAIL' || code === 'EAI_AGAIN' || code === 'EAI_NONAME') {
      throw new StartupError(`HOST "${config.host}" is not an address of this machine (${String(code)}); use 127.0.0.1, 0.0.0.0, ::, or one of its interfaces' addresses`);
    }
    throw error;
  }
}

async function openControlStoreOrExplain(config: Config): Promise<ControlStore> {
  try {
    return await openControlStore(config);
  } catch (error) {
    if (!config.storeUrl) throw error;
    const reason = error instanceof Error ? error.message : String(error);
    throw new StartupError(`STORE_URL: cannot use PostgreSQL at ${redactedUrl(config.storeUrl)}: ${reason}`);
  }
}

/** What went wrong reaching Redis within `timeoutMs`, or undefined once it answered PING. */
async function unreachable(redis: Redis, timeoutMs: number): Promise<string | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`no answer within ${timeoutMs} ms`), timeoutMs);
  });
  try {
    return await Promise.race([redis.ping().then(() => undefined, (error: unknown) => (error instanceof Error ? error.message : String(error))), deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** A service URL without its password, fit for a log line. */
function redactedUrl(raw: string): string {
  try {
    const url = new URL(raw);
    if (url.password) url.password = '***';
    return url.toString();
  } catch {
    return '(unparsable URL)';
  }
}

/**
 * Shown once, on standard output (never the log). Ends with one `export` line holding what the
 * README's examples use, so a newcomer copies one line instead of three values.
 */
function firstStartBanner(url: string, key: string | undefined, login: { username: string; password: string } | undefined): string {
  const line = '='.repeat(78);
  const lines = [line, 'duckgate: first start. What follows is shown ONLY NOW; only hashes are kept.', ''];
  if (key) {
    lines.push(
      'An admin API key was generated:',
      '',
      `    ${key}`,
      '',
      'Use it as `Authorization: Bearer <key>` to create scoped keys (POST /api/auth/register).',
      '',
    );
  }
  if (login) {
    lines.push(
      `The dashboard's admin password was generated (ADMIN_PASSWORD is unset):`,
      '',
      `    username: ${login.username}`,
      `    password: ${login.password}`,
      '',
      `Sign in at ${url}/ (the dashboard). Change it with \`npx duckgate admin set-password\`.`,
      '',
    );
  }
  const exports = [`DUCKGATE_URL=${url}`, ...(key ? [`DUCKGATE_KEY=${key}`] : []), ...(login ? [`DUCKGATE_PASSWORD=${shellQuote(login.password)}`] : [])];
  lines.push(
    `Dashboard: ${url}/`,
    '',
    'For the README\'s examples, in the shell you send requests from:',
    '',
    `export ${exports.join(' ')}`,
    '',
    'Store them in a secrets manager: they cannot be shown again.', line, '');
  return lines.join('\n');
}

/** Single-quoted for sh: generated passwords are URL-safe, but say so in the quoting, not by luck. */
function shellQuote(value: string): string {
  return /^[A-Za-z0-9_.,:@%+=\/-]+$/.test(value) ? value : `'${value.replaceAll("'", "'\\''")}'`;
}
