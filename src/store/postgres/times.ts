/**
 * `timestamptz` values come back from node-postgres as Dates; the stores answer ISO strings in
 * `toISOString()` form, exactly what the SQLite store answers for the same input (the input is
 * always that form, and microsecond columns hold its milliseconds exactly).
 */
export function isoTime(value: Date): string {
  return value.toISOString();
}

export function isoOrNull(value: Date | null): string | null {
  return value === null ? null : value.toISOString();
}
