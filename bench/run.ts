/**
 * `npm run bench`: how far duckgate's authenticated point read is from its ceilings.
 *
 *   1. bare Fastify hello-world           the HTTP ceiling
 *   2. DuckDB alone through the engine    the data ceiling (sequential, then the read pool kept full)
 *   3. GET /api/find/bench_items/:id      with an environment key
 *   4. the same route, auth bypassed      benchPrincipal: what authentication costs
 *
 * Every measured thing runs in its own child process (server-child.ts) so its CPU is its own;
 * autocannon runs here. Flags: --duration 10 --warmup 2 --connections 32 --rows 100000 --rounds 3,
 * --cpu-prof (V8 profiles of the children).
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { BenchChild } from './child.js';
import { BenchFailure, measureHttp, measureOnce, summarize, warmUp, type LoadOptions, type Sample, type Target } from './load.js';
import { BENCH_ADMIN_KEY, COLLECTION, READ_CONNECTIONS, type ChildSpec, type EngineLoopFigures } from './protocol.js';
import { machine, ratios, render, writeJson, type Results, type Settings } from './report.js';
import { expectedRecord, idOf, randomId, sortKeys } from './seed.js';
import { machineBusyMicros } from './stats.js';

const RESULTS_DIR = fileURLToPath(new URL('./results/', import.meta.url));

interface Options extends LoadOptions {
  rows: number;
  rounds: number;
  /** Write a V8 CPU profile of every child to `results/profiles/` (profiling slows the figures down). */
  cpuProf: boolean;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      duration: { type: 'string', default: '10' },
      warmup: { type: 'string', default: '2' },
      connections: { type: 'string', default: '32' },
      rows: { type: 'string', default: '100000' },
      rounds: { type: 'string', default: '3' },
      'cpu-prof': { type: 'boolean', default: false },
    },
  });
  const number = (name: string, raw: string, min: number): number => {
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min) throw new Error(`--${name} must be a whole number ≥ ${min} (got "${raw}")`);
    return value;
  };
  return {
    duration: number('duration', values.duration, 1),
    warmup: number('warmup', values.warmup, 0),
    connections: number('connections', values.connections, 1),
    rows: number('rows', values.rows, 1),
    rounds: number('rounds', values.rounds, 1),
    cpuProf: values['cpu-prof'],
  };
}

const progress = (message: string): void => {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
};

/** Children still running; killed if the run fails half-way. */
const live = new Set<BenchChild>();
let childNodeArgs: string[] = [];

async function startChild(spec: ChildSpec): Promise<BenchChild> {
  const child = await BenchChild.start(spec, childNodeArgs);
  live.add(child);
  // Profiles are named after the process id: say which is which.
  if (childNodeArgs.length > 0) progress(`   ${spec.role}${spec.role === 'duckgate' ? (spec.auth ? ' (auth)' : ' (bypass)') : ''} child: pid ${child.pid}`);
  return child;
}

async function stopChild(child: BenchChild): Promise<void> {
  // Closing (not killing) lets DuckDB write its file back cleanly.
  await child.close();
  live.delete(child);
}

async function withChild<T>(spec: ChildSpec, use: (child: BenchChild) => Promise<T>): Promise<T> {
  const child = await startChild(spec);
  const result = await use(child);
  await stopChild(child);
  return result;
}

/**
 * Before measuring, prove the server answers what we think it answers: the right record, and (for
 * the auth scenario) a refusal without a key, (for the bypass) an answer without one. Otherwise a
 * fast figure could be a fast 401.
 */
async function preflight(url: string, auth: boolean, rows: number): Promise<void> {
  const index = Math.floor(rows / 3);
  const recordUrl = `${url}/api/find/${COLLECTION}/${idOf(index)}`;
  const withKey = await fetch(recordUrl, { headers: { 'x-api-key': BENCH_ADMIN_KEY } });
  const body = (await withKey.json()) as Record<string, never>;
  if (withKey.status !== 200 || JSON.stringify(sortKeys(body)) !== JSON.stringify(sortKeys(expectedRecord(index)))) {
    throw new BenchFailure(`preflight: ${recordUrl} answered ${withKey.status} ${JSON.stringify(body)}`);
  }
  const withoutKey = await fetch(recordUrl);
  await withoutKey.arrayBuffer();
  if (auth && withoutKey.status !== 401) throw new BenchFailure(`preflight: no key answered ${withoutKey.status}, expected 401`);
  if (!auth && withoutKey.status !== 200) throw new BenchFailure(`preflight: bypass without key answered ${withoutKey.status}, expected 200`);
}

/** Row 2: the engine alone, in its own child; `other CPU` is seen from here, where all processes are visible. */
async function measureEngine(dataDir: string, options: Options) {
  return withChild({ role: 'engine', dataDir, rows: options.rows }, async (child) => {
    const loop = async (seconds: number, concurrency: number): Promise<EngineLoopFigures> => {
      const machineBefore = machineBusyMicros();
      const ownBefore = process.cpuUsage();
      const { figures } = await child.request({ type: 'engine-loop', durationMs: seconds * 1000, concurrency }, 'engine-loop');
      const own = process.cpuUsage(ownBefore);
      const otherUs = machineBusyMicros() - machineBefore - figures.cpuUsPerOp * figures.ops - own.user - own.system;
      return { ...figures, otherCpuPercent: (Math.max(0, otherUs) / (figures.seconds * 1e6)) * 100 };
    };
    if (options.warmup > 0) await loop(options.warmup, READ_CONNECTIONS);
    return { detail: child.detail, sequential: await loop(options.duration, 1), pool: await loop(options.duration, READ_CONNECTIONS) };
  });
}

