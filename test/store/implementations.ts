/**
 * The control-plane store implementations every store contract suite runs against: SQLite in a
 * temp directory, and PostgreSQL in a schema of its own (skipped with a reason when unreachable).
 * A suite asks for a fresh, empty store location and opens it as often as it wants: each open is
 * another process's view of the same store (SQLite: another connection to the file; PostgreSQL:
 * another pool on the schema).
 */
import { rmSync } from 'node:fs';
import { after } from 'node:test';
import { openControlStore, type ControlStore } from '../../src/store/index.js';
import { createTestSchema, postgresUnavailable } from '../helpers/postgres.js';
import { tempDir } from '../helpers/server.js';

export interface StoreLocation {
  /** What `openControlStore` (and the CLI, and a worker process) is given. */
  config: { dataDir: string; storeUrl?: string };
  open(): Promise<ControlStore>;
}

export interface StoreImplementation {
  name: 'sqlite' | 'postgres';
  /** A skip reason for node:test, or false. */
  skip: string | false;
  fresh(): Promise<StoreLocation>;
}

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup().catch(() => {});
});

function location(config: StoreLocation['config']): StoreLocation {
  return {
    config,
    open: async () => {
      const store = await openControlStore(config);
      cleanups.unshift(() => store.close());
      return store;
    },
  };
}

export async function storeImplementations(): Promise<StoreImplementation[]> {
  const postgresSkip = await postgresUnavailable();
  return [
    {
      name: 'sqlite',
      skip: false,
      fresh: async () => {
        const dataDir = tempDir('duckgate-store-');
        cleanups.push(async () => rmSync(dataDir, { recursive: true, force: true }));
        return location({ dataDir });
      },
    },
    {
      name: 'postgres',
      skip: postgresSkip,
      fresh: async () => {
        const schema = await createTestSchema();
        const dataDir = tempDir('duckgate-store-');
        // Dropped after every store on it closed (cleanups run in order: stores were put first).
        cleanups.push(async () => {
          await schema.drop();
          rmSync(dataDir, { recursive: true, force: true });
        });
        return location({ dataDir, storeUrl: schema.url });
      },
    },
  ];
}
