/**
 * The parent's side of the key store work, each part in a `keys` child (no HTTP, no DuckDB):
 * seeding the control stores before any server starts, and the lookup micro-benchmark.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { CONTROL_STORE_FILE } from '../src/store/index.js';
import { progress, withChild } from './children.js';
import type { KeyLookupFigures, KeySeedFigures, LookupStore } from './protocol.js';
import type { ManagedCredential } from './routes.js';

/** The small store the big one is compared with. */
export const SMALL_STORE_KEYS = 1_000;
/** Real keys kept per store for `ManagedKeys.verify` (half first use with the write, half without). */
const MAX_SAMPLE_KEYS = 2_000;

export interface SeededKeys {
  /** The seeded DATA_DIR's store first, then the small reference store. */
  seeding: KeySeedFigures[];
  lookupStores: LookupStore[];
  reader: ManagedCredential;
}

const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(0)} MB`;

/**
 * Fills `dataDir`'s control store with `keys` keys (the bench's reader key among them) and a
 * `SMALL_STORE_KEYS` store under `root` for comparison. Must run before the directory is copied.
 */
export async function seedKeys(dataDir: string, root: string, keys: number): Promise<SeededKeys> {
  const smallDir = path.join(root, `keys-${SMALL_STORE_KEYS}`);
  mkdirSync(smallDir, { recursive: true });
  const specs = [
    { file: path.join(dataDir, CONTROL_STORE_FILE), keys, sampleKeysFile: path.join(root, `sample-keys-${keys}.json`) },
    { file: path.join(smallDir, CONTROL_STORE_FILE), keys: SMALL_STORE_KEYS, sampleKeysFile: path.join(root, `sample-keys-${SMALL_STORE_KEYS}.json`) },
  ];
  return withChild({ role: 'keys' }, async (child) => {
    const seeding: KeySeedFigures[] = [];
    let reader: ManagedCredential | undefined;
    for (const spec of specs) {
      const sampleKeys = Math.min(MAX_SAMPLE_KEYS, Math.floor(spec.keys / 2));
      const reply = await child.request({ type: 'seed-keys', ...spec, sampleKeys }, 'keys-seeded');
      const f = reply.figures;
      progress(`   ${f.keys} keys in ${(f.totalMs / 1000).toFixed(1)} s (generate ${(f.generateMs / 1000).toFixed(1)} s, `
        + `insert + checkpoint ${(f.insertMs / 1000).toFixed(1)} s), ${mb(f.fileBytes)}: ${path.basename(path.dirname(f.file))}/${CONTROL_STORE_FILE}`);
      seeding.push(f);
      reader ??= { key: reply.readerKey, keyId: reply.readerKeyId };
    }
    return { seeding, lookupStores: specs.map(({ file, sampleKeysFile }) => ({ file, sampleKeysFile })), reader: reader! };
  });
}

/** The micro-benchmark, in a fresh child: no seeding garbage in its heap. Small store first in the figures. */
export async function measureLookups(stores: LookupStore[], lookups: number): Promise<KeyLookupFigures> {
  const ordered = [...stores].reverse();
  return withChild({ role: 'keys' }, async (child) => (await child.request({ type: 'key-lookup', stores: ordered, lookups }, 'key-lookup')).figures);
}
