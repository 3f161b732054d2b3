/**
 * The benchmark data set: `rows` records in one collection, written once per run.
 *
 * The first record goes through `Database.insert`, so the engine creates the table exactly as it
 * would for a client (`id VARCHAR PRIMARY KEY` plus one column per field, its own type choices).
 * The rest is a single `INSERT … SELECT … FROM range()` cast to the column types the engine chose:
 * 100k rows in well under a second instead of minutes of single inserts, and no shape of our own.
 */
import type { Database, JsonObject } from '../src/data/engine.js';
import { COLLECTION } from './protocol.js';

/** Ids are `item-0` … `item-<rows-1>`, so any process can pick one without a lookup. */
const ID_PREFIX = 'item-';

export function idOf(index: number): string {
  return `${ID_PREFIX}${index}`;
}

export function randomId(rows: number): string {
  return idOf(Math.floor(Math.random() * rows));
}

/**
 * Each field as a JS value (for the first, engine-created record and for checks) and as the same
 * value in SQL over `i` (for the bulk insert). The two must agree; `verifySeed` checks they do.
 * `score` is never whole, so the engine cannot infer an integer type from the first record.
 */
const FIELDS: Record<string, { value: (i: number) => string | number | boolean; sql: string }> = {
  name: { value: (i) => `item ${i}`, sql: `'item ' || i` },
  category: { value: (i) => `c${i % 50}`, sql: `'c' || (i % 50)` },
  score: { value: (i) => (i % 1000) + 0.5, sql: `(i % 1000) + 0.5` },
  active: { value: (i) => i % 2 === 0, sql: `i % 2 = 0` },
};

export function expectedRecord(index: number): JsonObject {
  const record: JsonObject = { id: idOf(index) };
  for (const [field, { value }] of Object.entries(FIELDS)) record[field] = value(index);
  return record;
}

const SEED_TIMEOUT_MS = 10 * 60_000;

export async function seed(db: Database, rows: number): Promise<void> {
  if (await db.hasCollection(COLLECTION)) throw new Error(`${COLLECTION} already exists: the bench seeds a fresh directory`);
  await db.insert(COLLECTION, expectedRecord(0));

  const types = new Map((await db.schema(COLLECTION)).map((c) => [c.column_name, c.column_type]));
  const columns = Object.keys(FIELDS);
  for (const column of columns) {
    if (!types.has(column)) throw new Error(`the engine did not create column ${column} (columns: ${[...types.keys()].join(', ')})`);
  }
  const select = columns.map((c) => `CAST((${FIELDS[c]!.sql}) AS ${types.get(c)!})`).join(', ');
  await db.query(
    `INSERT INTO ${COLLECTION} (id, ${columns.join(', ')}) SELECT '${ID_PREFIX}' || i, ${select} FROM range(1, ${rows}) AS r(i)`,
    undefined,
    { timeoutMs: SEED_TIMEOUT_MS },
  );
  // Fold the WAL into the file now, so every scenario opens the same compact file instead of the
  // first one paying for WAL replay.
  await db.query('CHECKPOINT', undefined, { timeoutMs: SEED_TIMEOUT_MS });
}

/** Fails unless the collection holds `rows` records and sampled ones read back as generated. */
export async function verifySeed(db: Database, rows: number): Promise<void> {
  const count = await db.count(COLLECTION);
  if (count !== rows) throw new Error(`${COLLECTION} holds ${count} rows, expected ${rows}`);
  for (const index of [0, 1, Math.floor(rows / 2), rows - 1]) {
    const got = await db.findById(COLLECTION, idOf(index));
    const want = expectedRecord(index);
    if (JSON.stringify(sortKeys(got)) !== JSON.stringify(sortKeys(want))) {
      throw new Error(`${idOf(index)} reads back as ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`);
    }
  }
}

export function sortKeys(record: JsonObject): JsonObject {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => a.localeCompare(b)));
}
