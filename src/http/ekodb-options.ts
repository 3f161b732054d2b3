/**
 * ekoDB's per-call options, as its official client sends them (`ekodb-client-ts/src/client.ts`):
 * `bypass_cache` and `bypass_ripple` steer ekoDB's cache and replication ("ripple"), which duckgate
 * has no equivalent of, so they are accepted and ignored; they are taken out of a record before it
 * is written, never stored as fields. `ttl` (insert) and `transaction_id` (query string) would change
 * what a write means (expiry, staging); duckgate implements neither, so they are refused with 400
 * `unsupported_option` rather than silently dropped or stored.
 */
import { errors } from '../errors.js';
import type { JsonObject } from '../data/engine.js';

const IGNORED = ['bypass_cache', 'bypass_ripple'] as const;

/** The record without ekoDB's ignored flags; 400 for `ttl` or a flag that is not a boolean. */
export function recordWithoutOptions(record: JsonObject): JsonObject {
  if (Object.hasOwn(record, 'ttl')) {
    throw errors.unsupportedOption("ttl is not supported: duckgate does not expire records (the record was not stored; send it without ttl)");
  }
  if (!IGNORED.some((flag) => Object.hasOwn(record, flag))) return record;
  const rest: JsonObject = { ...record };
  for (const flag of IGNORED) {
    if (!Object.hasOwn(rest, flag)) continue;
    if (typeof rest[flag] !== 'boolean') throw errors.badRequest('validation_failed', `body/${flag} must be boolean`);
    delete rest[flag];
  }
  return rest;
}

/** ekoDB's query-string options: `bypass_*` ignored, `transaction_id` refused. */
export function assertQueryOptions(query: unknown): void {
  if (query !== null && typeof query === 'object' && Object.hasOwn(query, 'transaction_id')) {
    throw errors.unsupportedOption('transaction_id is not supported: duckgate applies each write at once (nothing was written)');
  }
}
