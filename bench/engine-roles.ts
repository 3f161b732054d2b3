/**
 * The child roles that open the seeded DuckDB directory: seeding, duckgate itself, and the engine
 * alone. `server-child.ts` imports this module only for those roles, so the bare Fastify child never
 * loads DuckDB or duckgate's code.
 */
import type { Principal } from '../src/auth/principal.js';
import type { PrincipalResolver } from '../src/auth/resolver.js';
import { loadConfig, type Config } from '../src/config/index.js';
import { openDuckDBEngine } from '../src/data/duckdb/index.js';
import type { DataEngine } from '../src/data/engine.js';
import { startServer } from '../src/server.js';
import { BENCH_ADMIN_KEY, READ_CONNECTIONS, type ChildSpec, type LimiterSpec } from './protocol.js';
import type { Running } from './running.js';
import { seed, verifySeed } from './seed.js';

/** Admin with access to everything: the same rights the admin key resolves to. */
const BENCH_PRINCIPAL: Principal = {
  id: 'bench', kind: 'environment-key', isAdmin: true, access: { kind: 'all' }, label: 'bench', authMethod: 'api-key', generation: 'bench',
};

/**
 * Every request is the bench principal, whatever it presents: the request path with authentication
 * (credential, principal, key allow list, rate limit) left out, which is what row 4 measures.
 */
export const BYPASS: PrincipalResolver = { resolve: async () => ({ ok: true, principal: BENCH_PRINCIPAL }) };

/**
 * The configuration a user would get from the same environment. DUCKDB_THREADS and
 * DUCKDB_MEMORY_LIMIT pass through so the bench can be run against other engine settings. Nothing
 * else of the parent's environment does: API_RATE_LIMIT and REDIS_URL are set only for the limiter
 * rows (`limiter`), so every other row runs without a rate limiter whatever the shell exports.
 */
function benchConfig(dataDir: string, limiter?: LimiterSpec, recordCache = '0'): Config {
  return loadConfig({
    DATA_DIR: dataDir,
    ADMIN_API_KEY: BENCH_ADMIN_KEY,
    // The app is built with its logger on (as in production, Fastify still makes a per-request
    // child logger) but silent, so no log line is written during the runs.
    LOG_LEVEL: 'silent',
    PORT: '0',
    DUCKDB_THREADS: process.env.DUCKDB_THREADS,
    // As the launcher sets it (the child is forked with it): one read connection per pool thread.
    UV_THREADPOOL_SIZE: process.env.UV_THREADPOOL_SIZE,
    DUCKDB_MEMORY_LIMIT: process.env.DUCKDB_MEMORY_LIMIT,
    API_RATE_LIMIT: limiter ? String(limiter.rateLimit) : undefined,
    REDIS_URL: limiter?.redisUrl,
    REDIS_KEY_PREFIX: limiter?.redisKeyPrefix,
    RECORD_CACHE_BYTES: recordCache,
  });
}

/** The engine exactly as `startServer` opens it (src/server.ts). */
async function openEngine(config: Config): Promise<DataEngine> {
  return openDuckDBEngine({
    dataDir: config.dataDir,
    memoryLimit: config.duckdbMemoryLimit,
    threads: config.duckdbThreads,
    readConnections: config.duckdbReadConnections,
  });
}

/** The server exactly as `npm start` wires it, with the `BYPASS` resolver when `auth` is off. */
async function startDuckgate(config: Config, auth: boolean): Promise<Running> {
  // The first-start banner (a generated dashboard password) would only clutter the bench output.
  const server = await startServer(config, { resolver: auth ? undefined : BYPASS, announce: () => {} });
  return {
    url: server.url,
    detail: { threads: config.duckdbThreads, memoryLimit: config.duckdbMemoryLimit, readConnections: READ_CONNECTIONS },
    close: () => server.close(),
  };
}

export async function startEngineRole(spec: Exclude<ChildSpec, { role: 'hello' | 'keys' }>): Promise<Running> {
  const config = benchConfig(spec.dataDir, spec.role === 'duckgate' ? spec.limiter : undefined, spec.role === 'duckgate' ? spec.recordCache : undefined);
  if (spec.role === 'duckgate') return startDuckgate(config, spec.auth);

  const engine = await openEngine(config);
  const detail = { threads: config.duckdbThreads, memoryLimit: config.duckdbMemoryLimit, readConnections: READ_CONNECTIONS };
  const close = () => engine.close();
  if (spec.role === 'engine') return { engine, rows: spec.rows, detail, close };

  try {
    const db = engine.database('default');
    const t0 = performance.now();
    await seed(db, spec.rows);
    const seedMs = Math.round(performance.now() - t0);
    await verifySeed(db, spec.rows);
    const version = await db.query('SELECT version() AS v', undefined, { timeoutMs: 10_000 });
    return { detail: { ...detail, seedMs, duckdb: String(version.result[0]?.v ?? '?') }, close };
  } catch (error) {
    await engine.close();
    throw error;
  }
}
