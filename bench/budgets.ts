/**
 * The resource budgets of issue 10 under attack, one attack per fresh server (the real CLI, as
 * `npm start` runs it, in a child process): what each attack gets back, how long it takes, the
 * worst `/health` latency seen while it runs (a 50 ms probe loop), and the server's peak RSS
 * (`VmHWM`). Attacks come from a scoped read/write key made through `POST /api/auth/register`,
 * and from the admin key where noted.
 *
 *   node --import tsx bench/budgets.ts                 # every scenario, QUERY_TIMEOUT_MS=5000
 *   node --import tsx bench/budgets.ts huge in20k      # some of them
 *   node --import tsx bench/budgets.ts --costs         # the costs behind the defaults (in process)
 *
 * Prints a table and writes `bench/results/budgets.json` (`budget-costs.json` for --costs). Linux
 * only (reads /proc).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ADMIN = 'bench-budgets-admin-key-0123456789';
const TIMEOUT_MS = 5000;

interface Server {
  child: ChildProcess;
  url: string;
  dir: string;
}

async function startServer(): Promise<Server> {
  const dir = mkdtempSync(path.join(tmpdir(), 'duckgate-budgets-'));
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/cli/main.ts'), 'serve'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', UV_THREADPOOL_SIZE: '8', PORT: '0', DATA_DIR: dir, ADMIN_API_KEY: ADMIN, LOG_LEVEL: 'warn', QUERY_TIMEOUT_MS: String(TIMEOUT_MS) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      const match = /listening on (http:\/\/\S+)/.exec(output);
      if (match) resolve(match[1]!);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`server exited with ${code}:\n${output}`)));
  });
  return { child, url, dir };
}

async function stopServer(server: Server): Promise<void> {
  if (server.child.exitCode === null && server.child.signalCode === null) {
    const exited = once(server.child, 'exit');
    server.child.kill('SIGTERM');
    await exited;
  }
  rmSync(server.dir, { recursive: true, force: true });
}

function memory(pid: number): { rssMb: number; peakMb: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
    return { rssMb: Math.round(kb('VmRSS') / 1024), peakMb: Math.round(kb('VmHWM') / 1024) };
  } catch {
    return undefined;
  }
}

interface Answer {
  status: number | string;
  ms: number;
  code?: string;
  truncated?: string;
  bytes?: number;
}

async function call(server: Server, method: string, url: string, body: unknown, key: string): Promise<Answer> {
  const started = performance.now();
  try {
    const res = await fetch(server.url + url, {
      method,
      headers: { 'x-api-key': key, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(180_000),
    });
    const text = await res.text();
    let code: string | undefined;
    try {
      code = (JSON.parse(text) as { code?: string }).code;
    } catch {
      code = undefined;
    }
    return { status: res.status, ms: Math.round(performance.now() - started), code, truncated: res.headers.get('duckgate-truncated') ?? undefined, bytes: text.length };
  } catch (error) {
    return { status: `error: ${(error as Error).message}`, ms: Math.round(performance.now() - started) };
  }
}

const join = (n: number) => `SELECT count(*) FROM ${Array.from({ length: n }, (_, i) => `range(2) t${i}`).join(', ')}`;
const sql = (text: string) => ({ sql: text });

type Scenario = (server: Server, scoped: string) => Promise<Answer>;

const SCENARIOS: Record<string, [string, Scenario]> = {
  range30m: ['scoped: SELECT * FROM range(30000000)', (s, k) => call(s, 'POST', '/api/query', sql('SELECT * FROM range(30000000)'), k)],
  range30mAdmin: ['admin: SELECT * FROM range(30000000)', (s) => call(s, 'POST', '/api/query', sql('SELECT * FROM range(30000000)'), ADMIN)],
  cross: ['scoped: SELECT * FROM range(3000000) a, range(10) b', (s, k) => call(s, 'POST', '/api/query', sql('SELECT * FROM range(3000000) a, range(10) b'), k)],
  huge: ["scoped: SELECT repeat('x', 100000000)", (s, k) => call(s, 'POST', '/api/query', sql("SELECT repeat('x', 100000000) AS s"), k)],
  hugeAdmin: ["admin: SELECT repeat('x', 100000000)", (s) => call(s, 'POST', '/api/query', sql("SELECT repeat('x', 100000000) AS s"), ADMIN)],
  bytes32mb: ["scoped: 100 rows of 1 MB (byte budget)", (s, k) => call(s, 'POST', '/api/query', sql("SELECT repeat('x', 1000000) AS s FROM range(100)"), k)],
  join200: ['scoped: 200-way join of range(2)', (s, k) => call(s, 'POST', '/api/query', sql(join(200)), k)],
  join200Admin: ['admin: 200-way join of range(2)', (s) => call(s, 'POST', '/api/query', sql(join(200)), ADMIN)],
  list100kb: ['scoped: 100 KB SELECT [1,1,…]', (s, k) => call(s, 'POST', '/api/query', sql(`SELECT [${Array(50_000).fill('1').join(',')}] AS l`), k)],
  list600kb: ['scoped: 600 KB SELECT [1,1,…]', (s, k) => call(s, 'POST', '/api/query', sql(`SELECT [${Array(300_000).fill('1').join(',')}] AS l`), k)],
  in20k: ['scoped: find with a 20,000-value In', async (s, k) => {
    await call(s, 'POST', '/api/batch/insert/people', { inserts: Array.from({ length: 2000 }, (_, i) => ({ data: { id: `p${i}`, name: `n${i}` } })) }, ADMIN);
    return call(s, 'POST', '/api/find/people', { filter: { type: 'Condition', content: { field: 'name', operator: 'In', value: Array.from({ length: 20_000 }, (_, i) => `n${i}`) } } }, k);
  }],
  fields3k: ['scoped: insert with 3,000 new fields', (s, k) => call(s, 'POST', '/api/insert/wide', Object.fromEntries(Array.from({ length: 3000 }, (_, i) => [`f${i}`, i])), k)],
  adminMillion: ['admin: range(30000000) with ?max_rows=1000000', (s) => call(s, 'POST', '/api/query?max_rows=1000000&max_bytes=268435456', sql('SELECT * FROM range(30000000)'), ADMIN)],
};

async function scopedKey(server: Server): Promise<string> {
  const res = await fetch(`${server.url}/api/auth/register`, {
    method: 'POST',
    headers: { 'x-api-key': ADMIN, 'content-type': 'application/json' },
    body: JSON.stringify({ label: 'attacker', collection_permissions: { '*': ['read', 'write'] } }),
  });
  return ((await res.json()) as { key: string }).key;
}

async function measure(name: string, [label, scenario]: [string, Scenario]) {
  const server = await startServer();
  try {
    const key = await scopedKey(server);
    const pid = server.child.pid!;
    let stop = false;
    let healthMaxMs = 0;
    let peakRssMb = 0;
    const probe = (async () => {
      while (!stop) {
        const started = performance.now();
        await fetch(`${server.url}/health`, { headers: { 'x-api-key': ADMIN }, signal: AbortSignal.timeout(120_000) }).then((r) => r.text()).catch(() => undefined);
        healthMaxMs = Math.max(healthMaxMs, performance.now() - started);
        peakRssMb = Math.max(peakRssMb, memory(pid)?.rssMb ?? 0);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })();
    const answer = await scenario(server, key);
    stop = true;
    await probe;
    const alive = server.child.exitCode === null && (await fetch(`${server.url}/health`, { headers: { 'x-api-key': ADMIN } }).then((r) => r.ok).catch(() => false));
    return { name, label, ...answer, healthMaxMs: Math.round(healthMaxMs), peakRssMb: Math.max(peakRssMb, memory(pid)?.peakMb ?? 0), alive };
  } finally {
    await stopServer(server);
  }
}

/**
 * What the defaults were chosen from, measured on a bare DuckDB instance: `In` as one bound list
 * against the alternatives, the writer time of adding columns, the event-loop time of the SQL
 * guard on statements near its caps, and a scalar list builder's indifference to interrupts.
 */
