/**
 * What the PostgreSQL data plane does not do yet, refused with the reason rather than half done:
 * source sync (issue 15) stages and swaps DuckDB tables.
 */
import { errors } from '../../errors.js';
import type { SyncTarget } from '../sync/target.js';

export function notOnPostgres(what: string): Error {
  return errors.unsupportedOption(`${what} is not available with DATA_URL (PostgreSQL data plane) yet: it works on DuckDB files`);
}

const refuse = async (): Promise<never> => {
  throw notOnPostgres('Source sync');
};

/** A sync target whose every call is refused: the sync service reports the reason. */
export const unsupportedSyncTarget: SyncTarget = {
  states: refuse,
  startCopy: refuse,
  appendCopy: refuse,
  finishCopy: refuse,
  upsert: refuse,
  saveState: refuse,
  deleteKeys: refuse,
  keys: refuse,
  count: refuse,
  exists: refuse,
  scan: refuse,
  clear: refuse,
};
