/**
 * The rate limiter part of the report: rows 5a (memory limiter) and 5b (Redis limiter) against
 * row 3, the same route with the same environment key on a server without a limiter.
 */
import type { HttpFigures } from './load.js';
import type { RedisCheck } from './routes.js';

export const LIMITER_GOALS = {
  /** The in-process limiter may cost at most this share of row 3's throughput. */
  maxMemoryCost: 0.03,
  /** The Redis limiter (a round trip to Redis per request) may cost at most this share. */
  maxRedisCost: 0.15,
};

/** How rows 5a and 5b were configured; `null` in the settings with --skip-limiters. */
export interface LimiterSettings {
  /** API_RATE_LIMIT of both limiter servers (never reached, so nothing is refused). */
  apiRateLimit: number;
  redisUrl: string;
  redisVersion?: string;
  /** REDIS_KEY_PREFIX of row 5b's server; its keys are deleted at the end of the run. */
  redisKeyPrefix?: string;
  /** Why row 5b did not run (Redis unreachable). */
  redisSkipped?: string;
}

export interface LimiterRatio {
  /** Throughput over row 3's, and the same per round. */
  overNoLimiter: number;
  perRound: number[];
  /** Share of one core other processes took in each round's run of row 3 and of this row: a disturbed round shows here. */
  otherCpuPercentPerRound: { noLimiter: number; row: number }[];
  /** 1 − overNoLimiter. */
  cost: number;
  maxCost: number;
  goal: boolean;
  /** Server CPU per request minus row 3's, µs, and that as a share of this row's. */
  cpuUsOverNoLimiter: number;
  cpuUsOverNoLimiterPerRound: number[];
  cpuCost: number;
  /** Row 5b: Redis's own CPU per request (not in the server's figure). */
  redisCpuUsPerReq?: number;
}

export interface LimiterRatios {
  memory?: LimiterRatio;
  redis?: LimiterRatio;
}

function limiterRatio(row: HttpFigures, noLimiter: HttpFigures, maxCost: number): LimiterRatio {
  const overNoLimiter = row.reqPerSec / noLimiter.reqPerSec;
  const cpuUsOverNoLimiter = row.serverCpuUsPerReq - noLimiter.serverCpuUsPerReq;
  return {
    overNoLimiter,
    perRound: row.runReqPerSec.map((rate, i) => rate / noLimiter.runReqPerSec[i]!),
    otherCpuPercentPerRound: row.runOtherCpuPercent.map((other, i) => ({ noLimiter: noLimiter.runOtherCpuPercent[i]!, row: other })),
    cost: 1 - overNoLimiter,
    maxCost,
    goal: 1 - overNoLimiter <= maxCost,
    cpuUsOverNoLimiter,
    cpuUsOverNoLimiterPerRound: row.runServerCpuUsPerReq.map((cpu, i) => cpu - noLimiter.runServerCpuUsPerReq[i]!),
    cpuCost: cpuUsOverNoLimiter / row.serverCpuUsPerReq,
    ...(row.externalCpuUsPerReq === undefined ? {} : { redisCpuUsPerReq: row.externalCpuUsPerReq }),
  };
}

export function limiterRatios(noLimiter: HttpFigures, memory?: HttpFigures, redis?: HttpFigures): LimiterRatios {
  return {
    ...(memory ? { memory: limiterRatio(memory, noLimiter, LIMITER_GOALS.maxMemoryCost) } : {}),
    ...(redis ? { redis: limiterRatio(redis, noLimiter, LIMITER_GOALS.maxRedisCost) } : {}),
  };
}

const pct = (value: number): string => `${(value * 100).toFixed(1)}%`;
const mark = (ok: boolean): string => (ok ? 'MET' : 'MISSED');
const signed = (value: number): string => `${value >= 0 ? '+' : ''}${value.toFixed(1)}`;
const INDENT = ' '.repeat(29);

function renderRatio(name: string, row: string, what: string, r: LimiterRatio): string[] {
  return [
    `  ${`${name} / no limiter`.padEnd(26)} ${pct(r.overNoLimiter)}  → ${what} costs ${pct(r.cost)} of row 3's throughput (goal ≤ ${pct(r.maxCost)}): ${mark(r.goal)}`,
    `${INDENT}per round: ${r.perRound.map(pct).join(', ')} `
      + `(other CPU, row 3 / row ${row}: ${r.otherCpuPercentPerRound.map((o) => `${o.noLimiter.toFixed(0)}/${o.row.toFixed(0)}%`).join(', ')})`,
    `${INDENT}in server CPU per request: ${signed(r.cpuUsOverNoLimiter)} µs over row 3 (${pct(r.cpuCost)} of row ${row}); `
      + `per round: ${r.cpuUsOverNoLimiterPerRound.map(signed).join(', ')} µs`,
  ];
}

export function renderLimiters(settings: LimiterSettings, r: LimiterRatios, redisCheck?: RedisCheck): string[] {
  const out = [`ratios of the rate limiters against row 3 (same route and key, no limiter); API_RATE_LIMIT=${settings.apiRateLimit} on both, never reached:`];
  if (r.memory) out.push(...renderRatio('5a memory', '5a', 'the memory limiter', r.memory));
  if (r.redis) {
    out.push(...renderRatio('5b Redis', '5b', 'the Redis limiter', r.redis));
    if (r.redis.redisCpuUsPerReq !== undefined) {
      out.push(`${INDENT}Redis's own CPU: ${r.redis.redisCpuUsPerReq.toFixed(1)} µs per request (INFO cpu; not in the server's figure nor in \`other CPU\`)`);
    }
    if (redisCheck) {
      out.push(`${INDENT}Redis ${settings.redisVersion ?? '?'} at ${settings.redisUrl} counted ${redisCheck.countedRequests} requests `
        + `for row 5b's ${redisCheck.measuredRequests} measured ones (≥: no fallback to the in-process limiter)`);
    }
  }
  if (settings.redisSkipped) out.push(`  5b skipped: ${settings.redisSkipped}`);
  return out;
}
