/**
 * The parent's registry of bench children: start, stop, and kill whatever is left if a run fails
 * half-way. Progress lines go to stderr (the report goes to stdout).
 */
import { BenchChild } from './child.js';
import type { ChildSpec } from './protocol.js';

export const progress = (message: string): void => {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
};

/** Children still running; killed if the run fails half-way. */
const live = new Set<BenchChild>();
let childNodeArgs: string[] = [];

/** Extra Node flags for every child started from now on (e.g. `--cpu-prof`). */
export function setChildNodeArgs(args: string[]): void {
  childNodeArgs = args;
}

function describe(spec: ChildSpec): string {
  if (spec.role !== 'duckgate') return spec.role;
  const limiter = spec.limiter ? `, ${spec.limiter.redisUrl ? 'Redis' : 'memory'} limiter` : '';
  const cache = spec.recordCache && spec.recordCache !== '0' ? `, record cache ${spec.recordCache}` : '';
  return `duckgate (${spec.auth ? 'auth' : 'bypass'}${limiter}${cache})`;
}

export async function startChild(spec: ChildSpec): Promise<BenchChild> {
  const child = await BenchChild.start(spec, childNodeArgs);
  live.add(child);
  // Profiles are named after the process id: say which is which.
  if (childNodeArgs.length > 0) progress(`   ${describe(spec)} child: pid ${child.pid}`);
  return child;
}

export async function stopChild(child: BenchChild): Promise<void> {
  // Closing (not killing) lets DuckDB write its file back cleanly.
  await child.close();
  live.delete(child);
}

export async function withChild<T>(spec: ChildSpec, use: (child: BenchChild) => Promise<T>): Promise<T> {
  const child = await startChild(spec);
  const result = await use(child);
  await stopChild(child);
  return result;
}

export function killAll(): void {
  for (const child of live) child.kill();
  live.clear();
}
