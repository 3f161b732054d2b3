import { startTestServer } from './test/helpers/server.js';
import { monitorEventLoopDelay } from 'node:perf_hooks';
const server = await startTestServer();
const sql = process.argv[2]!;
for (let i = 0; i < 3; i++) {
  const h = monitorEventLoopDelay({ resolution: 1 }); h.enable();
  const t = performance.now();
  const res = await fetch(server.url + '/api/query' + (process.argv[3] ?? ''), { method: 'POST', headers: { 'x-api-key': 'test-admin-key-0123456789abcdef', 'content-type': 'application/json' }, body: JSON.stringify({ sql }) });
  const body = await res.text();
  h.disable();
  console.log(res.status, body.length, 'ms', (performance.now() - t).toFixed(0), 'loop max', (h.max / 1e6).toFixed(0));
}
await server.stop();
