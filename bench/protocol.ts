/**
 * What the bench parent (`run.ts`) and its server children (`server-child.ts`) say to each other
 * over the IPC channel, plus the constants both sides must agree on.
 */

/** The collection every scenario reads. */
export const COLLECTION = 'bench_items';
/** An environment key (≥ 16 characters); the auth scenario presents it in `x-api-key`. */
export const BENCH_ADMIN_KEY = 'bench-admin-key-0123456789abcdef';
/**
 * libuv pool size every child runs with, as the duckgate launcher (`bin/duckgate.cjs`) sets it; the
 * server opens one DuckDB read connection per pool thread, and the engine loop keeps as many in flight.
 */
export const READ_CONNECTIONS = 8;

/** How a child is started: passed as its single argv entry, JSON-encoded. */
export type ChildSpec =
  /** A plain Fastify app answering `GET /` with `{ hello: 'world' }`: the HTTP ceiling. */
  | { role: 'hello' }
  /** Opens the engine, writes `rows` rows into `COLLECTION`, checkpoints and reports. */
  | { role: 'seed'; dataDir: string; rows: number }
  /**
   * duckgate itself; `auth: false` wires a resolver that admits everyone, so no credential is checked. `limiter`
   * sets API_RATE_LIMIT (and REDIS_URL, REDIS_KEY_PREFIX): unset, no rate limiter runs. `recordCache`
   * sets RECORD_CACHE_BYTES: unset, `0` (off), so rows 3-5 measure the engine path as it was before the cache.
   */
  | { role: 'duckgate'; dataDir: string; auth: boolean; limiter?: LimiterSpec; recordCache?: string }
  /** The engine alone, no HTTP: answers `engine-loop` commands. */
  | { role: 'engine'; dataDir: string; rows: number }
  /** Neither HTTP nor DuckDB: the control store (SQLite) alone, for `seed-keys` and `key-lookup`. */
  | { role: 'keys' };

export type Role = ChildSpec['role'];

/** The rate-limit environment of a duckgate child (rows 5a and 5b). */
export interface LimiterSpec {
  /** API_RATE_LIMIT: requests per client per hour, high enough never to refuse one. */
  rateLimit: number;
  /** REDIS_URL: the limiter counts in Redis; unset, in the server's memory. */
  redisUrl?: string;
  /** REDIS_KEY_PREFIX: unique per bench run, so its keys can be found and deleted afterwards. */
  redisKeyPrefix?: string;
}

export interface EngineLoopRequest {
  durationMs: number;
  /** Calls kept in flight at once; 1 = strictly sequential. */
  concurrency: number;
}

export interface EngineLoopFigures {
  concurrency: number;
  ops: number;
  seconds: number;
  opsPerSec: number;
  /** Wall time per completed op (1e6 / opsPerSec): the throughput view. */
  usPerOp: number;
  /** Per-call latency, milliseconds (includes queueing for a pool connection). */
  p50Ms: number;
  p99Ms: number;
  /** Process CPU (JS thread + DuckDB threads) per op. */
  cpuUsPerOp: number;
  /** Share of one core other processes used meanwhile; filled in by the parent, which can see them. */
  otherCpuPercent?: number;
}

/** Fill one control store (`control.sqlite`) with managed keys; see `key-seed.ts`. */
export interface SeedKeysRequest {
  file: string;
  /** Keys the store holds afterwards, the bench's reader key included. */
  keys: number;
  /** How many of them are real keys whose full text is written to `sampleKeysFile` (the rest are filler rows). */
  sampleKeys: number;
  sampleKeysFile: string;
}

export interface KeySeedFigures {
  file: string;
  /** Rows in `api_keys` afterwards (counted, not assumed). */
  keys: number;
  sampleKeys: number;
  fileBytes: number;
  /** Generating and sorting the rows, inserting them in one transaction, checkpointing, everything. */
  generateMs: number;
  insertMs: number;
  totalMs: number;
}

/** One store for the lookup micro-benchmark: its file and the real keys `seed-keys` wrote for it. */
export interface LookupStore {
  file: string;
  sampleKeysFile: string;
}

export interface KeyLookupRequest {
  stores: LookupStore[];
  /** Timed `findKeyByHash` calls per series (existing hashes, missing hashes) and per store. */
  lookups: number;
}

/** Per-call time, µs, of one timed series. */
export interface LatencyFigures {
  calls: number;
  meanUs: number;
  p50Us: number;
  p99Us: number;
  /** Process CPU (user + system) per call. */
  cpuUsPerCall: number;
}

export interface KeyStoreLookupFigures {
  keys: number;
  fileBytes: number;
  /** `findKeyByHash` of hashes that are in the store (sampled across the whole table). */
  hit: LatencyFigures;
  /** `findKeyByHash` of random hashes that are not (two index probes: keys, then grace hashes). */
  miss: LatencyFigures;
  /** `ManagedKeys.verify` of keys already in its cache: what every request after a key's first pays. */
  verifyCached: LatencyFigures;
  /** `ManagedKeys.verify` of a key's first use: checksum, SHA-256, store lookup and the `last_used_at` write. */
  verifyFirstUse: LatencyFigures;
  /** The same without the `last_used_at` write (the store's `touchKeys` stubbed out). */
  verifyFirstUseNoTouch: LatencyFigures;
}

export interface KeyLookupFigures {
  lookups: number;
  stores: KeyStoreLookupFigures[];
}

export type Command =
  /** Reply with `process.cpuUsage()`: sampled before and after each measured run. */
  | { type: 'cpu' }
  | ({ type: 'engine-loop' } & EngineLoopRequest)
  | ({ type: 'seed-keys' } & SeedKeysRequest)
  | ({ type: 'key-lookup' } & KeyLookupRequest)
  /** Close listeners and the engine, reply, then exit. */
  | { type: 'close' };

export type Reply =
  | { type: 'ready'; url?: string; detail: Record<string, string | number | boolean> }
  | { type: 'cpu'; user: number; system: number }
  | { type: 'engine-loop'; figures: EngineLoopFigures }
  /** `readerKey`: the bench's own key (never written to the results). */
  | { type: 'keys-seeded'; figures: KeySeedFigures; readerKey: string; readerKeyId: string }
  | { type: 'key-lookup'; figures: KeyLookupFigures }
  | { type: 'closed' }
  | { type: 'error'; message: string };
