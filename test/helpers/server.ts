/** Test servers: a real app on a real DuckDB in a fresh temp directory, driven by inject or a port. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { loadConfig, type Config } from '../../src/config/index.js';
import { startServer, type RunningServer } from '../../src/server.js';

export const ADMIN_KEY = 'test-admin-key-0123456789abcdef';
export const CLIENT_KEY = 'test-client-key-0123456789abcdef';
export const DUCKLING_KEY = 'test-duckling-key-0123456789abcd';

export function tempDir(prefix = 'duckgate-test-'): string {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

export interface TestServer extends RunningServer {
  config: Config;
  dataDir: string;
  /** What the server showed once at first start (generated key or password), if anything. */
  announced: string[];
  /** `inject` with the admin key unless `headers` says otherwise. */
  request(options: InjectOptions & { key?: string | null }): Promise<LightMyRequestResponse>;
  stop(): Promise<void>;
}

export async function startTestServer(env: Record<string, string> = {}): Promise<TestServer> {
  const dataDir = tempDir();
  const config = loadConfig({
    PORT: '0',
    DATA_DIR: dataDir,
    ADMIN_API_KEY: ADMIN_KEY,
    VALID_API_KEYS: CLIENT_KEY,
    DUCKLING_API_KEY: DUCKLING_KEY,
    LOG_LEVEL: 'silent',
    ...env,
  });
  const announced: string[] = [];
  const server = await startServer(config, { log: false, announce: (text) => announced.push(text) });
  return {
    ...server,
    config,
    dataDir,
    announced,
    request: ({ key = ADMIN_KEY, headers, ...options }) =>
      server.app.fastify.inject({
        ...options,
        headers: { ...(key === null ? {} : { 'x-api-key': key }), ...headers },
      }) as Promise<LightMyRequestResponse>,
    stop: async () => {
      await server.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
