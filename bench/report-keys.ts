/**
 * The managed key and JWT part of the report: rows 3b and 3c against rows 3 and 4, and the key
 * store lookup micro-benchmark (1k keys against the seeded store).
 */
import type { HttpFigures } from './load.js';
import type { KeyLookupFigures, KeySeedFigures, KeyStoreLookupFigures, LatencyFigures } from './protocol.js';

export const KEY_GOALS = {
  /** A managed key or a JWT may cost at most this share of throughput, against row 4 and against row 3. */
  maxCredentialCost: 0.05,
  /**
   * Lookup time in the big store over the small one. "Does not grow" is ~1.0; the margin is for
   * noise between two series measured side by side on a shared machine.
   */
  maxLookupGrowth: 1.25,
};

export interface CredentialRatios {
  /** Throughput against row 4 (auth bypassed): what verifying this credential costs. */
  overBypass: number;
  overBypassPerRound: number[];
  /** Throughput against row 3 (the environment key). */
  overEnvKey: number;
  overEnvKeyPerRound: number[];
  /** Server CPU per request minus row 4's, and minus row 3's, µs. */
  cpuUsOverBypass: number;
  cpuUsOverEnvKey: number;
  /** cpuUsOverBypass as a share of this row's CPU per request: the steadier view of the cost. */
  cpuCost: number;
  goals: { vsBypass: boolean; vsEnvKey: boolean };
}

export interface LookupRatios {
  smallKeys: number;
  bigKeys: number;
  /** Big store over small store, for `findKeyByHash` of existing and of missing hashes. */
  hitMean: number;
  hitP50: number;
  missMean: number;
  missP50: number;
  goal: boolean;
}

export interface KeyRatios {
  managedKey?: CredentialRatios;
  jwt?: CredentialRatios;
  lookups?: LookupRatios;
}

export interface KeyStoreResults {
  /** The seeded DATA_DIR's store first, then the small reference store. */
  seeding: KeySeedFigures[];
  lookups?: KeyLookupFigures;
}

const perRound = (a: HttpFigures, b: HttpFigures): number[] => a.runReqPerSec.map((rate, i) => rate / b.runReqPerSec[i]!);

export function credentialRatios(row: HttpFigures, envKey: HttpFigures, bypass: HttpFigures): CredentialRatios {
  const overBypass = row.reqPerSec / bypass.reqPerSec;
  const overEnvKey = row.reqPerSec / envKey.reqPerSec;
  const cpuUsOverBypass = row.serverCpuUsPerReq - bypass.serverCpuUsPerReq;
  return {
    overBypass,
    overBypassPerRound: perRound(row, bypass),
    overEnvKey,
    overEnvKeyPerRound: perRound(row, envKey),
    cpuUsOverBypass,
    cpuUsOverEnvKey: row.serverCpuUsPerReq - envKey.serverCpuUsPerReq,
    cpuCost: cpuUsOverBypass / row.serverCpuUsPerReq,
    goals: { vsBypass: 1 - overBypass <= KEY_GOALS.maxCredentialCost, vsEnvKey: 1 - overEnvKey <= KEY_GOALS.maxCredentialCost },
  };
}

export function lookupRatios(figures: KeyLookupFigures): LookupRatios | undefined {
  const [small, big] = figures.stores;
  if (!small || !big) return undefined;
  const r = {
    smallKeys: small.keys,
    bigKeys: big.keys,
    hitMean: big.hit.meanUs / small.hit.meanUs,
    hitP50: big.hit.p50Us / small.hit.p50Us,
    missMean: big.miss.meanUs / small.miss.meanUs,
    missP50: big.miss.p50Us / small.miss.p50Us,
  };
  return { ...r, goal: Math.max(r.hitMean, r.missMean) <= KEY_GOALS.maxLookupGrowth };
}

const pct = (value: number): string => `${(value * 100).toFixed(1)}%`;
const mark = (ok: boolean): string => (ok ? 'MET' : 'MISSED');
const us = (value: number): string => (Number.isFinite(value) ? value.toFixed(1) : '-');
const signed = (value: number): string => `${value >= 0 ? '+' : ''}${value.toFixed(1)}`;

/** 1000 → "1k", 1000000 → "1M", anything else as is. */
export function keysLabel(keys: number): string {
  if (keys >= 1e6 && keys % 1e6 === 0) return `${keys / 1e6}M`;
  if (keys >= 1e3 && keys % 1e3 === 0) return `${keys / 1e3}k`;
  return String(keys);
}

