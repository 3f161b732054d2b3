/**
 * The key store lookup micro-benchmark, no HTTP: does finding a key by its hash get slower as the
 * store grows? Each store (e.g. 1,000 and 1,000,000 keys) is opened with `SqliteKeyStore`, as the
 * server opens it, and timed call by call:
 *
 * - `findKeyByHash` of hashes in the store (sampled from random rows of the whole table) and of
 *   random hashes that are not: the store itself, no cache in front;
 * - `ManagedKeys.verify` of a key's first use (checksum, SHA-256, store lookup, and the
 *   `last_used_at` write the first use of a key each minute makes, on the request's path), and the
 *   same with that write stubbed out;
 * - `ManagedKeys.verify` of cached keys: what every later request with the same key pays.
 *
 * The stores' series run interleaved in chunks, rotating which goes first, so drift on a shared
 * machine hits every series alike. Every answer is checked (a hit must find, a miss must not).
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import Database from 'better-sqlite3';
import { ManagedKeys } from '../src/auth/managed-keys.js';
import type { KeyStore } from '../src/store/key-store.js';
import { SqliteKeyStore } from '../src/store/sqlite.js';
import type { KeyLookupFigures, KeyLookupRequest, KeyStoreLookupFigures, LatencyFigures, LookupStore } from './protocol.js';
import { percentile } from './stats.js';

const LOOKUP_CHUNK = 500;
const FIRST_USE_CHUNK = 50;
/** Untimed lookups per store before timing: statement caches, JIT, the pages every probe reads. */
const WARMUP_LOOKUPS = 2_000;

/** A timed series: one call per index, each timed on its own. */
class Series {
  readonly samplesNs: number[] = [];
  cpuUs = 0;
  constructor(readonly length: number, private readonly call: (index: number) => Promise<void>) {}

  async run(from: number, to: number): Promise<void> {
    const cpu = process.cpuUsage();
    for (let i = from; i < Math.min(to, this.length); i++) {
      const t0 = process.hrtime.bigint();
      await this.call(i);
      this.samplesNs.push(Number(process.hrtime.bigint() - t0));
    }
    const used = process.cpuUsage(cpu);
    this.cpuUs += used.user + used.system;
  }

  figures(): LatencyFigures {
    const sorted = [...this.samplesNs].sort((a, b) => a - b);
    const calls = sorted.length;
    return {
      calls,
      meanUs: sorted.reduce((a, b) => a + b, 0) / calls / 1e3,
      p50Us: percentile(sorted, 0.5) / 1e3,
      p99Us: percentile(sorted, 0.99) / 1e3,
      cpuUsPerCall: this.cpuUs / calls,
    };
  }
}

/** Runs all series chunk by chunk, each chunk in a rotated order. */
async function interleave(series: Series[], chunk: number): Promise<void> {
  const longest = Math.max(...series.map((s) => s.length));
  for (let from = 0, round = 0; from < longest; from += chunk, round++) {
    for (let k = 0; k < series.length; k++) await series[(k + round) % series.length]!.run(from, from + chunk);
  }
}

/** `store` whose `touchKeys` does nothing: the first-use cost without the `last_used_at` write. */
class NoTouchStore implements KeyStore {
  constructor(private readonly inner: KeyStore) {}
  createKey: KeyStore['createKey'] = (key) => this.inner.createKey(key);
  createFirstAdminKey: KeyStore['createFirstAdminKey'] = (key) => this.inner.createFirstAdminKey(key);
  findKeyByHash: KeyStore['findKeyByHash'] = (hash) => this.inner.findKeyByHash(hash);
  getKey: KeyStore['getKey'] = (id) => this.inner.getKey(id);
  listKeys: KeyStore['listKeys'] = () => this.inner.listKeys();
  revokeKey: KeyStore['revokeKey'] = (id, options) => this.inner.revokeKey(id, options);
  replaceKeyHash: KeyStore['replaceKeyHash'] = (id, next, grace) => this.inner.replaceKeyHash(id, next, grace);
  setPermissions: KeyStore['setPermissions'] = (id, permissions) => this.inner.setPermissions(id, permissions);
  updateKey: KeyStore['updateKey'] = (id, update, options) => this.inner.updateKey(id, update, options);
  touchKeys: KeyStore['touchKeys'] = async () => {};
  countAdminKeys: KeyStore['countAdminKeys'] = () => this.inner.countAdminKeys();
  close: KeyStore['close'] = () => this.inner.close();
}

interface OpenStore {
  keys: number;
  fileBytes: number;
  store: SqliteKeyStore;
  existing: string[];
  missing: string[];
  sampleKeys: string[];
}

