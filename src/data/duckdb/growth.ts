/**
 * Schema growth budgets (issue 10 item 4). Each new field of a write is an `ALTER TABLE` run under
 * the writer lock, and each costs more the wider the table (64 of them on a 500-column table with
 * 10,000 rows: ~150 ms); thousands stalled every other write for a minute and ran DuckDB out of
 * memory. So a write may add few fields and a collection may only grow so wide, and a refused
 * write is refused before it takes the writer lock, on the schema as cached.
 */
import { errors } from '../../errors.js';
import type { DataLimits } from '../limits.js';
import type { DatabaseContext } from './context.js';
import type { Field } from './fields.js';
import type { TableSchema } from './schema.js';

export type GrowthLimits = Pick<DataLimits, 'maxNewFieldsPerWrite' | 'maxColumnsPerCollection'>;

/** 400 `too_many_fields` when adding `added` fields to `existing` breaks either cap. */
export function assertGrowth(collection: string, existing: TableSchema | undefined, added: number, limits: GrowthLimits): void {
  if (added === 0) return;
  if (added > limits.maxNewFieldsPerWrite) {
    throw errors.tooManyFields(`This write adds ${added} new fields to '${collection}'; at most ${limits.maxNewFieldsPerWrite} may be added at once (MAX_NEW_FIELDS_PER_WRITE)`);
  }
  // `id` is a column too, also in a collection this write creates.
  const columns = (existing?.columns.size ?? 1) + added;
  if (columns > limits.maxColumnsPerCollection) {
    throw errors.tooManyFields(`Collection '${collection}' would have ${columns} columns; the limit is ${limits.maxColumnsPerCollection} (MAX_COLUMNS_PER_COLLECTION)`);
  }
}

/** Distinct fields of `records` that `existing` has no column for. */
export function newFieldCount(existing: TableSchema | undefined, records: readonly { fields: readonly Field[] }[]): number {
  const seen = new Set<string>();
  for (const { fields } of records) {
    for (const field of fields) {
      if (!existing?.columns.has(field.key)) seen.add(field.key);
    }
  }
  return seen.size;
}

/**
 * The growth check before the writer lock. The cached schema answers when it is fresh, or when
 * even its stale copy knows every field (nothing can be new then); otherwise it is reloaded
 * through a read connection. The writer re-checks its own plan under the lock before any DDL, so
 * what reaches DuckDB is always within the caps; this early check keeps refused writes out of
 * the writer's queue.
 */
export async function precheckGrowth(
  ctx: DatabaseContext,
  collection: string,
  records: readonly { fields: readonly Field[] }[],
  deadline: number | undefined,
): Promise<void> {
  const cached = ctx.schemas.cached(collection);
  let existing = cached?.table;
  if (cached === undefined || !cached.fresh) {
    if (cached !== undefined && newFieldCount(existing, records) === 0) return;
    existing = await ctx.readers.use((connection) => ctx.schemas.find(connection, collection), deadline);
  }
  assertGrowth(collection, existing, newFieldCount(existing, records), ctx.limits);
}
