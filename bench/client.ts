/**
 * `npm run bench:client` (issue 12 item 6): what duckgate's own client costs, per transport, against
 * one duckgate server in its own process (authentication on, the admin environment key).
 *
 *   fetch  `duckgate/client` before: Node's global `fetch` (what the browser entry still uses)
 *   pool   `duckgate/client` in Node now: undici's keep-alive `Agent` through `dispatcher.request`
 *   ws     `query()` over `GET /ws` (`DuckgateSocket`, Duckling's protocol)
 *
 * For each, the same point read by primary key (`SELECT * FROM bench_items WHERE id = $1`, random
 * ids; plus `findById` over the record route for the HTTP transports):
 *
 * - client CPU per call, sequential: `process.cpuUsage()` around N calls one after another;
 * - calls per second with 4 clients x 8 calls in flight (32 loops in this process), and the client's
 *   and the server's CPU per call over that run (the server's read from its own process);
 *
 * Rows are measured in turn, `--rounds` times in rotating order; each figure is the median of its
 * rounds. Options: --rows 10000 --duration 5 --warmup 1 --rounds 3 --sequential 2000.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DuckgateClient as FetchClient } from '../src/client/index.js';
import { DuckgateClient, DuckgateSocket } from '../src/client/node.js';
import type { BenchChild } from './child.js';
import { killAll, progress, startChild, stopChild, withChild } from './children.js';
import { BENCH_ADMIN_KEY, COLLECTION } from './protocol.js';
import { machine } from './report.js';
import { randomId } from './seed.js';
import { median, percentile } from './stats.js';

const RESULTS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'results');
const CLIENTS = 4;
const IN_FLIGHT = 8;
const POINT_READ = `SELECT * FROM ${COLLECTION} WHERE id = $1`;

interface Options {
  rows: number;
  duration: number;
  warmup: number;
  rounds: number;
  sequential: number;
}

function parseOptions(argv: string[]): Options {
  const options: Options = { rows: 10_000, duration: 5, warmup: 1, rounds: 3, sequential: 2000 };
  for (let i = 0; i < argv.length; i += 2) {
    const name = argv[i]?.replace(/^--/, '') as keyof Options;
    const value = Number(argv[i + 1]);
    if (!(name in options) || !Number.isFinite(value) || value <= 0) throw new Error(`unknown or bad option ${argv[i]} ${argv[i + 1]}`);
    options[name] = value;
  }
  return options;
}

/** One point read by a given client; answers the row's id so every answer is checked. */
type Call = (id: string) => Promise<string | undefined>;

interface Row {
  name: string;
  transport: 'fetch' | 'pool' | 'ws';
  route: string;
  /** A fresh client (a test of a transport starts from nothing: connections, token, socket). */
  make(url: string): { call: Call; close(): void };
}

const ROWS: Row[] = [
  {
    name: 'fetch · POST /api/query', transport: 'fetch', route: 'POST /api/query',
    make: (url) => {
      const client = new FetchClient({ baseUrl: url, apiKey: BENCH_ADMIN_KEY, fetch: globalThis.fetch });
      return { call: async (id) => String((await client.query(POINT_READ, [id])).result[0]?.id), close: () => {} };
    },
  },
  {
    name: 'pool · POST /api/query', transport: 'pool', route: 'POST /api/query',
    make: (url) => {
      const client = new DuckgateClient({ baseUrl: url, apiKey: BENCH_ADMIN_KEY });
      return { call: async (id) => String((await client.query(POINT_READ, [id])).result[0]?.id), close: () => {} };
    },
  },
  {
    name: 'ws · query over /ws', transport: 'ws', route: 'GET /ws (query)',
    make: (url) => {
      const socket = new DuckgateSocket({ baseUrl: url, apiKey: BENCH_ADMIN_KEY });
      return { call: async (id) => String((await socket.query(POINT_READ, [id])).result[0]?.id), close: () => socket.close() };
    },
  },
  {
    name: 'fetch · GET /api/find/:c/:id', transport: 'fetch', route: 'GET /api/find/:collection/:id',
    make: (url) => {
      const client = new FetchClient({ baseUrl: url, apiKey: BENCH_ADMIN_KEY, fetch: globalThis.fetch });
      return { call: async (id) => String((await client.findById(COLLECTION, id)).id), close: () => {} };
    },
  },
  {
    name: 'pool · GET /api/find/:c/:id', transport: 'pool', route: 'GET /api/find/:collection/:id',
    make: (url) => {
      const client = new DuckgateClient({ baseUrl: url, apiKey: BENCH_ADMIN_KEY });
      return { call: async (id) => String((await client.findById(COLLECTION, id)).id), close: () => {} };
    },
  },
];

