/**
 * How names of tables, collections and fields compare: as DuckDB's binder compares identifiers,
 * case-insensitively in ASCII only. `"İNVOICES"` binds to a table `İnvoices`, never to `invoices`,
 * and `"\u212AEYS"` (Kelvin sign) to `\u212Aeys`, never to `keys`. Unicode folds (`toLowerCase()`,
 * DuckDB's `lower()`) disagree with the binder and with each other (`lower('İ')` is `i` in DuckDB,
 * `i̇` in JavaScript; JavaScript lowers the Kelvin sign to an ASCII `k`), so a name compared through
 * one of them can pass a grant as one table and be served as another. Grants, field rules, caches
 * and name resolution all compare through `foldIdentifier`, and nothing else.
 */

/** ASCII `A`-`Z` lowered; every other character, ASCII or not, left as it is. */
export function foldIdentifier(name: string): string {
  return /[A-Z]/.test(name) ? name.replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 32)) : name;
}

export function sameIdentifier(a: string, b: string): boolean {
  return a === b || foldIdentifier(a) === foldIdentifier(b);
}

/** Collections and fields become SQL identifiers: a conservative shape keeps quoting trivial. */
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

/** The shape of a collection or field name duckgate creates (tables made through SQL may have any name). */
export function isIdentifier(name: unknown): name is string {
  return typeof name === 'string' && IDENTIFIER.test(name);
}
