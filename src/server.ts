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
import { trackConnections, type ConnectionDrain } from './http/connection-drain.js';
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
  const control = await openControlStore(config);
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
    if (dataDir.openToOthers) {
      app.fastify.log.warn({ dataDir: config.dataDir }, 'DATA_DIR can be entered by other users; its files are 0600, but consider chmod 700');
    }
    const firstAdmin = await app.keys.ensureAdminKey();
    const { generatedPassword } = await ensureAdminAccount(accounts, config.adminUsername, config.adminPassword);
    if (firstAdmin || generatedPassword) {
      (options.announce ?? ((text) => process.stdout.write(text)))(firstStartBanner(firstAdmin?.key, generatedPassword === undefined ? undefined : { username: config.adminUsername, password: generatedPassword }));
    }
    connections = trackConnections(app.fastify.server);
    await app.fastify.listen({ port: config.port, host: config.host });
  } catch (error) {
    await app?.fastify.close();
    await engine?.close();
    await closeStores();
    throw error;
  }
  const address = app.fastify.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  let closing: Promise<void> | undefined;
  const running = { app, engine };
  return {
    ...running,
    store,
    control,
    url: `http://${host}:${port}`,
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

function firstStartBanner(key: string | undefined, login: { username: string; password: string } | undefined): string {
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
      'Sign in at the server\'s address (/). Change it with `duckgate admin set-password`.',
      '',
    );
  }
  lines.push('Store them in a secrets manager: they cannot be shown again.', line, '');
  return lines.join('\n');
}
