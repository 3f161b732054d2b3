import os from 'node:os';

/** The q-quantile (0…1) of an ascending array, nearest-rank; NaN when empty. */
export function percentile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * CPU time (µs) all processes on the machine have used so far, from the kernel's per-CPU tick
 * counters (10 ms resolution: fine over seconds). Minus what the bench's own processes used over
 * the same span, it tells how much other processes took from a run.
 */
export function machineBusyMicros(): number {
  let ms = 0;
  for (const { times } of os.cpus()) ms += times.user + times.nice + times.sys + times.irq;
  return ms * 1000;
}
