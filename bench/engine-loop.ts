/**
 * The engine ceiling: the route's exact data call (`Database.findById`) in a loop, no HTTP, for a
 * fixed time. With `concurrency` = the read pool size the pool is kept full, which is the best the
 * HTTP layer could ever hope to get out of the engine.
 */
import type { Database } from '../src/data/engine.js';
import { percentile } from './stats.js';
import { COLLECTION, type EngineLoopFigures } from './protocol.js';
import { randomId } from './seed.js';

export async function engineLoop(db: Database, rows: number, durationMs: number, concurrency: number): Promise<EngineLoopFigures> {
  const latenciesNs: number[] = [];
  const cpuBefore = process.cpuUsage();
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(durationMs) * 1_000_000n;

  async function worker(): Promise<void> {
    while (process.hrtime.bigint() < deadline) {
      const id = randomId(rows);
      const t0 = process.hrtime.bigint();
      const record = await db.findById(COLLECTION, id);
      latenciesNs.push(Number(process.hrtime.bigint() - t0));
      // A wrong answer would make the figure meaningless; findById throws on a miss already.
      if (record.id !== id) throw new Error(`findById(${id}) answered id ${String(record.id)}`);
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));

  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const cpu = process.cpuUsage(cpuBefore);
  const ops = latenciesNs.length;
  latenciesNs.sort((a, b) => a - b);
  return {
    concurrency,
    ops,
    seconds,
    opsPerSec: ops / seconds,
    usPerOp: (seconds * 1e6) / ops,
    p50Ms: percentile(latenciesNs, 0.5) / 1e6,
    p99Ms: percentile(latenciesNs, 0.99) / 1e6,
    cpuUsPerOp: (cpu.user + cpu.system) / ops,
  };
}
