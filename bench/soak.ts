/**
 * `npm run bench:soak`: can one client with an ordinary scoped read key take duckgate down, or make
 * it useless for everyone else? (issue 10)
 *
 * One real server (`duckgate serve` in a child process, default settings, logging at `info` to a
 * file) on a seeded DATA_DIR. A well-behaved client (its own process, `soak-reader.ts`) does
 * authenticated point reads throughout: first alone (the baseline phase), then while the attack mix
 * (`soak-attacks.ts`) runs (the attack phase). Reported: the well-behaved client's p50/p99 and errors
 * in each phase, the server's peak RSS, the audit and log bytes written, the 5xx answers anyone
 * got, and whether the server died; then the issue's goals, each MET or MISSED.
 *
 * Flags (each also as an environment variable, e.g. SOAK_ATTACK=20): --baseline 20 --attack 60
 * (seconds), --lanes huge,deep,join,in,wide,slow,badkey, --slow-connections 5000, --readers 4,
 * --rows 100000, --timeout 35 (harness-side seconds per attack request), --env NAME=VALUE (a server
 * setting, repeatable), --keep (keep the data directory and server.log), --results <file> (default
 * bench/results/soak-latest.json), --pin auto|off (CPU placement, see `Options.pin`). A smoke run:
 * `npm run bench:soak -- --baseline 5 --attack 20 --slow-connections 1000`.
 *
 * Missing a goal is reported, not a failure: the exit status is 1 only when the harness itself
 * could not run (the server would not start, the seed failed).
 */