async function costs(): Promise<void> {
  const { DuckDBInstance, LIST, VARCHAR } = await import('@duckdb/node-api');
  const { monitorEventLoopDelay } = await import('node:perf_hooks');
  const { guardSql, GuardCache } = await import('../src/data/sql-guard.js');
  const instance = await DuckDBInstance.create(':memory:', { threads: '1', memory_limit: '1GB' });
  const c = await instance.connect();
  const out: Record<string, number | string> = {};
  const time = async (label: string, work: () => Promise<unknown>): Promise<void> => {
    const started = performance.now();
    await work();
    out[label] = Math.round(performance.now() - started);
    process.stderr.write(`${label}: ${out[label]} ms\n`);
  };

  await c.run("CREATE TABLE people AS SELECT 'id-' || i AS id, 'n' || i AS name FROM range(200000) r(i)");
  const values = Array.from({ length: 20_000 }, (_, i) => `n${i * 7}`);
  for (const [label, where] of [['In, = ANY($list)', 'name = ANY($1)'], ['In, list_contains($list, col)', 'list_contains($1, name)']] as const) {
    const prepared = await c.prepare(`SELECT count(*) FROM people WHERE ${where}`);
    prepared.bindList(1, values, LIST(VARCHAR));
    await time(`${label}: 20,000 values over 200,000 rows`, () => prepared.run());
  }
  const ors = values.slice(0, 2000).map((_, i) => `name = $${i + 1}`).join(' OR ');
  const orStatement = await c.prepare(`SELECT count(*) FROM people WHERE ${ors}`);
  values.slice(0, 2000).forEach((v, i) => orStatement.bindVarchar(i + 1, v));
  await time('In, one OR per value: 2,000 values over 200,000 rows', () => orStatement.run());

  await c.run("CREATE TABLE wide AS SELECT 'id' || i AS id FROM range(10000) r(i)");
  let columns = 1;
  const addColumns = async (n: number) => {
    await c.run('BEGIN');
    await c.run(Array.from({ length: n }, (_, k) => `ALTER TABLE wide ADD COLUMN c${columns + k} DOUBLE`).join(';\n'));
    await c.run('COMMIT');
    columns += n;
  };
  await time('64 new columns, 10,000-row table of 1 column', () => addColumns(64));
  while (columns < 500) await addColumns(64);
  await time(`64 new columns, 10,000-row table of ${columns} columns`, () => addColumns(64));
  await time(`one insert into a table of ${columns} columns`, () => c.run("INSERT INTO wide (id, c1) VALUES ('x', 1)"));

  const run = async (sql: string, params: readonly string[]) => {
    const prepared = await c.prepare(sql);
    params.forEach((v, i) => prepared.bindVarchar(i + 1, v));
    return (await prepared.run()).getRows() as Promise<unknown[][]>;
  };
  await c.run('CREATE TABLE orders (id VARCHAR, total DOUBLE, status VARCHAR)');
  const cache = new GuardCache(() => 0);
  const limits = { maxNodes: 2000, maxDepth: 1000, maxTableRefs: 32, maxRows: 10_001 };
  await guardSql(run, 'SELECT 1', { view: () => ({}) }, cache, limits);
  for (const [label, statement] of [
    ['a 200-term sum (2,600 nodes, 800 deep; refused)', `SELECT ${Array.from({ length: 200 }, (_, i) => `total * ${i} + ${i}`).join(' + ')} FROM orders`],
    ['a 120-term sum (1,600 nodes, 480 deep)', `SELECT ${Array.from({ length: 120 }, (_, i) => `total * ${i} + ${i}`).join(' + ')} FROM orders`],
    ['an IN list of 600 strings (1,800 nodes)', `SELECT * FROM orders WHERE status IN (${Array.from({ length: 600 }, (_, i) => `'s${i}'`).join(',')})`],
    ['a 100 KB list literal (refused)', `SELECT [${Array(50_000).fill('1').join(',')}] AS l`],
  ] as const) {
    const histogram = monitorEventLoopDelay({ resolution: 1 });
    histogram.enable();
    for (let i = 0; i < 5; i++) await guardSql(run, statement, { view: () => ({}) }, cache, limits).catch(() => undefined);
    histogram.disable();
    out[`guard, longest event-loop block, ${label}`] = Math.round(histogram.max / 1e6);
    process.stderr.write(`guard ${label}: loop max ${out[`guard, longest event-loop block, ${label}`]} ms\n`);
  }

  const started = performance.now();
  setTimeout(() => c.interrupt(), 200);
  await c.run('SELECT len(range(3000000))').catch(() => undefined);
  out['SELECT len(range(3000000)), interrupted at 200 ms: answered after'] = Math.round(performance.now() - started);

  c.closeSync();
  instance.closeSync();
  console.log('| cost | ms |\n|---|---|');
  for (const [label, value] of Object.entries(out)) console.log(`| ${label} | ${value} |`);
  mkdirSync(path.join(ROOT, 'bench/results'), { recursive: true });
  writeFileSync(path.join(ROOT, 'bench/results/budget-costs.json'), `${JSON.stringify({ at: new Date().toISOString(), costs: out }, null, 2)}\n`);
}

