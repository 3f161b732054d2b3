/**
 * HTTP scenarios: autocannon against a child's server. A warm-up run first (JIT, DuckDB buffers,
 * keep-alive sockets), then measured runs, each bracketed by CPU readings of both processes.
 */
import autocannon from 'autocannon';
import type { BenchChild } from './child.js';
import { machineBusyMicros, percentile } from './stats.js';

export interface LoadOptions {
  /** Seconds. */
  warmup: number;
  /** Seconds per measured run. */
  duration: number;
  connections: number;
}

export interface Target {
  /** For messages. */
  name: string;
  child: BenchChild;
  headers: Record<string, string>;
  /** A fresh path for every request (e.g. a random id), or a fixed one. */
  path: () => string;
  /** Instead of a GET of `path()`: each request's method, path, body and extra headers (the mixed read/write row). */
  request?: () => { method: 'GET' | 'PUT'; path: string; body?: string; headers?: Record<string, string> };
  /** Other bench children alive meanwhile (idle): their CPU is not counted as `other`. */
  siblings?: BenchChild[];
  /**
   * A process outside the bench that serves this scenario (Redis, for row 5b): its CPU is reported
   * per request on its own and not counted as `other`.
   */
  external?: { cpuMicros: () => Promise<number> };
}

/** One measured run, raw. */
export interface Sample {
  requests: number;
  seconds: number;
  serverCpuUs: number;
  loadgenCpuUs: number;
  /** CPU every other process on the machine used meanwhile (see `machineBusyMicros`). */
  otherCpuUs: number;
  /** CPU of the scenario's `external` process (0 without one). */
  externalCpuUs: number;
  /** Sorted ascending. */
  latenciesMs: number[];
}

export interface HttpFigures {
  /** Measured runs summed into these figures (see `summarize`). */
  runs: number;
  requests: number;
  seconds: number;
  reqPerSec: number;
  /** Each run's own rate: their spread shows how noisy the machine was. */
  runReqPerSec: number[];
  /** Each run's server CPU per request, and the share of one core other processes took during it. */
  runServerCpuUsPerReq: number[];
  runOtherCpuPercent: number[];
  /** Milliseconds. */
  p50Ms: number;
  p99Ms: number;
  /** Server process CPU (user + system, all threads) per completed request. */
  serverCpuUsPerReq: number;
  /** Share of one core the server used: > 100% means DuckDB threads ran beside the JS thread. */
  serverCpuPercent: number;
  /** Share of one core autocannon (this process) used: near 100% means the load generator is the limit. */
  loadgenCpuPercent: number;
  /** Share of one core other processes on the machine used: well above 0, the run was disturbed. */
  otherCpuPercent: number;
  /** CPU of the scenario's `external` process (Redis) per completed request; only when it has one. */
  externalCpuUsPerReq?: number;
  /** Always 0 in a report: any error or non-2xx answer aborts the bench (`BenchFailure`). */
  errors: number;
  non2xx: number;
}

/** Thrown when a run had errors or non-2xx answers: such figures measure the failure, not the server. */
export class BenchFailure extends Error {}

export async function warmUp(target: Target, options: LoadOptions): Promise<void> {
  if (options.warmup > 0) check(target.name, 'warm-up', (await fire(target, options.warmup, options.connections)).result);
}

export async function measureOnce(target: Target, options: LoadOptions): Promise<Sample> {
  const siblings = target.siblings ?? [];
  const siblingsCpu = async () => (await Promise.all(siblings.map((c) => c.cpuMicros()))).reduce((a, b) => a + b, 0);
  const externalCpu = target.external?.cpuMicros ?? (async () => 0);
  const siblingsBefore = await siblingsCpu();
  const externalBefore = await externalCpu();
  const serverBefore = await target.child.cpuMicros();
  const machineBefore = machineBusyMicros();
  const loadgenBefore = process.cpuUsage();
  const { result, latenciesMs } = await fire(target, options.duration, options.connections);
  const loadgen = process.cpuUsage(loadgenBefore);
  const machineCpuUs = machineBusyMicros() - machineBefore;
  const serverCpuUs = (await target.child.cpuMicros()) - serverBefore;
  const siblingsCpuUs = (await siblingsCpu()) - siblingsBefore;
  const externalCpuUs = (await externalCpu()) - externalBefore;
  check(target.name, 'measured run', result);
  const loadgenCpuUs = loadgen.user + loadgen.system;
  return {
    requests: result.requests.total,
    seconds: result.duration,
    serverCpuUs,
    loadgenCpuUs,
    otherCpuUs: Math.max(0, machineCpuUs - serverCpuUs - loadgenCpuUs - siblingsCpuUs - externalCpuUs),
    externalCpuUs,
    latenciesMs,
  };
}

