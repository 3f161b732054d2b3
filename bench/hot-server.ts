/**
 * The server `hot-profile.ts` and `hot-instructions.ts` measure (its own process): duckgate as
 * `npm start` wires it, on a fresh DATA_DIR holding 100 records of the bench's shape. SIGUSR2
 * starts the window (CPU reading, and the V8 profiler unless PROFILE=0); SIGINT ends it, writes the
 * profile to $OUT and prints the window's CPU µs, then exits. RECORD_CACHE_BYTES passes through
 * (`0`: today's path, no cache). MODE=bypass wires the bench's resolver that admits everyone (row
 * 6b); MODE=hello serves bare Fastify's hello-world instead (row 1).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Fastify from 'fastify';
import { BENCH_ADMIN_KEY, COLLECTION } from './protocol.js';
import { listen } from './running.js';
import { expectedRecord } from './seed.js';

export const HOT_SERVER_RECORDS = 100;

const mode = process.env.MODE ?? 'auth';
const dir = mkdtempSync(path.join(tmpdir(), 'duckgate-hot-'));
let url: string;
let close: () => Promise<void>;
if (mode === 'hello') {
  // As row 1 of `run.ts`: Fastify defaults, no logger.
  const fastify = Fastify();
  fastify.get('/', async () => ({ hello: 'world' }));
  url = `${await listen(fastify)}`;
  close = () => fastify.close();
} else {
  // Imported here, so the hello-world process loads none of duckgate (as row 1's child).
  const { loadConfig } = await import('../src/config/index.js');
  const { startServer } = await import('../src/server.js');
  const { BYPASS } = await import('./engine-roles.js');
  const config = loadConfig({
    DATA_DIR: dir, ADMIN_API_KEY: BENCH_ADMIN_KEY, LOG_LEVEL: 'silent', PORT: '0',
    RECORD_CACHE_BYTES: process.env.RECORD_CACHE_BYTES, UV_THREADPOOL_SIZE: process.env.UV_THREADPOOL_SIZE,
  });
  const server = await startServer(config, { announce: () => {}, ...(mode === 'bypass' ? { resolver: BYPASS } : {}) });
  const db = server.engine.database('default');
  for (let i = 0; i < HOT_SERVER_RECORDS; i++) await db.insert(COLLECTION, expectedRecord(i));
  url = server.url;
  close = () => server.close();
}
const profiling = process.env.PROFILE !== '0';
const session = new Session();
session.connect();
if (profiling) await session.post('Profiler.enable');
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
    await close();
    rmSync(dir, { recursive: true, force: true });
    process.exit(0);
  })();
});
process.stdout.write(`ready ${url}\n`);