export function renderCredentialRatios(name: string, row: string, r: CredentialRatios): string[] {
  const goal = pct(KEY_GOALS.maxCredentialCost);
  const indent = ' '.repeat(29);
  return [
    `  ${`${name} / bypass`.padEnd(26)} ${pct(r.overBypass)}  → row ${row} loses ${pct(1 - r.overBypass)} of row 4's throughput (goal ≤ ${goal}): ${mark(r.goals.vsBypass)}`,
    `${indent}per round: ${r.overBypassPerRound.map(pct).join(', ')}`,
    `  ${`${name} / env key`.padEnd(26)} ${pct(r.overEnvKey)}  → row ${row} loses ${pct(1 - r.overEnvKey)} of row 3's throughput (goal ≤ ${goal}): ${mark(r.goals.vsEnvKey)}`,
    `${indent}per round: ${r.overEnvKeyPerRound.map(pct).join(', ')}`,
    `${indent}in server CPU per request: ${signed(r.cpuUsOverBypass)} µs over row 4 (${pct(r.cpuCost)} of row ${row}), `
      + `${signed(r.cpuUsOverEnvKey)} µs over row 3`,
  ];
}

function textTable(header: string[], cells: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => c.map((v, i) => (i === 0 ? v.padEnd(widths[i]!) : v.padStart(widths[i]!))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line)];
}

const SERIES: [string, (s: KeyStoreLookupFigures) => LatencyFigures][] = [
  ['findKeyByHash, existing hash', (s) => s.hit],
  ['findKeyByHash, missing hash', (s) => s.miss],
  ['ManagedKeys.verify, cached', (s) => s.verifyCached],
  ['ManagedKeys.verify, first use', (s) => s.verifyFirstUse],
  ['  same, store.touchKeys stubbed', (s) => s.verifyFirstUseNoTouch],
];

export function renderKeyStore(results: KeyStoreResults, ratios: KeyRatios): string[] {
  const out: string[] = [];
  const [seeded] = results.seeding;
  if (seeded) {
    out.push(`control store: ${seeded.keys} managed keys (${seeded.sampleKeys} real sample keys + the bench's reader key, the rest filler rows), `
      + `${(seeded.fileBytes / 1e6).toFixed(0)} MB, seeded in ${(seeded.totalMs / 1000).toFixed(1)} s `
      + `(generate ${(seeded.generateMs / 1000).toFixed(1)} s, insert + checkpoint ${(seeded.insertMs / 1000).toFixed(1)} s) before the servers' copies were made`);
  }
  const lookups = results.lookups;
  const [small, big] = lookups?.stores ?? [];
  if (!lookups || !small || !big) return out;
  const a = keysLabel(small.keys);
  const b = keysLabel(big.keys);
  out.push('');
  out.push(`key store lookups: SqliteKeyStore / ManagedKeys alone, own process, no HTTP; µs per call, ${a} keys vs ${b} keys `
    + `(findKeyByHash and cached verify: ${lookups.lookups} calls each; first use: ${small.verifyFirstUse.calls} / ${big.verifyFirstUse.calls})`);
  const header = ['series', `${a} mean`, `${a} p50`, `${a} p99`, `${b} mean`, `${b} p50`, `${b} p99`, `${b}/${a} mean`, `${b}/${a} p50`, `CPU µs ${a}`, `CPU µs ${b}`];
  out.push(...textTable(header, SERIES.map(([name, pick]) => {
    const s = pick(small);
    const l = pick(big);
    return [name, us(s.meanUs), us(s.p50Us), us(s.p99Us), us(l.meanUs), us(l.p50Us), us(l.p99Us),
      `${(l.meanUs / s.meanUs).toFixed(2)}x`, `${(l.p50Us / s.p50Us).toFixed(2)}x`, us(s.cpuUsPerCall), us(l.cpuUsPerCall)];
  })));
  const r = ratios.lookups;
  if (r) {
    out.push(`  store lookup growth ${a} → ${b}: existing ${r.hitMean.toFixed(2)}x (p50 ${r.hitP50.toFixed(2)}x), missing ${r.missMean.toFixed(2)}x `
      + `(p50 ${r.missP50.toFixed(2)}x) (goal: does not grow, mean ≤ ${KEY_GOALS.maxLookupGrowth.toFixed(2)}x): ${mark(r.goal)}`);
  }
  out.push('  first use = checksum + SHA-256 + findKeyByHash; the last_used_at time is only queued (ManagedKeys writes the queue in one');
  out.push('  transaction every 5 s, off the request path); every later request within the cache pays the cached figure.');
  return out;
}
