import type { DataEngine, EngineOptions } from '../engine.js';
import { DuckDBEngine } from './engine.js';

/** The embedded data plane: one DuckDB file per database under `options.dataDir`. */
export function openDuckDBEngine(options: EngineOptions): Promise<DataEngine> {
  return DuckDBEngine.open(options);
}
