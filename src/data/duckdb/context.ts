import type { DataLimits } from '../limits.js';
import type { CatalogVersion } from './catalog-version.js';
import type { ReadPool, Writer } from './connections.js';
import type { SchemaCache } from './schema.js';

/** Everything one database's operations share; each operation module takes it as its first argument. */
export interface DatabaseContext {
  readonly name: string;
  readonly writer: Writer;
  readonly readers: ReadPool;
  readonly schemas: SchemaCache;
  readonly version: CatalogVersion;
  readonly limits: DataLimits;
  /** Told, synchronously and before the call resolves, what a SQL statement that is not a SELECT wrote (undefined: anything). */
  readonly sqlWritten: (tables: readonly string[] | undefined) => void;
}
