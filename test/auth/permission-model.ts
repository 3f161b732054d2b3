/**
 * A reference model of collection grants (CONTRACT.md §5, issue 11), written apart from
 * `src/auth/grants.ts` and `permissions.ts` so the property tests compare two readings of the rules:
 *
 * - a grant names a collection of `default` (`users`, or `default.users`), every collection of it
 *   (`*`, `default.*`), a collection of another database (`db2.users`) or all of one (`db2.*`);
 * - the most specific grant wins: a named collection over a wildcard, and a plain name over its
 *   `default.` spelling;
 * - names compare as DuckDB binds identifiers: ASCII case folds, nothing else does (`İnvoices`,
 *   `ınvoices`, `ſecret` and `\u212Aeys` are names of their own);
 * - `id` is always readable; `exclude_fields` hides, `select_fields` keeps only what it names;
 *   `writable_fields` bounds writes (`id` always writable, `externalId` only as sync's match key);
 * - admins and full-access keys (`VALID_API_KEYS`) have every level and no field rules.
 */

export type Level = 'read' | 'write' | 'delete';

export interface ModelGrant {
  levels: ReadonlySet<Level>;
  select: readonly string[] | null;
  exclude: readonly string[] | null;
  writable: readonly string[] | null;
}

export type ModelKey =
  | { kind: 'admin' }
  | { kind: 'all' }
  | { kind: 'scoped'; grants: ReadonlyMap<string, ModelGrant> };

/** The permissions as a client sends them to `POST /api/auth/register`. */
export type GrantInput = Level[] | { read?: boolean; write?: boolean; delete?: boolean; select_fields?: string[] | null; exclude_fields?: string[] | null; writable_fields?: string[] | null };

export function lowerAscii(name: string): string {
  let out = '';
  for (const ch of name) out += ch >= 'A' && ch <= 'Z' ? String.fromCharCode(ch.charCodeAt(0) + 32) : ch;
  return out;
}

export function modelKey(permissions: Record<string, GrantInput>): ModelKey {
  const grants = new Map<string, ModelGrant>();
  for (const [name, input] of Object.entries(permissions)) {
    const grant: ModelGrant = Array.isArray(input)
      ? { levels: new Set(input), select: null, exclude: null, writable: null }
      : {
          levels: new Set((['read', 'write', 'delete'] as const).filter((level) => input[level] === true)),
          select: input.select_fields ?? null,
          exclude: input.exclude_fields ?? null,
          writable: input.writable_fields ?? null,
        };
    grants.set(name, grant);
  }
  return { kind: 'scoped', grants };
}

/** [database, collection or '*'] that a grant name stands for. */
function target(name: string): [string, string] {
  const dot = name.indexOf('.');
  return dot === -1 ? ['default', name] : [name.slice(0, dot), name.slice(dot + 1)];
}

/** The grant that applies: ranked by specificity (named 2, wildcard 1), a plain spelling half a rank up. */
export function grantOf(key: ModelKey, database: string, collection: string): ModelGrant | undefined {
  if (key.kind !== 'scoped') return undefined;
  let best: ModelGrant | undefined;
  let bestRank = 0;
  for (const [name, grant] of key.grants) {
    const [db, what] = target(name);
    if (db !== database) continue;
    const specific = what === '*' ? 1 : lowerAscii(what) === lowerAscii(collection) ? 2 : 0;
    if (specific === 0) continue;
    const rank = specific + (name.includes('.') ? 0 : 0.5);
    if (rank > bestRank) {
      best = grant;
      bestRank = rank;
    }
  }
  return best;
}

export function allows(key: ModelKey, level: Level, database: string, collection: string): boolean {
  if (key.kind !== 'scoped') return true;
  return grantOf(key, database, collection)?.levels.has(level) ?? false;
}

export function seesDatabase(key: ModelKey, database: string): boolean {
  if (key.kind !== 'scoped') return true;
  return [...key.grants.keys()].some((name) => target(name)[0] === database);
}

const named = (list: readonly string[], field: string) => list.some((item) => lowerAscii(item) === lowerAscii(field));

/** Whether `field` of `collection` can be read, with the caller's own narrowing of a find request. */
export function readable(key: ModelKey, database: string, collection: string, field: string, requested: { select?: string[]; exclude?: string[] } = {}): boolean {
  if (lowerAscii(field) === 'id') return true;
  const grant = grantOf(key, database, collection);
  if (grant?.exclude && named(grant.exclude, field)) return false;
  if (grant?.select && !named(grant.select, field)) return false;
  if (requested.exclude && named(requested.exclude, field)) return false;
  if (requested.select && !named(requested.select, field)) return false;
  return true;
}

export function writable(key: ModelKey, database: string, collection: string, field: string, syncMatchKey = false): boolean {
  const grant = grantOf(key, database, collection);
  if (!grant?.writable || lowerAscii(field) === 'id') return true;
  if (syncMatchKey && lowerAscii(field) === 'externalid') return true;
  return named(grant.writable, field);
}

/** The table a name binds to, as DuckDB binds it: exactly, else ignoring ASCII case. */
export function bindTable(tables: readonly string[], name: string): string | undefined {
  return tables.find((table) => table === name) ?? tables.find((table) => lowerAscii(table) === lowerAscii(name));
}
