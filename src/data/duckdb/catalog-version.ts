import { foldIdentifier } from '../identifiers.js';

/**
 * Counts DDL so caches can be dropped lazily. A prepared statement or a loaded schema remembers
 * the counters it was built under; a mismatch on next use means "rebuild". Lazy because a statement
 * may be executing on another connection at the moment the DDL commits, and destroying it then
 * would pull memory out from under DuckDB.
 */
export class CatalogVersion {
  /** Bumped by DDL whose target is unknown (a raw SQL statement): invalidates everything. */
  private globalCount = 0;
  /** Bumped by any DDL at all: what the whole-catalog schema cache compares against. */
  private anyCount = 0;
  private readonly perCollection = new Map<string, number>();

  changed(collection?: string): void {
    this.anyCount++;
    if (collection === undefined) {
      this.globalCount++;
      return;
    }
    const key = foldIdentifier(collection);
    this.perCollection.set(key, (this.perCollection.get(key) ?? 0) + 1);
  }

  get any(): number {
    return this.anyCount;
  }

  get global(): number {
    return this.globalCount;
  }

  of(collection: string | undefined): number {
    return collection === undefined ? 0 : (this.perCollection.get(foldIdentifier(collection)) ?? 0);
  }
}
