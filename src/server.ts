/** Starts duckgate: configuration, data engine, app, listener, and a clean shutdown on signals. */
import { mkdirSync } from 'node:fs';
import type { Config } from './config/index.js';
import type { DataEngine } from './data/engine.js';
import { openDuckDBEngine } from './data/duckdb/index.js';
import { buildApp, type App } from './http/app.js';

export interface RunningServer {
  app: App;
  engine: DataEngine;
  url: string;
  close(): Promise<void>;
}

export async function startServer(config: Config, options: { log?: boolean } = {}): Promise<RunningServer> {
  mkdirSync(config.dataDir, { recursive: true });
  const engine = await openDuckDBEngine({
    dataDir: config.dataDir,
    memoryLimit: config.duckdbMemoryLimit,
    threads: config.duckdbThreads,
    readConnections: 4,
  });
  let app: App;
  try {
    app = await buildApp({ config, engine, log: options.log });
    await app.fastify.listen({ port: config.port, host: config.host });
  } catch (error) {
    await engine.close();
    throw error;
  }
  const address = app.fastify.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  let closing: Promise<void> | undefined;
  return {
    app,
    engine,
    url: `http://${host}:${port}`,
    close: () => (closing ??= (async () => {
      await app.fastify.close();
      await engine.close();
    })()),
  };
}