/**
 * Rows 3 and 4. Authentication's cost is a few percent at most, less than a shared machine's drift
 * over a minute. So both servers run side by side, each on its own byte-identical copy of the seeded
 * directory (a DuckDB file opens in one process only), and their measured runs alternate: drift
 * hits both alike.
 */
async function measureRoutes(root: string, dataDir: string, options: Options) {
  const { rows } = options;
  const authDir = path.join(root, 'auth');
  const bypassDir = path.join(root, 'bypass');
  cpSync(dataDir, authDir, { recursive: true });
  cpSync(dataDir, bypassDir, { recursive: true });
  const authChild = await startChild({ role: 'duckgate', dataDir: authDir, auth: true });
  const bypassChild = await startChild({ role: 'duckgate', dataDir: bypassDir, auth: false });
  await preflight(authChild.url!, true, rows);
  await preflight(bypassChild.url!, false, rows);

  // Both send the same header, so the bytes on the wire are identical and the only difference is
  // what the server does with it.
  const findTarget = (name: string, child: BenchChild, sibling: BenchChild): Target => ({
    name, child, siblings: [sibling], headers: { 'x-api-key': BENCH_ADMIN_KEY }, path: () => `/api/find/${COLLECTION}/${randomId(rows)}`,
  });
  const auth = { target: findTarget('auth route', authChild, bypassChild), samples: [] as Sample[] };
  const bypass = { target: findTarget('bypass route', bypassChild, authChild), samples: [] as Sample[] };
  await warmUp(auth.target, options);
  await warmUp(bypass.target, options);
  const rate = (s: Sample[]) => (s.at(-1)!.requests / s.at(-1)!.seconds).toFixed(0);
  for (let round = 0; round < options.rounds; round++) {
    // Alternate which goes first too, so neither always follows the other.
    for (const scenario of round % 2 === 0 ? [auth, bypass] : [bypass, auth]) {
      scenario.samples.push(await measureOnce(scenario.target, options));
    }
    progress(`   round ${round + 1}: auth ${rate(auth.samples)} req/s, bypass ${rate(bypass.samples)} req/s`);
  }
  await stopChild(authChild);
  await stopChild(bypassChild);
  return { authRoute: summarize(auth.samples), bypassRoute: summarize(bypass.samples) };
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const { rows } = options;
  if (options.cpuProf) {
    const dir = path.join(RESULTS_DIR, 'profiles');
    childNodeArgs = ['--cpu-prof', '--cpu-prof-dir', dir];
    progress(`CPU profiles of every child go to ${dir} (one .cpuprofile per process, written when it exits)`);
  }
  const root = mkdtempSync(path.join(os.tmpdir(), 'duckgate-bench-'));
  const dataDir = path.join(root, 'seeded');

  try {
    progress(`seeding ${rows} rows into ${dataDir}`);
    const seeded = await withChild({ role: 'seed', dataDir, rows }, async (child) => child.detail);
    progress(`seeded in ${seeded.seedMs} ms`);
    const machineInfo = machine(String(seeded.duckdb));

    progress(`1/4 bare Fastify (warm-up ${options.warmup} s, measured ${options.duration} s)`);
    const bareFastify = await withChild({ role: 'hello' }, (child) =>
      measureHttp({ name: 'bare Fastify', child, headers: {}, path: () => '/' }, options));

    progress(`2/4 engine alone (warm-up ${options.warmup} s, then ${options.duration} s sequential and ${options.duration} s with ${READ_CONNECTIONS} in flight)`);
    const engine = await measureEngine(dataDir, options);

    progress(`3-4/4 GET /api/find/${COLLECTION}/:id with x-api-key, and with authentication bypassed: `
      + `${options.rounds} alternating rounds of ${options.duration} s each`);
    const { authRoute, bypassRoute } = await measureRoutes(root, dataDir, options);

    const settings: Settings = {
      rows,
      warmupSeconds: options.warmup,
      durationSeconds: options.duration,
      rounds: options.rounds,
      connections: options.connections,
      pipelining: 1,
      readConnections: READ_CONNECTIONS,
      duckdbThreads: Number(engine.detail.threads),
      duckdbMemoryLimit: String(engine.detail.memoryLimit),
      engineCeiling: 'measured in its own child process with no HTTP server (a DuckDB file opens in one process only), '
        + "on the seeded directory opened with openDuckDBEngine (the server's settings), calling database('default').findById "
        + 'on random ids; ceiling = the faster of the sequential and pool-full loops',
    };
    const scenarios = { bareFastify, engineSequential: engine.sequential, enginePool: engine.pool, authRoute, bypassRoute };
    const results: Results = {
      when: new Date().toISOString(),
      machine: { ...machineInfo, loadAverage1mAtEnd: Math.round((os.loadavg()[0] ?? 0) * 100) / 100 },
      settings,
      scenarios,
      ratios: ratios(scenarios),
    };
    console.log(render(results));
    const file = writeJson(results, RESULTS_DIR);
    console.log(`\nresults written to ${path.relative(process.cwd(), file)}`);
  } finally {
    for (const child of live) child.kill();
    rmSync(root, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  const failed = error instanceof BenchFailure ? 'BENCH FAILED (errors or wrong answers: the figures would be meaningless)' : 'BENCH CRASHED';
  console.error(`\n${failed}\n${error instanceof Error ? error.stack ?? error.message : String(error)}`);
  process.exitCode = 1;
});