import { fork, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { killAll, progress, withChild } from './children.js';
import { BENCH_ADMIN_KEY, READ_CONNECTIONS } from './protocol.js';
import { LANE_DESCRIPTIONS, LANES, startAttacks, type AttackFigures, type Lane } from './soak-attacks.js';
import type { PhaseFigures, ReaderCommand, ReaderReply } from './soak-reader.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DEFAULT_RESULTS_FILE = fileURLToPath(new URL('./results/soak-latest.json', import.meta.url));
const CLI = path.join(ROOT, 'src/cli/main.ts');
const READER = fileURLToPath(new URL('./soak-reader.ts', import.meta.url));
const ADMIN_PASSWORD = 'soak-admin-password-0123456789';
const GIB = 1024 ** 3;

interface Options {
  baseline: number;
  attack: number;
  lanes: Lane[];
  slowConnections: number;
  readers: number;
  rows: number;
  timeoutMs: number;
  serverEnv: Record<string, string>;
  /** Keep the temporary directory (data, server.log) for a look afterwards. */
  keep: boolean;
  /** Where the JSON results go. */
  results: string;
  /**
   * CPU placement: the attack traffic comes from this process, which on a real deployment runs on
   * another machine. `auto` (with 2+ CPUs and `taskset`) pins this process to the last CPU and the
   * server and the well-behaved reader to the others, in both phases, so the harness's own work
   * (thousands of sockets, floods) does not count as the server's; `off` leaves placement to the OS.
   */
  pin: 'auto' | 'off';
}

function parseOptions(argv: string[]): Options {
  const env = (name: string, fallback: string) => process.env[`SOAK_${name.toUpperCase().replaceAll('-', '_')}`] ?? fallback;
  const { values } = parseArgs({
    args: argv,
    options: {
      baseline: { type: 'string', default: env('baseline', '20') },
      attack: { type: 'string', default: env('attack', '60') },
      lanes: { type: 'string', default: env('lanes', LANES.join(',')) },
      'slow-connections': { type: 'string', default: env('slow-connections', '5000') },
      readers: { type: 'string', default: env('readers', '4') },
      rows: { type: 'string', default: env('rows', '100000') },
      timeout: { type: 'string', default: env('timeout', '35') },
      env: { type: 'string', multiple: true, default: [] },
      keep: { type: 'boolean', default: false },
      results: { type: 'string', default: env('results', DEFAULT_RESULTS_FILE) },
      pin: { type: 'string', default: env('pin', 'auto') },
    },
  });
  const number = (name: string, raw: string, min: number): number => {
    const value = Number(raw.replaceAll('_', ''));
    if (!Number.isInteger(value) || value < min) throw new Error(`--${name} must be a whole number ≥ ${min} (got "${raw}")`);
    return value;
  };
  const lanes = values.lanes.split(',').map((lane) => lane.trim()).filter(Boolean);
  for (const lane of lanes) {
    if (!(LANES as readonly string[]).includes(lane)) throw new Error(`--lanes: unknown lane "${lane}" (lanes: ${LANES.join(', ')})`);
  }
  const serverEnv: Record<string, string> = {};
  for (const pair of values.env) {
    const at = pair.indexOf('=');
    if (at < 1) throw new Error(`--env must be NAME=VALUE (got "${pair}")`);
    serverEnv[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return {
    baseline: number('baseline', values.baseline, 1),
    attack: number('attack', values.attack, 1),
    lanes: lanes as Lane[],
    slowConnections: number('slow-connections', values['slow-connections'], 0),
    readers: number('readers', values.readers, 1),
    rows: number('rows', values.rows, 100),
    timeoutMs: number('timeout', values.timeout, 1) * 1000,
    serverEnv,
    keep: values.keep,
    results: path.resolve(values.results),
    pin: values.pin === 'off' ? 'off' : 'auto',
  };
}

/** Which CPUs the server and the reader get, and which the attacking harness gets (see `Options.pin`). */
interface Placement {
  server: string;
  attacker: string;
}

function placement(pin: Options['pin']): Placement | undefined {
  const cpus = os.availableParallelism();
  if (pin === 'off' || cpus < 2) return undefined;
  const probe = spawnSync('taskset', ['--version'], { stdio: 'ignore' });
  if (probe.status !== 0) return undefined;
  return { server: cpus === 2 ? '0' : `0-${cpus - 2}`, attacker: String(cpus - 1) };
}

/** Sets every thread of `pid` to `cpus` (the children are pinned before they start working). */
function pinProcess(pid: number, cpus: string): void {
  const result = spawnSync('taskset', ['-a', '-cp', cpus, String(pid)], { stdio: 'ignore' });
  if (result.status !== 0) throw new Error(`taskset could not pin process ${pid} to CPUs ${cpus}`);
}

/** The server under test: its process, its log file, and what it has cost so far. */
class Server {
  private peakRssBytes = 0;
  private sampler: NodeJS.Timeout | undefined;
  exit: { code: number | null; signal: string | null; atMs: number } | undefined;

  private constructor(readonly proc: ChildProcess, readonly url: string, readonly logFile: string, readonly dataDir: string, private readonly started: number) {
    proc.once('exit', (code, signal) => (this.exit = { code, signal, atMs: Math.round(performance.now() - started) }));
  }

  static async start(dataDir: string, logFile: string, env: Record<string, string>, cpus: string | undefined): Promise<Server> {
    const log = openSync(logFile, 'a');
    const command = cpus === undefined ? [process.execPath] : ['taskset', '-c', cpus, process.execPath];
    const proc = spawn(command[0]!, [...command.slice(1), '--import', 'tsx', CLI, 'serve'], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? '',
        // As the launcher (bin/duckgate.cjs) sets it.
        UV_THREADPOOL_SIZE: String(READ_CONNECTIONS),
        DATA_DIR: dataDir,
        PORT: '0',
        HOST: '127.0.0.1',
        ADMIN_API_KEY: BENCH_ADMIN_KEY,
        // Set, so that no first-start banner is printed into the log being measured.
        ADMIN_PASSWORD,
        LOG_LEVEL: 'info',
        ...env,
      },
      // Straight to the file: the harness never holds the server's output in memory.
      stdio: ['ignore', log, log],
    });
    closeSync(log);
    const started = performance.now();
    const deadline = started + 60_000;
    while (performance.now() < deadline) {
      const match = /listening on (http:\/\/\S+)/.exec(readFileSync(logFile, 'utf8'));
      if (match) return new Server(proc, match[1]!, logFile, dataDir, started);
      if (proc.exitCode !== null) break;
      await sleep(100);
    }
    proc.kill('SIGKILL');
    throw new Error(`the server did not start:\n${readFileSync(logFile, 'utf8').slice(-4000)}`);
  }

  /** Samples the resident set every 250 ms (the kernel's own high-water mark is read too). */
  watch(): void {
    this.sampler = setInterval(() => this.sample(), 250);
  }

  get alive(): boolean {
    return this.exit === undefined;
  }

  /** Highest resident set seen so far, bytes: the sampled maximum or the kernel's VmHWM, whichever is higher. */
  peakRss(): number {
    this.sample();
    return this.peakRssBytes;
  }

  logBytes(): number {
    return sizeOf(this.logFile);
  }

  /**
   * Audit events written after event `afterId`: how many, and their bytes (the text of every column,
   * about what SQLite stores for them before indexes). Read through a read-only connection beside the
   * server's; undefined when the store cannot be read.
   */
  audit(afterId = 0): AuditFigures | undefined {
    try {
      const db = new Database(path.join(this.dataDir, 'control.sqlite'), { readonly: true, fileMustExist: true });
      try {
        db.pragma('busy_timeout = 2000');
        const columns = ['at', 'kind', 'actor', 'key_prefix', 'ip', 'user_agent', 'route', 'code', 'target', 'details'];
        const bytes = columns.map((column) => `coalesce(length(CAST(${column} AS BLOB)), 0)`).join(' + ');
        const row = db.prepare(`SELECT count(*) AS rows, coalesce(sum(${bytes}), 0) AS bytes, coalesce(max(id), ?) AS lastId FROM audit_events WHERE id > ?`)
          .get(afterId, afterId) as AuditFigures;
        return row;
      } finally {
        db.close();
      }
    } catch {
      return undefined;
    }
  }

  /**
   * SIGTERM, as an orchestrator stops it; SIGKILL if it has not exited within `graceMs`. Answers
   * whether it exited by itself, and how long that took. RSS is sampled until the end.
   */
  async stop(graceMs = 30_000): Promise<{ clean: boolean; ms: number }> {
    const started = performance.now();
    let clean = true;
    if (this.alive) {
      const exited = once(this.proc, 'exit');
      this.proc.kill('SIGTERM');
      const timer = setTimeout(() => {
        clean = false;
        this.proc.kill('SIGKILL');
      }, graceMs);
      await exited;
      clearTimeout(timer);
    }
    if (this.sampler) clearInterval(this.sampler);
    return { clean, ms: Math.round(performance.now() - started) };
  }

  private sample(): void {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null || this.proc.pid === undefined) return;
    let status: string;
    try {
      status = readFileSync(`/proc/${this.proc.pid}/status`, 'utf8');
    } catch {
      return;
    }
    for (const field of ['VmRSS', 'VmHWM']) {
      const kb = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1];
      if (kb !== undefined) this.peakRssBytes = Math.max(this.peakRssBytes, Number(kb) * 1024);
    }
  }
}

