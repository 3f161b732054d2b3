/** The configuration a command runs with: the environment, and the flags that override it. */
import { existsSync } from 'node:fs';
import { loadConfig, type Config } from '../config/index.js';

/** `loadConfig` of the environment with `overrides` (e.g. `serve --port`) applied; throws ConfigError. */
export function commandConfig(overrides: Record<string, string | undefined> = {}): Config {
  const env = { ...process.env };
  for (const [name, value] of Object.entries(overrides)) if (value !== undefined) env[name] = value;
  return loadConfig(env);
}

/**
 * The key and admin commands work on an existing store: run from another directory, DATA_DIR's
 * default (./data) names a directory that is not there. Say which, and how to point at the right one.
 */
export function assertStoreExists(config: Config): void {
  if (config.storeUrl || existsSync(config.dataDir)) return;
  throw new Error(`no duckgate data directory at ${config.dataDir} (DATA_DIR${process.env.DATA_DIR ? '' : ' defaults to ./data of the current directory'}): run this where the server runs, or set DATA_DIR to its data directory`);
}
