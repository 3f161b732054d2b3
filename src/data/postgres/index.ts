import type { DataEngine } from '../engine.js';
import { PostgresEngine, type PostgresEngineOptions } from './engine.js';

export type { PostgresEngineOptions } from './engine.js';

/** The shared data plane: duckgate's databases as schemas of the PostgreSQL database DATA_URL names. */
export function openPostgresEngine(options: PostgresEngineOptions): Promise<DataEngine> {
  return PostgresEngine.open(options);
}