interface AuditFigures {
  rows: number;
  bytes: number;
  lastId: number;
}

/** The well-behaved client's process. */
class Reader {
  private constructor(private readonly proc: ChildProcess) {}

  static async start(url: string, key: string, options: Options, cpus: string | undefined): Promise<Reader> {
    const proc = fork(READER, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const [ready] = (await once(proc, 'message')) as [ReaderReply];
    if (cpus !== undefined && proc.pid !== undefined) pinProcess(proc.pid, cpus);
    if (ready.type !== 'ready') throw new Error(`the reader did not start: ${JSON.stringify(ready)}`);
    const reader = new Reader(proc);
    reader.send({ type: 'start', url, key, rows: options.rows, concurrency: options.readers, timeoutMs: 10_000, phase: 'baseline' });
    return reader;
  }

  phase(phase: string): void {
    this.send({ type: 'phase', phase });
  }

  async stop(): Promise<PhaseFigures[]> {
    const reply = once(this.proc, 'message') as Promise<[ReaderReply]>;
    this.send({ type: 'stop' });
    const [report] = await reply;
    if (report.type !== 'report') throw new Error(`the reader failed: ${JSON.stringify(report)}`);
    return report.phases;
  }

  kill(): void {
    if (this.proc.exitCode === null) this.proc.kill('SIGKILL');
  }

  private send(command: ReaderCommand): void {
    this.proc.send(command);
  }
}

async function createKey(url: string, body: Record<string, unknown>): Promise<string> {
  const res = await fetch(`${url}/api/auth/register`, {
    method: 'POST',
    headers: { 'x-api-key': BENCH_ADMIN_KEY, 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  const answer = (await res.json()) as { key?: string };
  if (res.status !== 201 || !answer.key) throw new Error(`creating key ${String(body.label)}: ${res.status} ${JSON.stringify(answer)}`);
  return answer.key;
}

/** The server's own view of connections and in-flight slots, from `/metrics` (undefined if it does not answer). */
async function serverGauges(url: string): Promise<Record<string, number> | undefined> {
  try {
    const res = await fetch(`${url}/metrics`, { headers: { 'x-api-key': BENCH_ADMIN_KEY }, signal: AbortSignal.timeout(5000) });
    const text = await res.text();
    const gauges: Record<string, number> = {};
    for (const match of text.matchAll(/^(in_flight_requests|in_flight_queued_requests|in_flight_clients|http_open_connections|http_connections_dropped_total|in_flight_refused_total\{reason="\w+"\}) (\d+(?:\.\d+)?)$/gm)) {
      gauges[match[1]!] = Number(match[2]);
    }
    return gauges;
  } catch {
    return undefined;
  }
}

/** Waits `seconds`, or less if the server dies meanwhile; answers whether it is still alive. */
async function hold(server: Server, seconds: number): Promise<boolean> {
  const end = performance.now() + seconds * 1000;
  while (performance.now() < end && server.alive) await sleep(Math.min(250, end - performance.now()));
  return server.alive;
}

interface Results {
  when: string;
  machine: { cpus: number; model: string; totalMemoryGiB: number; loadAverage1mAtEnd: number };
  settings: { baselineSeconds: number; attackSeconds: number; lanes: string[]; slowConnections: number; readers: number; rows: number; timeoutMs: number; serverEnv: Record<string, string>; cpus: Placement | 'os' };
  reader: PhaseFigures[];
  attacks: AttackFigures | undefined;
  server: {
    died: boolean;
    exit?: { code: number | null; signal: string | null; atMs: number };
    /** Over the whole run, shutdown included; and up to the end of the attack phase. */
    peakRssBytes: number;
    peakRssAttackBytes: number;
    /** SIGTERM after the attack: did it exit by itself (writing the open summaries), and how fast. */
    shutdown: { clean: boolean; ms: number };
    /** `/metrics` at the end of the attack, and 2 s after the attackers left (this request holds one slot). */
    gauges: { underAttack?: Record<string, number>; afterAttack?: Record<string, number> };
    logBytes: { baseline: number; attack: number; shutdown: number };
    /** Audit events written (rows, and the bytes of their columns), cumulative from the baseline's start. */
    audit: { baseline?: Omit<AuditFigures, 'lastId'>; attack?: Omit<AuditFigures, 'lastId'>; shutdown?: Omit<AuditFigures, 'lastId'> };
    logTail?: string;
  };
  fiveHundreds: number;
  /** This process's own peak resident set (it streams every answer away and bounds what it keeps). */
  harnessPeakRssBytes: number;
  goals: { name: string; met: boolean; detail: string }[];
}

function goals(results: Omit<Results, 'goals'>): Results['goals'] {
  const baseline = results.reader.find((phase) => phase.phase === 'baseline');
  const attack = results.reader.find((phase) => phase.phase === 'attack');
  const ratio = baseline && attack ? attack.p99Ms / baseline.p99Ms : NaN;
  return [
    { name: 'no crash', met: !results.server.died, detail: results.server.died ? `the server exited (${JSON.stringify(results.server.exit)})` : 'the server ran throughout' },
    { name: 'no 5xx', met: results.fiveHundreds === 0, detail: `${results.fiveHundreds} answers with a 5xx status` },
    {
      name: "well-behaved p99 under attack ≤ 3× its p99 without",
      met: ratio <= 3,
      detail: `${attack?.p99Ms ?? '?'} ms vs ${baseline?.p99Ms ?? '?'} ms = ${Number.isFinite(ratio) ? ratio.toFixed(2) : '?'}×`,
    },
    { name: 'peak RSS ≤ 1.5 GB', met: results.server.peakRssBytes <= 1.5 * GIB, detail: `${mib(results.server.peakRssBytes)} MiB` },
  ];
}

function fiveHundredsOf(reader: PhaseFigures[], attacks: AttackFigures | undefined): number {
  let count = 0;
  const add = (outcomes: Record<string, number>) => {
    for (const [outcome, n] of Object.entries(outcomes)) if (/^5\d\d$/.test(outcome)) count += n;
  };
  for (const phase of reader) add(phase.errors);
  for (const lane of attacks?.lanes ?? []) add(lane.outcomes);
  if (attacks?.slow) add(Object.fromEntries(Object.entries(attacks.slow.answers).map(([answer, n]) => [answer.replace(/^\w+:/, ''), n])));
  return count;
}

function render(results: Results): string {
  const lines: string[] = [];
  const { settings } = results;
  lines.push(`duckgate attack-mix soak, ${results.when}`);
  lines.push(`machine: ${results.machine.cpus} × ${results.machine.model}, ${results.machine.totalMemoryGiB} GiB; load average at end ${results.machine.loadAverage1mAtEnd}`);
  lines.push(`phases: baseline ${settings.baselineSeconds} s, attack ${settings.attackSeconds} s; ${settings.readers} well-behaved readers; `
    + `server settings: defaults${Object.keys(settings.serverEnv).length ? ` + ${JSON.stringify(settings.serverEnv)}` : ''}`);
  lines.push('', 'well-behaved client: GET /api/find/bench_items/:id with its own read key');
  lines.push(table(['phase', 'seconds', 'requests', 'ok', 'errors', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms'],
    results.reader.map((p) => [p.phase, p.seconds, p.requests, p.ok, formatOutcomes(p.errors) || '0', p.p50Ms, p.p90Ms, p.p99Ms, p.maxMs])));
  lines.push('', 'attack lanes');
  const laneRows = (results.attacks?.lanes ?? []).map((lane) => [lane.lane, LANE_DESCRIPTIONS[lane.lane], lane.requests, formatOutcomes(lane.outcomes), mib(lane.bytes)]);
  const slow = results.attacks?.slow;
  if (slow) {
    laneRows.push(['slow', `${LANE_DESCRIPTIONS.slow}; ${settings.slowConnections} kept open`, slow.opened,
      `most open at once ${slow.peakOpen}, closed by the server ${slow.closedByServer} (${formatOutcomes(slow.answers) || 'none'}), failed to connect ${slow.failed}`, '-']);
  }
  lines.push(table(['lane', 'what', 'requests', 'outcomes', 'MiB read'], laneRows));
  const { server } = results;
  lines.push('', 'server');
  lines.push(table(['', 'baseline', 'attack', 'shutdown'], [
    ['log bytes written (cumulative)', server.logBytes.baseline, server.logBytes.attack, server.logBytes.shutdown],
    ['audit events written (cumulative)', server.audit.baseline?.rows ?? '?', server.audit.attack?.rows ?? '?', server.audit.shutdown?.rows ?? '?'],
    ['audit bytes written (cumulative)', server.audit.baseline?.bytes ?? '?', server.audit.attack?.bytes ?? '?', server.audit.shutdown?.bytes ?? '?'],
  ]));
  lines.push(`peak RSS: ${mib(server.peakRssAttackBytes)} MiB up to the end of the attack, ${mib(server.peakRssBytes)} MiB including shutdown`);
  lines.push(`died during the run: ${server.died ? `YES (${JSON.stringify(server.exit)})` : 'no'}; `
    + `shutdown after SIGTERM: ${server.shutdown.clean ? 'clean' : 'did not exit, SIGKILL'} in ${server.shutdown.ms} ms; 5xx answers: ${results.fiveHundreds}`);
  const gauges = (values: Record<string, number> | undefined) => (values ? formatOutcomes(values).replaceAll('×', '=') : 'no answer');
  lines.push(`/metrics at the end of the attack: ${gauges(server.gauges.underAttack)}`);
  lines.push(`/metrics 2 s after it: ${gauges(server.gauges.afterAttack)}`);
  lines.push(`harness (this process) peak RSS: ${mib(results.harnessPeakRssBytes)} MiB`);
  if (server.logTail) lines.push('', 'last lines of the server log:', server.logTail);
  lines.push('', 'goals');
  for (const goal of results.goals) lines.push(`  ${goal.met ? 'MET   ' : 'MISSED'} ${goal.name}: ${goal.detail}`);
  return lines.join('\n');
}

function table(header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows.map((row) => row.map(String))];
  const widths = header.map((_, i) => Math.max(...cells.map((row) => (row[i] ?? '').length)));
  return cells.map((row, r) => {
    const line = row.map((cell, i) => cell.padEnd(widths[i]!)).join('  ');
    return r === 0 ? `${line}\n${widths.map((w) => '-'.repeat(w)).join('  ')}` : line;
  }).join('\n');
}

function formatOutcomes(outcomes: Record<string, number>): string {
  return Object.entries(outcomes).sort(([a], [b]) => a.localeCompare(b)).map(([outcome, n]) => `${outcome}×${n}`).join(' ');
}

const mib = (bytes: number) => Math.round(bytes / 1024 / 1024);

function sizeOf(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const root = mkdtempSync(path.join(os.tmpdir(), 'duckgate-soak-'));
  const dataDir = path.join(root, 'data');
  const logFile = path.join(root, 'server.log');
  let server: Server | undefined;
  let reader: Reader | undefined;
  try {
    progress(`seeding ${options.rows} rows into ${dataDir}`);
    await withChild({ role: 'seed', dataDir, rows: options.rows }, async (child) => child.detail);
    const cpus = placement(options.pin);
    server = await Server.start(dataDir, logFile, options.serverEnv, cpus?.server);
    if (cpus !== undefined) {
      pinProcess(process.pid, cpus.attacker);
      progress(`CPUs: server and well-behaved reader on ${cpus.server}, the attacking harness on ${cpus.attacker} (--pin off to let the OS place them)`);
    }
    server.watch();
    progress(`server at ${server.url} (pid ${server.proc.pid}), logging to ${logFile}`);
    const readerKey = await createKey(server.url, { label: 'soak-reader', collection_permissions: { bench_items: ['read'] } });
    const attackerKey = await createKey(server.url, { label: 'soak-attacker', collection_permissions: { bench_items: ['read'] } });
    const writerKey = await createKey(server.url, { label: 'soak-writer', collection_permissions: { soak_wide: ['read', 'write'] } });

    // After the key creations' own audit events are written (the trail writes every 200 ms).
    await sleep(1000);
    const start = { log: server.logBytes(), auditId: server.audit()?.lastId ?? 0 };
    progress(`baseline: ${options.readers} well-behaved readers alone for ${options.baseline} s`);
    reader = await Reader.start(server.url, readerKey, options, cpus?.server);
    await hold(server, options.baseline);
    const afterBaseline = { log: server.logBytes() - start.log, audit: server.audit(start.auditId) };

    progress(`attack: ${options.lanes.join(', ')} for ${options.attack} s, the readers going on`);
    reader.phase('attack');
    const attacks = startAttacks({
      url: server.url,
      keys: { reader: attackerKey, writer: writerKey },
      lanes: options.lanes,
      concurrency: {},
      slowConnections: options.slowConnections,
      timeoutMs: options.timeoutMs,
    });
    const survived = await hold(server, options.attack);
    if (!survived) progress(`the server died during the attack: ${JSON.stringify(server.exit)}`);
    const gaugesUnderAttack = survived ? await serverGauges(server.url) : undefined;
    progress('stopping the attack');
    const attackFigures = await attacks.stop();
    const readerFigures = await reader.stop();
    reader = undefined;
    // Once the attackers are gone, their slots and connections must come back.
    await hold(server, 2);
    const gaugesAfterAttack = server.alive ? await serverGauges(server.url) : undefined;
    const afterAttack = { log: server.logBytes() - start.log, audit: server.audit(start.auditId) };
    const peakRssAttackBytes = server.peakRss();
    const died = !server.alive;
    const exit = server.exit;

    progress('stopping the server (it writes the summaries still open)');
    const shutdown = await server.stop();
    const afterShutdown = { log: server.logBytes() - start.log, audit: server.audit(start.auditId) };
    const partial: Omit<Results, 'goals'> = {
      when: new Date().toISOString(),
      machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model ?? '?', totalMemoryGiB: Math.round(os.totalmem() / GIB), loadAverage1mAtEnd: Math.round((os.loadavg()[0] ?? 0) * 100) / 100 },
      settings: { baselineSeconds: options.baseline, attackSeconds: options.attack, lanes: options.lanes, slowConnections: options.slowConnections, readers: options.readers, rows: options.rows, timeoutMs: options.timeoutMs, serverEnv: options.serverEnv, cpus: cpus ?? 'os' },
      reader: readerFigures,
      attacks: attackFigures,
      server: {
        died,
        ...(exit ? { exit } : {}),
        peakRssBytes: server.peakRss(),
        peakRssAttackBytes,
        shutdown,
        gauges: { ...(gaugesUnderAttack ? { underAttack: gaugesUnderAttack } : {}), ...(gaugesAfterAttack ? { afterAttack: gaugesAfterAttack } : {}) },
        logBytes: { baseline: afterBaseline.log, attack: afterAttack.log, shutdown: afterShutdown.log },
        audit: Object.fromEntries(
          ([['baseline', afterBaseline.audit], ['attack', afterAttack.audit], ['shutdown', afterShutdown.audit]] as const)
            .filter(([, figures]) => figures !== undefined)
            .map(([phase, figures]) => [phase, { rows: figures!.rows, bytes: figures!.bytes }]),
        ),
        ...(died || !shutdown.clean ? { logTail: tail(logFile, 20) } : {}),
      },
      fiveHundreds: fiveHundredsOf(readerFigures, attackFigures),
      harnessPeakRssBytes: process.resourceUsage().maxRSS * 1024,
    };
    const results: Results = { ...partial, goals: goals(partial) };
    console.log(render(results));
    mkdirSync(path.dirname(options.results), { recursive: true });
    writeFileSync(options.results, `${JSON.stringify(results, null, 2)}\n`);
    console.log(`\nresults written to ${path.relative(process.cwd(), options.results)}`);
  } finally {
    reader?.kill();
    await server?.stop(5000).catch(() => undefined);
    killAll();
    if (options.keep) progress(`kept ${root}`);
    else rmSync(root, { recursive: true, force: true });
  }
}

/** The last `count` lines of a file, reading no more than its last 64 KB (the log may be large). */
function tail(file: string, count: number): string {
  const size = sizeOf(file);
  const length = Math.min(size, 65_536);
  const buffer = Buffer.alloc(length);
  const fd = openSync(file, 'r');
  try {
    readSync(fd, buffer, 0, length, size - length);
  } finally {
    closeSync(fd);
  }
  return buffer.toString('utf8').split('\n').slice(-count - 1).join('\n').trim();
}

main().catch((error: unknown) => {
  console.error(`\nSOAK HARNESS FAILED\n${error instanceof Error ? error.stack ?? error.message : String(error)}`);
  process.exitCode = 1;
});
