/**
 * `node --import tsx bench/hot-profile.ts [--cache 64mb|0] [--seconds 10] [--out file]`: the
 * repeated authenticated point read (100 hot ids, environment key, 16 connections) against one
 * server process (`hot-server.ts`), with its JS thread's V8 profile over the measured window:
 * req/s, server CPU µs per request, and where the time went (`profile-summary.ts`). `--no-profile`
 * measures without the profiler (it costs CPU of its own). The CPU profiles in bench/README.md
 * ("The record cache and the leaner stack") come from this.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { BENCH_ADMIN_KEY, COLLECTION } from './protocol.js';
import { idOf } from './seed.js';

const { values } = parseArgs({
  options: {
    cache: { type: 'string', default: '64mb' },
    seconds: { type: 'string', default: '10' },
    out: { type: 'string', default: 'hot.cpuprofile' },
    'no-profile': { type: 'boolean', default: false },
  },
});
const server = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./hot-server.ts', import.meta.url))], {
  env: { ...process.env, RECORD_CACHE_BYTES: values.cache, OUT: values.out, PROFILE: values['no-profile'] ? '0' : '1', UV_THREADPOOL_SIZE: '8' },
  stdio: ['ignore', 'pipe', 'inherit'],
});
let output = '';
server.stdout.on('data', (chunk: Buffer) => { output += String(chunk); });
while (!/ready (\S+)/.test(output)) await once(server.stdout, 'data');
const url = /ready (\S+)/.exec(output)![1]!;
const load = (seconds: number) => autocannon({
  url, connections: 16, pipelining: 1, duration: seconds,
  requests: [{ method: 'GET', headers: { 'x-api-key': BENCH_ADMIN_KEY }, setupRequest: (r) => ({ ...r, path: `/api/find/${COLLECTION}/${idOf(Math.floor(Math.random() * 100))}` }) }],
});
await load(3);
const loadBefore = os.loadavg()[0]!;
server.kill('SIGUSR2');
const result = await load(Number(values.seconds));
server.kill('SIGINT');
await once(server, 'exit');
const cpu = Number(/cpu (\d+)/.exec(output)?.[1]);
if (result.non2xx > 0 || result.errors > 0) throw new Error(`${result.non2xx} non-2xx, ${result.errors} errors`);
console.log(`RECORD_CACHE_BYTES=${values.cache}: ${result.requests.total} requests in ${result.duration} s, `
  + `${(result.requests.total / result.duration).toFixed(0)} req/s, server CPU ${(cpu / result.requests.total).toFixed(1)} µs/request`
  + `${values['no-profile'] ? '' : ` (profiler on), profile in ${values.out}`}; load average ${loadBefore.toFixed(1)} → ${os.loadavg()[0]!.toFixed(1)}`);
