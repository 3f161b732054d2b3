/**
 * Fills a control store (`DATA_DIR/control.sqlite`) with managed keys, fast and in the store's own
 * shape:
 *
 * 1. `new SqliteKeyStore(file)` creates the schema through its migrations, then closes.
 * 2. Sample keys (real `generateApiKey()` keys, whose full text is kept for the lookup
 *    micro-benchmark) and filler rows (random 32-byte hex hashes and prefixes: no key hashes to them)
 *    go in with one multi-row prepared INSERT of every `api_keys` column, in one transaction.
 *    The rows are inserted in hash order (and ids in id order), so both unique indexes grow by
 *    appending instead of splitting pages at random: ~2x faster. The B-tree depth, and so the
 *    lookup path, is the same either way; only page fill differs.
 * 3. The bench's reader key goes through `KeyService.create`, exactly as `POST /api/auth/register`
 *    creates one: non-admin, `{"bench_items":["read"]}`.
 */
import { randomBytes } from 'node:crypto';
import { statSync, writeFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { generateApiKey } from '../src/auth/api-key.js';
import { KeyService } from '../src/auth/key-service.js';
import { SqliteKeyStore } from '../src/store/sqlite.js';
import { COLLECTION, type KeySeedFigures, type SeedKeysRequest } from './protocol.js';

/** Grants of every seeded key: what the reader key gets, so hits parse the same JSON. */
const PERMISSIONS = { [COLLECTION]: ['read'] };
/** Rows per INSERT statement: far fewer calls across the JS/native boundary. */
const ROWS_PER_STATEMENT = 100;

interface Rows {
  ids: string[];
  hashes: string[];
  prefixes: string[];
  labels: string[];
}

export async function seedKeyStore(request: SeedKeysRequest): Promise<{ figures: KeySeedFigures; readerKey: string; readerKeyId: string }> {
  const { file, keys, sampleKeys, sampleKeysFile } = request;
  const filler = keys - 1 - sampleKeys;
  if (filler < 0) throw new Error(`${keys} keys cannot hold the reader key and ${sampleKeys} sample keys`);
  const t0 = performance.now();
  await new SqliteKeyStore(file).close();

  const samples = Array.from({ length: sampleKeys }, () => generateApiKey('live'));
  writeFileSync(sampleKeysFile, JSON.stringify(samples.map((s) => s.key)));
  const rows = generateRows(samples, filler);
  const t1 = performance.now();
  const inserted = bulkInsert(file, rows);
  const t2 = performance.now();

  const store = new SqliteKeyStore(file);
  try {
    const issued = await new KeyService(store, { environmentAdminKeys: 1 })
      .create({ label: 'bench reader', description: 'bench: the key rows 3b and 3c use', collection_permissions: PERMISSIONS }, 'bench');
    const t3 = performance.now();
    return {
      figures: {
        file, keys: inserted + 1, sampleKeys, fileBytes: statSync(file).size,
        generateMs: Math.round(t1 - t0), insertMs: Math.round(t2 - t1), totalMs: Math.round(t3 - t0),
      },
      readerKey: issued.key,
      readerKeyId: issued.stored.id,
    };
  } finally {
    await store.close();
  }
}

/** Sample and filler rows, hashes ascending, ids ascending (paired in that order; both are random). */
function generateRows(samples: { hash: string; prefix: string }[], filler: number): Rows {
  const total = samples.length + filler;
  // One big random buffer instead of a million small reads of the entropy pool.
  const hashBytes = randomBytes(32 * filler);
  const prefixOf = new Map(samples.map((s) => [s.hash, s.prefix]));
  const hashes = samples.map((s) => s.hash);
  for (let i = 0; i < filler; i++) hashes.push(hashBytes.toString('hex', 32 * i, 32 * i + 32));
  hashes.sort();
  // Ids as KeyService makes them: `key_` + 12 random bytes in base64url.
  const idBytes = randomBytes(12 * total);
  const ids = Array.from({ length: total }, (_, i) => `key_${idBytes.toString('base64url', 12 * i, 12 * i + 12)}`).sort();
  // A filler prefix looks like a real one (`dk_live_` + 8 characters); no key hashes to the row anyway.
  const prefixes = hashes.map((h) => prefixOf.get(h) ?? `dk_live_${h.slice(0, 8)}`);
  const labels = hashes.map((h) => (prefixOf.has(h) ? 'bench sample key' : 'bench filler'));
  return { ids, hashes, prefixes, labels };
}

/** Every `api_keys` column, as `SqliteKeyStore.createKey` writes them. Answers the rows inserted. */
function bulkInsert(file: string, rows: Rows): number {
  const db = new Database(file);
  try {
    // This connection only: the store's own connections keep synchronous = FULL. Nothing can be
    // lost that matters (the bench throws the directory away), and the big cache keeps index pages
    // in memory during the transaction.
    db.pragma('synchronous = OFF');
    db.pragma('cache_size = -262144');
    const createdAt = new Date().toISOString();
    const permissions = JSON.stringify(PERMISSIONS);
    const columns = `(id, prefix, key_hash, label, description, is_admin, collection_permissions, expires_at, rate_limit,
      allowed_ips, created_at, created_by, generation)`;
    const tuple = `(?, ?, ?, ?, '', 0, '${permissions}', NULL, NULL, NULL, '${createdAt}', 'bench', 1)`;
    const statement = (n: number) => db.prepare(`INSERT INTO api_keys ${columns} VALUES ${Array(n).fill(tuple).join(', ')}`);
    const full = statement(ROWS_PER_STATEMENT);
    const total = rows.hashes.length;
    db.transaction(() => {
      const args: string[] = [];
      for (let start = 0; start < total; start += ROWS_PER_STATEMENT) {
        const end = Math.min(total, start + ROWS_PER_STATEMENT);
        args.length = 0;
        for (let i = start; i < end; i++) args.push(rows.ids[i]!, rows.prefixes[i]!, rows.hashes[i]!, rows.labels[i]!);
        (end - start === ROWS_PER_STATEMENT ? full : statement(end - start)).run(args);
      }
    })();
    // Fold the WAL into the file, so every copy of the directory starts from the same compact file.
    db.pragma('wal_checkpoint(TRUNCATE)');
    return (db.prepare('SELECT count(*) AS n FROM api_keys').get() as { n: number }).n;
  } finally {
    db.close();
  }
}