interface Figures {
  /** Client CPU per call, µs, one call at a time. */
  clientCpuSequentialUs: number;
  /** Calls per second, 4 clients x 8 in flight. */
  callsPerSec: number;
  /** Client CPU per call over the loaded run, µs. */
  clientCpuLoadedUs: number;
  /** Server process CPU per call over the loaded run, µs (its DuckDB threads included). */
  serverCpuUs: number;
  p50Ms: number;
  p99Ms: number;
}

class WrongAnswer extends Error {}

function cpuMicros(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}

async function checked(call: Call, id: string): Promise<void> {
  const got = await call(id);
  if (got !== id) throw new WrongAnswer(`asked for ${id}, got ${got}`);
}

async function sequential(row: Row, url: string, options: Options): Promise<number> {
  const client = row.make(url);
  try {
    // As many calls to warm up as are measured: the JIT needs a few thousand to settle.
    for (let i = 0; i < options.sequential; i++) await checked(client.call, randomId(options.rows));
    const before = cpuMicros();
    for (let i = 0; i < options.sequential; i++) await checked(client.call, randomId(options.rows));
    return (cpuMicros() - before) / options.sequential;
  } finally {
    client.close();
  }
}

async function loaded(row: Row, url: string, server: BenchChild, options: Options): Promise<Omit<Figures, 'clientCpuSequentialUs'>> {
  const clients = Array.from({ length: CLIENTS }, () => row.make(url));
  try {
    const run = async (seconds: number, latencies?: number[]): Promise<number> => {
      const until = performance.now() + seconds * 1000;
      let calls = 0;
      await Promise.all(clients.flatMap((client) => Array.from({ length: IN_FLIGHT }, async () => {
        while (performance.now() < until) {
          const started = performance.now();
          await checked(client.call, randomId(options.rows));
          latencies?.push(performance.now() - started);
          calls++;
        }
      })));
      return calls;
    };
    await run(options.warmup);
    const latencies: number[] = [];
    const serverBefore = await server.cpuMicros();
    const clientBefore = cpuMicros();
    const started = performance.now();
    const calls = await run(options.duration, latencies);
    const seconds = (performance.now() - started) / 1000;
    const clientCpu = cpuMicros() - clientBefore;
    const serverCpu = (await server.cpuMicros()) - serverBefore;
    latencies.sort((a, b) => a - b);
    return {
      callsPerSec: Math.round(calls / seconds),
      clientCpuLoadedUs: round(clientCpu / calls),
      serverCpuUs: round(serverCpu / calls),
      p50Ms: round(percentile(latencies, 0.5), 2),
      p99Ms: round(percentile(latencies, 0.99), 2),
    };
  } finally {
    for (const client of clients) client.close();
  }
}

function round(value: number, digits = 1): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

