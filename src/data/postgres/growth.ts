import { assertGrowth, newFieldCount } from '../duckdb/growth.js';
import type { Field } from '../duckdb/fields.js';
import type { PgContext } from './context.js';

/**
 * The growth caps checked on the schema as cached (loaded when nothing is), before any lock: a
 * write that would break them is refused without queueing behind other writers. The write checks
 * again under the table's lock on the columns as they are then (`growUnderLock`).
 */
export async function precheck(ctx: PgContext, collection: string, records: readonly { fields: readonly Field[] }[], deadline: number | undefined): Promise<void> {
  const existing = ctx.schemas.cached(collection) ?? (await ctx.sessions.use((client) => ctx.schemas.find(client, collection), deadline));
  assertGrowth(collection, existing, newFieldCount(existing, records), ctx.limits);
}
