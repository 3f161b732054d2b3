/**
 * What the bench parent (`run.ts`) and its server children (`server-child.ts`) say to each other
 * over the IPC channel, plus the constants both sides must agree on.
 */

/** The collection every scenario reads. */
export const COLLECTION = 'bench_items';
/** An environment key (≥ 16 characters); the auth scenario presents it in `x-api-key`. */
export const BENCH_ADMIN_KEY = 'bench-admin-key-0123456789abcdef';
/**
 * The read pool `startServer` opens (`src/server.ts` hard-codes 4). The children open the engine
 * with the same value so the HTTP scenarios and the engine ceiling see the same pool.
 */
export { READ_CONNECTIONS } from '../src/data/engine.js';

/** How a child is started: passed as its single argv entry, JSON-encoded. */
export type ChildSpec =
  /** A plain Fastify app answering `GET /` with `{ hello: 'world' }`: the HTTP ceiling. */
  | { role: 'hello' }
  /** Opens the engine, writes `rows` rows into `COLLECTION`, checkpoints and reports. */
  | { role: 'seed'; dataDir: string; rows: number }
  /** duckgate itself; `auth: false` wires `benchPrincipal` so no credential is checked. */
  | { role: 'duckgate'; dataDir: string; auth: boolean }
  /** The engine alone, no HTTP: answers `engine-loop` commands. */
  | { role: 'engine'; dataDir: string; rows: number };

export type Role = ChildSpec['role'];

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

export type Command =
  /** Reply with `process.cpuUsage()`: sampled before and after each measured run. */
  | { type: 'cpu' }
  | ({ type: 'engine-loop' } & EngineLoopRequest)
  /** Close listeners and the engine, reply, then exit. */
  | { type: 'close' };

export type Reply =
  | { type: 'ready'; url?: string; detail: Record<string, string | number | boolean> }
  | { type: 'cpu'; user: number; system: number }
  | { type: 'engine-loop'; figures: EngineLoopFigures }
  | { type: 'closed' }
  | { type: 'error'; message: string };