function render(results: { when: string; machine: ReturnType<typeof machine>; options: Options; rows: (Figures & { name: string })[]; ratios: Record<string, number> }): string {
  const lines = [
    `duckgate client bench, ${results.when}`,
    `machine: ${results.machine.cpus} CPUs (${results.machine.cpuModel}), Node ${results.machine.node}, load ${results.machine.loadAverage1m}`,
    `settings: ${results.options.rows} rows, ${CLIENTS} clients x ${IN_FLIGHT} in flight, ${results.options.duration} s measured after ${results.options.warmup} s warm-up, `
      + `${results.options.rounds} rotating rounds (medians), ${results.options.sequential} sequential calls for the sequential CPU`,
    '',
    '| transport · route | client CPU/call, sequential (µs) | calls/s at 4 x 8 | client CPU/call at 4 x 8 (µs) | server CPU/call (µs) | p50 (ms) | p99 (ms) |',
    '|---|---:|---:|---:|---:|---:|---:|',
    ...results.rows.map((r) => `| ${r.name} | ${r.clientCpuSequentialUs} | ${r.callsPerSec} | ${r.clientCpuLoadedUs} | ${r.serverCpuUs} | ${r.p50Ms} | ${r.p99Ms} |`),
    '',
    ...Object.entries(results.ratios).map(([name, value]) => `${name}: ${value}`),
  ];
  return lines.join('\n');
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const root = mkdtempSync(path.join(os.tmpdir(), 'duckgate-bench-client-'));
  const dataDir = path.join(root, 'seeded');
  try {
    progress(`seeding ${options.rows} rows`);
    const seeded = await withChild({ role: 'seed', dataDir, rows: options.rows }, async (child) => child.detail);
    const server = await startChild({ role: 'duckgate', dataDir, auth: true });
    const url = server.url!;
    const perRow = new Map<string, Figures[]>(ROWS.map((row) => [row.name, []]));
    for (let turn = 0; turn < options.rounds; turn++) {
      const order = ROWS.map((_, i) => ROWS[(i + turn) % ROWS.length]!);
      for (const row of order) {
        progress(`round ${turn + 1}/${options.rounds}: ${row.name}`);
        const clientCpuSequentialUs = round(await sequential(row, url, options));
        perRow.get(row.name)!.push({ clientCpuSequentialUs, ...(await loaded(row, url, server, options)) });
      }
    }
    await stopChild(server);
    const rows = ROWS.map((row) => {
      const runs = perRow.get(row.name)!;
      const pick = (key: keyof Figures) => round(median(runs.map((r) => r[key])), key === 'p50Ms' || key === 'p99Ms' ? 2 : 1);
      return {
        name: row.name,
        clientCpuSequentialUs: pick('clientCpuSequentialUs'),
        callsPerSec: Math.round(median(runs.map((r) => r.callsPerSec))),
        clientCpuLoadedUs: pick('clientCpuLoadedUs'),
        serverCpuUs: pick('serverCpuUs'),
        p50Ms: pick('p50Ms'),
        p99Ms: pick('p99Ms'),
      };
    });
    const by = (name: string) => rows.find((r) => r.name.startsWith(name))!;
    const [fetchQuery, poolQuery, wsQuery] = [by('fetch · POST'), by('pool · POST'), by('ws ·')];
    const ratios = {
      'pool vs fetch, client CPU per query (sequential)': round(poolQuery.clientCpuSequentialUs / fetchQuery.clientCpuSequentialUs, 2),
      'pool vs fetch, queries per second': round(poolQuery.callsPerSec / fetchQuery.callsPerSec, 2),
      'ws vs pool, queries per second': round(wsQuery.callsPerSec / poolQuery.callsPerSec, 2),
      'ws vs HTTP /api/query (pool), server CPU per query': round(wsQuery.serverCpuUs / poolQuery.serverCpuUs, 2),
      'ws vs fetch, queries per second': round(wsQuery.callsPerSec / fetchQuery.callsPerSec, 2),
    };
    const results = { when: new Date().toISOString(), machine: machine(String(seeded.duckdb)), options, rows, ratios };
    console.log(render(results));
    mkdirSync(RESULTS_DIR, { recursive: true });
    const file = path.join(RESULTS_DIR, 'client.json');
    writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
    console.log(`\nresults written to ${path.relative(process.cwd(), file)}`);
  } finally {
    killAll();
    rmSync(root, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(`\n${error instanceof WrongAnswer ? 'BENCH FAILED (wrong answers)' : 'BENCH CRASHED'}\n${error instanceof Error ? error.stack ?? error.message : String(error)}`);
  process.exitCode = 1;
});
