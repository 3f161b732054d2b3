/**
 * The server `hot-profile.ts` measures (its own process): duckgate as `npm start` wires it, on a
 * fresh DATA_DIR holding 100 records of the bench's shape. SIGUSR2 starts the window (CPU reading,
 * and the V8 profiler unless PROFILE=0); SIGINT ends it, writes the profile to $OUT and prints the
 * window's CPU µs, then exits. RECORD_CACHE_BYTES passes through (`0`: today's path, no cache).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig } from '../src/config/index.js';
import { startServer } from '../src/server.js';
import { BENCH_ADMIN_KEY, COLLECTION } from './protocol.js';
import { expectedRecord } from './seed.js';

export const HOT_SERVER_RECORDS = 100;

const dir = mkdtempSync(path.join(tmpdir(), 'duckgate-hot-'));
const config = loadConfig({
  DATA_DIR: dir, ADMIN_API_KEY: BENCH_ADMIN_KEY, LOG_LEVEL: 'silent', PORT: '0',
  RECORD_CACHE_BYTES: process.env.RECORD_CACHE_BYTES, UV_THREADPOOL_SIZE: process.env.UV_THREADPOOL_SIZE,
});
const server = await startServer(config, { announce: () => {} });
const db = server.engine.database('default');
for (let i = 0; i < HOT_SERVER_RECORDS; i++) await db.insert(COLLECTION, expectedRecord(i));
const profiling = process.env.PROFILE !== '0';
const session = new Session();
session.connect();
await session.post('Profiler.enable');
let cpu = process.cpuUsage();
process.on('SIGUSR2', () => {
  cpu = process.cpuUsage();
  if (profiling) void session.post('Profiler.start');
});
process.on('SIGINT', () => {
  void (async () => {
    const used = process.cpuUsage(cpu);
    if (profiling) writeFileSync(process.env.OUT ?? 'hot.cpuprofile', JSON.stringify((await session.post('Profiler.stop')).profile));
    process.stdout.write(`cpu ${used.user + used.system}\n`);
    await server.close();
    rmSync(dir, { recursive: true, force: true });
    process.exit(0);
  })();
});
process.stdout.write(`ready ${server.url}\n`);
