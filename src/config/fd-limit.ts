/**
 * The process's open-file limit (`ulimit -n`, after Node raised its soft limit to the hard one at
 * start), which every connection, DuckDB file and SQLite file counts against. Read from
 * `/proc/self/limits` where there is one (Linux); undefined elsewhere.
 */
import { readFileSync } from 'node:fs';

export function openFileLimit(): number | undefined {
  let text: string;
  try {
    text = readFileSync('/proc/self/limits', 'utf8');
  } catch {
    return undefined;
  }
  const match = /^Max open files\s+(\d+|unlimited)\s/m.exec(text);
  if (!match || match[1] === 'unlimited') return undefined;
  return Number(match[1]);
}

/** Files kept free for DuckDB (database, WAL, spill files per database), SQLite (file, WAL, shm per connection), logs. */
export const FILES_RESERVED = 256;

/** Never more by default: past this, one process serves connections poorly anyway (2-CPU machine). */
const DEFAULT_CAP = 10_000;

/**
 * MAX_CONNECTIONS when unset: 10,000, but never so close to the open-file limit that the server
 * could not open a database file; with a small limit, half of it.
 */
export function defaultMaxConnections(limit: number | undefined): number {
  if (limit === undefined) return DEFAULT_CAP;
  return Math.max(1, Math.min(DEFAULT_CAP, Math.max(limit - 4 * FILES_RESERVED, Math.floor(limit / 2))));
}