if (process.argv.includes('--costs')) {
  await costs();
  process.exit(0);
}

const wanted = process.argv.slice(2);
const rows = [];
for (const [name, scenario] of Object.entries(SCENARIOS)) {
  if (wanted.length > 0 && !wanted.includes(name)) continue;
  process.stderr.write(`${name}…\n`);
  rows.push(await measure(name, scenario));
}
console.log(`QUERY_TIMEOUT_MS=${TIMEOUT_MS}, defaults otherwise\n`);
console.log('| attack | answer | ms | /health max ms | peak RSS MB | alive |');
console.log('|---|---|---|---|---|---|');
for (const r of rows) {
  const answer = `${r.status}${r.code ? ` ${r.code}` : ''}${r.truncated ? ` truncated: ${r.truncated}` : ''}`;
  console.log(`| ${r.label} | ${answer} | ${r.ms} | ${r.healthMaxMs} | ${r.peakRssMb} | ${r.alive ? 'yes' : 'NO'} |`);
}
mkdirSync(path.join(ROOT, 'bench/results'), { recursive: true });
writeFileSync(path.join(ROOT, 'bench/results/budgets.json'), `${JSON.stringify({ at: new Date().toISOString(), timeoutMs: TIMEOUT_MS, rows }, null, 2)}\n`);
