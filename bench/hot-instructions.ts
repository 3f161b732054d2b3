/**
 * `node --import tsx bench/hot-instructions.ts [--mode auth|bypass|hello] [--requests 2000] [--warmup 5000]`:
 * machine instructions per request of the repeated point read (100 hot ids, record cache on),
 * counted by valgrind's callgrind in the server process (`hot-server.ts`). Unlike req/s or CPU
 * time, an instruction count barely moves with the load other processes put on the machine, so
 * before/after comparisons of the hit path hold on a busy shared machine (two runs of the same
 * code agree within ≈ 1%). `auth` is row 6a (environment key), `bypass` row 6b, `hello` row 1;
 * bypass − hello is duckgate's own stack on a hit, in instructions.
 *
 * The server runs ≈ 50x slower under valgrind: the warm-up lets V8's optimising tiers settle before
 * counting starts (`callgrind_control -i on`), then `--requests` are sent from 4 keep-alive
 * connections and the count is dumped. Counts include every thread of the server process (GC,
 * libuv), which is what the server spends on the requests. Needs valgrind (`apt-get install valgrind`).
 */
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, readdirSync, rmSync, mkdtempSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { BENCH_ADMIN_KEY, COLLECTION } from './protocol.js';
import { idOf } from './seed.js';

const { values } = parseArgs({
  options: {
    mode: { type: 'string', default: 'auth' },
    requests: { type: 'string', default: '2000' },
    warmup: { type: 'string', default: '5000' },
    connections: { type: 'string', default: '4' },
  },
});
const mode = values.mode;
if (!['auth', 'bypass', 'hello'].includes(mode)) throw new Error('--mode is auth, bypass or hello');
const outDir = mkdtempSync(path.join(tmpdir(), 'duckgate-callgrind-'));
const server = spawn('valgrind', [
  '--tool=callgrind', '--instr-atstart=no', `--callgrind-out-file=${path.join(outDir, 'callgrind.out.%p')}`,
  process.execPath, '--import', 'tsx', fileURLToPath(new URL('./hot-server.ts', import.meta.url)),
], {
  env: { ...process.env, MODE: mode, RECORD_CACHE_BYTES: '64mb', PROFILE: '0', UV_THREADPOOL_SIZE: '8' },
  stdio: ['ignore', 'pipe', 'pipe'],
});
let output = '';
let errors = '';
server.stdout.on('data', (chunk: Buffer) => { output += String(chunk); });
server.stderr.on('data', (chunk: Buffer) => { errors += String(chunk); });
server.on('exit', (code) => { if (!/ready /.test(output)) { console.error(errors); throw new Error(`server exited (${code}) before it was ready`); } });
while (!/ready (\S+)/.test(output)) await once(server.stdout, 'data');
const url = new URL(/ready (\S+)/.exec(output)![1]!);

const agent = new http.Agent({ keepAlive: true, maxSockets: Number(values.connections) });
const headers = mode === 'hello' ? {} : { 'x-api-key': BENCH_ADMIN_KEY };
let sent = 0;
function one(): Promise<void> {
  const target = mode === 'hello' ? '/' : `/api/find/${COLLECTION}/${idOf(sent++ % 100)}`;
  return new Promise((resolve, reject) => {
    const request = http.get({ host: url.hostname, port: url.port, path: target, agent, headers }, (response) => {
      if (response.statusCode !== 200) reject(new Error(`${target}: HTTP ${response.statusCode}`));
      response.resume();
      response.on('end', resolve);
    });
    request.on('error', reject);
  });
}
async function load(count: number): Promise<void> {
  let left = count;
  const worker = async () => { while (left-- > 0) await one(); };
  await Promise.all(Array.from({ length: Number(values.connections) }, worker));
}
const control = (...args: string[]) => execFileSync('callgrind_control', [...args, String(server.pid)], { stdio: 'pipe' });

console.error(`ready after ${Math.round(performance.now())} ms`);
await load(Number(values.warmup));
console.error(`warm after ${Math.round(performance.now())} ms`);
control('-i', 'on');
const requests = Number(values.requests);
await load(requests);
control('-d');
control('-i', 'off');
agent.destroy();
server.kill('SIGINT');
await once(server, 'exit');
// The dump holds the window; the exit's final dump (instrumentation off) holds nothing more.
let total = 0;
for (const file of readdirSync(outDir)) {
  const dump = readFileSync(path.join(outDir, file), 'utf8');
  const totals = /^totals: (\d+)/m.exec(dump);
  if (/^desc: Trigger: dump/m.test(dump) && totals) total += Number(totals[1]);
}
if (process.env.KEEP) console.log(outDir); else rmSync(outDir, { recursive: true, force: true });
console.log(`${mode}: ${requests} requests, ${Math.round(total / requests).toLocaleString('en-US')} instructions per request (${total.toLocaleString('en-US')} in all)`);