/** Warm-up, then one measured run. */
export async function measureHttp(target: Target, options: LoadOptions): Promise<HttpFigures> {
  await warmUp(target, options);
  return summarize([await measureOnce(target, options)]);
}

/**
 * Several runs of one scenario as if they were one long run: totals over totals, latencies pooled.
 * `external`: the runs had an external process (Redis), whose CPU per request is then reported.
 */
export function summarize(samples: Sample[], external = false): HttpFigures {
  const sum = (pick: (s: Sample) => number) => samples.reduce((total, s) => total + pick(s), 0);
  const requests = sum((s) => s.requests);
  const seconds = sum((s) => s.seconds);
  const latencies = samples.flatMap((s) => s.latenciesMs).sort((a, b) => a - b);
  return {
    runs: samples.length,
    requests,
    seconds,
    reqPerSec: requests / seconds,
    runReqPerSec: samples.map((s) => s.requests / s.seconds),
    runServerCpuUsPerReq: samples.map((s) => s.serverCpuUs / s.requests),
    runOtherCpuPercent: samples.map((s) => (s.otherCpuUs / (s.seconds * 1e6)) * 100),
    p50Ms: percentile(latencies, 0.5),
    p99Ms: percentile(latencies, 0.99),
    serverCpuUsPerReq: sum((s) => s.serverCpuUs) / requests,
    serverCpuPercent: (sum((s) => s.serverCpuUs) / (seconds * 1e6)) * 100,
    loadgenCpuPercent: (sum((s) => s.loadgenCpuUs) / (seconds * 1e6)) * 100,
    otherCpuPercent: (sum((s) => s.otherCpuUs) / (seconds * 1e6)) * 100,
    ...(external ? { externalCpuUsPerReq: sum((s) => s.externalCpuUs) / requests } : {}),
    errors: 0,
    non2xx: 0,
  };
}

async function fire(target: Target, duration: number, connections: number): Promise<{ result: autocannon.Result; latenciesMs: number[] }> {
  if (!target.child.url) throw new Error(`${target.name}: the child has no URL`);
  const instance = autocannon({
    url: target.child.url,
    connections,
    pipelining: 1,
    duration,
    requests: [{
      method: 'GET',
      headers: target.headers,
      setupRequest: (request) => {
        if (!target.request) return { ...request, path: target.path() };
        const next = target.request();
        return { ...request, method: next.method, path: next.path, body: next.body, headers: { ...request.headers, ...next.headers } };
      },
    }],
  });
  // autocannon's own histogram keeps whole milliseconds, too coarse for sub-millisecond answers;
  // its 'response' event carries the hrtime-based duration, so percentiles are taken from that.
  const latenciesMs: number[] = [];
  instance.on('response', (_client: unknown, _status: number, _bytes: number, responseTimeMs: number) => {
    latenciesMs.push(responseTimeMs);
  });
  const result = await instance;
  latenciesMs.sort((a, b) => a - b);
  return { result, latenciesMs };
}

function check(name: string, phase: string, result: autocannon.Result): void {
  const codes = Object.entries(result.statusCodeStats).filter(([code]) => !code.startsWith('2'));
  if (result.errors > 0 || result.timeouts > 0 || result.non2xx > 0 || result.requests.total === 0) {
    throw new BenchFailure(
      `${name} (${phase}): ${result.requests.total} requests, ${result.errors} errors, ${result.timeouts} timeouts, `
      + `${result.non2xx} non-2xx${codes.length ? ` (${codes.map(([code, { count }]) => `${code}×${count}`).join(', ')})` : ''}`,
    );
  }
}