/** Existing hashes from random rows of the whole table, read on a connection of their own. */
function sampleHashes(file: string, count: number): { keys: number; hashes: string[] } {
  const db = new Database(file, { readonly: true });
  try {
    const keys = (db.prepare('SELECT count(*) AS n FROM api_keys').get() as { n: number }).n;
    const maxRowid = (db.prepare('SELECT max(rowid) AS m FROM api_keys').get() as { m: number }).m;
    const byRowid = db.prepare<[number], { key_hash: string }>('SELECT key_hash FROM api_keys WHERE rowid = ? AND revoked_at IS NULL');
    const hashes: string[] = [];
    while (hashes.length < count) {
      const row = byRowid.get(1 + Math.floor(Math.random() * maxRowid));
      if (row) hashes.push(row.key_hash);
    }
    return { keys, hashes };
  } finally {
    db.close();
  }
}

const randomHash = (): string => randomBytes(32).toString('hex');

function open(spec: LookupStore, lookups: number): OpenStore {
  const { keys, hashes } = sampleHashes(spec.file, lookups + WARMUP_LOOKUPS);
  return {
    keys,
    fileBytes: statSync(spec.file).size,
    store: new SqliteKeyStore(spec.file),
    existing: hashes,
    missing: Array.from({ length: lookups + WARMUP_LOOKUPS }, randomHash),
    sampleKeys: JSON.parse(readFileSync(spec.sampleKeysFile, 'utf8')) as string[],
  };
}

export async function measureKeyLookups(request: KeyLookupRequest): Promise<KeyLookupFigures> {
  const { lookups } = request;
  const stores = request.stores.map((spec) => open(spec, lookups));
  try {
    // Warm-up: the hashes after the first `lookups` are never timed.
    for (const s of stores) {
      for (let i = lookups; i < lookups + WARMUP_LOOKUPS; i++) {
        await s.store.findKeyByHash(s.existing[i]!);
        await s.store.findKeyByHash(s.missing[i]!);
      }
    }
    const hit = stores.map((s) => new Series(lookups, async (i) => {
      if (!(await s.store.findKeyByHash(s.existing[i]!))) throw new Error(`findKeyByHash missed an existing hash (${s.keys} keys)`);
    }));
    const miss = stores.map((s) => new Series(lookups, async (i) => {
      if (await s.store.findKeyByHash(s.missing[i]!)) throw new Error(`findKeyByHash found a random hash (${s.keys} keys)`);
    }));
    await interleave([...hit, ...miss], LOOKUP_CHUNK);

    // Half of each store's real keys for the first use with the write, half without.
    const verifiers = stores.map((s) => {
      const half = Math.floor(s.sampleKeys.length / 2);
      return {
        withTouch: new ManagedKeys(s.store, { cacheWithoutFeed: true }), touchKeys: s.sampleKeys.slice(0, half),
        noTouch: new ManagedKeys(new NoTouchStore(s.store), { cacheWithoutFeed: true }), noTouchKeys: s.sampleKeys.slice(half),
      };
    });
    const verifying = (managed: ManagedKeys, keys: string[], pick: (i: number) => number) => new Series(keys.length, async (i) => {
      if (!(await managed.verify(keys[pick(i)]!))) throw new Error('ManagedKeys.verify refused a real key');
    });
    const firstUse = verifiers.map((v) => verifying(v.withTouch, v.touchKeys, (i) => i));
    const firstUseNoTouch = verifiers.map((v) => verifying(v.noTouch, v.noTouchKeys, (i) => i));
    await interleave([...firstUse, ...firstUseNoTouch], FIRST_USE_CHUNK);
    // Now every key of `withTouch` is cached (and touched this minute): the steady state.
    const cached = verifiers.map((v) => {
      const picks = Array.from({ length: lookups }, () => Math.floor(Math.random() * v.touchKeys.length));
      return new Series(lookups, async (i) => {
        if (!(await v.withTouch.verify(v.touchKeys[picks[i]!]!))) throw new Error('ManagedKeys.verify refused a cached key');
      });
    });
    await interleave(cached, LOOKUP_CHUNK);
    for (const v of verifiers) {
      v.withTouch.close();
      v.noTouch.close();
    }

    const figures = stores.map((s, i): KeyStoreLookupFigures => ({
      keys: s.keys,
      fileBytes: s.fileBytes,
      hit: hit[i]!.figures(),
      miss: miss[i]!.figures(),
      verifyCached: cached[i]!.figures(),
      verifyFirstUse: firstUse[i]!.figures(),
      verifyFirstUseNoTouch: firstUseNoTouch[i]!.figures(),
    }));
    return { lookups, stores: figures };
  } finally {
    for (const s of stores) await s.store.close();
  }
}
