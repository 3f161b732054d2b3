#!/usr/bin/env node
// The duckgate launcher (`npx duckgate`, `npm start`). DuckDB runs every query on libuv's thread
// pool, whose size is fixed the first time the pool is used and defaults to 4: too few to keep
// 2 cores busy with point reads while the event loop serves HTTP (measured: 1.5k vs 1.95k req/s).
// This file is CommonJS so that nothing touches the pool before the size is set; the server opens
// one DuckDB read connection per pool thread. An explicit UV_THREADPOOL_SIZE wins.
process.env.UV_THREADPOOL_SIZE ??= '8';
import('../dist/cli/main.js').catch((error) => {
  process.stderr.write(`duckgate: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
