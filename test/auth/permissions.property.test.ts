/**
 * Property tests of collection permissions (issue 11) against the reference model in
 * `permission-model.ts`: first the evaluator itself (`grants.ts`, `permissions.ts`), then the real
 * HTTP routes (records, find with filter and select, tables, SQL, update, delete, listings) for
 * generated keys, databases and names, non-ASCII ones included: `İnvoices` (DuckDB's `lower()`
 * makes it `invoices`), `ınvoices`, `ſecret` (upper-cases to `SECRET`) and `\u212Aeys` (Kelvin sign:
 * JavaScript lowers it to `keys`).
 *
 * Each run draws a new seed and prints it; `FC_SEED=<seed>` replays a run.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { parsePermissions } from '../../src/auth/grants.js';
import { assertWritableFields, canSeeDatabase, fieldView, hasCollectionAccess, isFieldVisible } from '../../src/auth/permissions.js';
import type { Principal } from '../../src/auth/principal.js';
import { isApiError } from '../../src/errors.js';
import { ADMIN_KEY, CLIENT_KEY, startTestServer, type TestServer } from '../helpers/server.js';
import { createKey } from '../helpers/keys.js';
import {
  allows, bindTable, lowerAscii, modelKey, readable, seesDatabase, writable, type GrantInput, type Level, type ModelKey,
} from './permission-model.js';

const SEED = process.env.FC_SEED !== undefined ? Number(process.env.FC_SEED) : Math.floor(Math.random() * 2 ** 31);
const KELVIN = '\u212A';
const LEVELS: Level[] = ['read', 'write', 'delete'];

// ---------------------------------------------------------------- what the server holds

type Row = Record<string, string | number>;
/** One row (`id: 'r1'`) per table; the values say which table a read really reached. */
const FIXTURE: Record<string, Record<string, Row>> = {
  default: {
    users: { id: 'r1', name: 'Ada', email: 'ada@example.com', salary: 100 },
    invoices: { id: 'r1', amount: 990 },
    'İnvoices': { id: 'r1', amount: 5 },
    secret: { id: 'r1', code: 'ascii secret' },
    'ſecret': { id: 'r1', code: 'long-s secret' },
    keys: { id: 'r1', key: 'ascii key', [`${KELVIN}ey`]: 'kelvin column' },
    [`${KELVIN}eys`]: { id: 'r1', note: 'kelvin table' },
    clients: { id: 'r1', name: 'Bo', ssn: '123-45-6789' },
  },
  db2: {
    users: { id: 'r1', name: 'Cy', salary: 300 },
  },
};
const DATABASES = Object.keys(FIXTURE);
const tablesOf = (database: string) => Object.keys(FIXTURE[database]!);

// ---------------------------------------------------------------- arbitraries

/** A random mix of upper and lower case, ASCII letters only (the rest stays as it is). */
const caseOf = (name: string) => fc.array(fc.boolean(), { minLength: name.length, maxLength: name.length })
  .map((upper) => [...name].map((ch, i) => (upper[i] && /[a-z]/.test(ch) ? ch.toUpperCase() : ch)).join(''));

const COLLECTIONS = ['users', 'invoices', 'secret', 'keys', 'clients', 'posts'];
const FIELDS = ['name', 'email', 'salary', 'amount', 'code', 'key', 'ssn', 'note', 'id', 'externalId'];
/** Names a client may send: every table in any case, the Unicode look-alikes, and some that do not exist. */
const NAMES = [
  ...new Set([...DATABASES.flatMap(tablesOf), 'ınvoices', 'INVOİCES', 'ſECRET', `${KELVIN}EYS`, 'clİents', 'posts', 'nope']),
];

const grantName = fc.oneof(
  fc.constantFrom('*', 'default.*', 'db2.*'),
  fc.tuple(fc.constantFrom('', 'default.', 'db2.'), fc.constantFrom(...COLLECTIONS).chain(caseOf)).map(([db, c]) => `${db}${c}`),
);
const fieldList = fc.option(fc.uniqueArray(fc.constantFrom(...FIELDS).chain(caseOf), { maxLength: 3, selector: lowerAscii }), { nil: null });
const grantInput: fc.Arbitrary<GrantInput> = fc.oneof(
  fc.subarray(LEVELS),
  fc.record({
    read: fc.boolean(), write: fc.boolean(), delete: fc.boolean(),
    select_fields: fieldList, exclude_fields: fieldList, writable_fields: fieldList,
  }).filter((g) => (g.read || g.write || g.delete)
    // A field both selected and excluded is a contradiction a key may not hold.
    && !(g.select_fields ?? []).some((f) => (g.exclude_fields ?? []).some((e) => lowerAscii(e) === lowerAscii(f)))),
);
/** Up to five grants with distinct names (two spellings of one name would be one grant). */
const permissionsArb = fc.uniqueArray(fc.tuple(grantName, grantInput), { maxLength: 5, selector: ([name]) => lowerAscii(name) })
  .map((entries) => Object.fromEntries(entries) as Record<string, GrantInput>);

type KeySpec = { kind: 'admin' } | { kind: 'all' } | { kind: 'scoped'; permissions: Record<string, GrantInput> };
const keySpec: fc.Arbitrary<KeySpec> = fc.oneof(
  { weight: 1, arbitrary: fc.constant<KeySpec>({ kind: 'admin' }) },
  { weight: 1, arbitrary: fc.constant<KeySpec>({ kind: 'all' }) },
  { weight: 8, arbitrary: permissionsArb.map((permissions): KeySpec => ({ kind: 'scoped', permissions })) },
);
const modelOf = (spec: KeySpec): ModelKey => (spec.kind === 'scoped' ? modelKey(spec.permissions) : spec);

function principalOf(spec: KeySpec): Principal {
  const base = { id: 'p', kind: 'managed-key' as const, label: 'p', authMethod: 'api-key' as const, generation: 'g' };
  if (spec.kind === 'admin') return { ...base, isAdmin: true, access: { kind: 'all' } };
  if (spec.kind === 'all') return { ...base, isAdmin: false, access: { kind: 'all' } };
  return { ...base, isAdmin: false, access: { kind: 'scoped', permissions: parsePermissions(spec.permissions) } };
}

const anyName = fc.oneof(fc.constantFrom(...NAMES), fc.constantFrom(...COLLECTIONS).chain(caseOf));
const anyField = fc.constantFrom(...FIELDS, `${KELVIN}ey`, 'ſalary', 'İd', 'ıd').chain(caseOf);

// ---------------------------------------------------------------- the evaluator against the model

describe(`permissions: the evaluator agrees with the reference model (seed ${SEED}; replay with FC_SEED=${SEED})`, () => {
  const options = { seed: SEED, numRuns: 400, endOnFailure: true };

  test('levels: most specific grant wins, names fold in ASCII only', (t) => {
    t.diagnostic(`seed ${SEED}`);
    fc.assert(fc.property(keySpec, fc.constantFrom(...LEVELS), fc.constantFrom(...DATABASES, 'other'), anyName, (spec, level, database, name) => {
      assert.equal(hasCollectionAccess(principalOf(spec), level, database, name), allows(modelOf(spec), level, database, name));
    }), options);
  });

  test('databases: a key sees exactly the databases it holds a grant in', () => {
    fc.assert(fc.property(keySpec, fc.constantFrom(...DATABASES, 'other'), (spec, database) => {
      assert.equal(canSeeDatabase(principalOf(spec), database), seesDatabase(modelOf(spec), database));
    }), options);
  });

  test('field rules: select, exclude and the caller\'s own narrowing decide what a read shows', () => {
    const requested = fc.record({ select: fc.option(fc.array(anyField, { maxLength: 3 }), { nil: undefined }), exclude: fc.option(fc.array(anyField, { maxLength: 2 }), { nil: undefined }) });
    fc.assert(fc.property(keySpec, fc.constantFrom(...DATABASES), anyName, anyField, requested, (spec, database, name, field, own) => {
      const view = fieldView(principalOf(spec), database, name, { select_fields: own.select, exclude_fields: own.exclude });
      assert.equal(isFieldVisible(view, field), readable(modelOf(spec), database, name, field, own));
    }), options);
  });

  test('writable_fields: every field of a write, externalId only as the sync match key', () => {
    fc.assert(fc.property(keySpec, fc.constantFrom(...DATABASES), anyName, fc.array(anyField, { maxLength: 4 }), fc.boolean(), (spec, database, name, fields, sync) => {
      const expected = fields.every((field) => writable(modelOf(spec), database, name, field, sync));
      let actual = true;
      try {
        assertWritableFields(principalOf(spec), database, name, fields, sync ? { matchKey: 'externalId' } : {});
      } catch (error) {
        if (!isApiError(error) || error.status !== 403) throw error;
        actual = false;
      }
      assert.equal(actual, expected, `fields ${JSON.stringify(fields)}`);
    }), options);
  });
});

// ---------------------------------------------------------------- the routes against the model

type Request =
  | { route: 'find' | 'findById' | 'tableData' | 'tableSchema' | 'tableCount' | 'sql' | 'delete'; name: string; database: string }
  | { route: 'findPost'; name: string; database: string; filterField: string; sortField?: string; select?: string[] }
  | { route: 'update'; name: string; database: string; patchField?: string }
  | { route: 'tables' | 'collections'; database: string };

const requestArb: fc.Arbitrary<Request> = fc.constantFrom(...DATABASES).chain((database) => fc.oneof(
  fc.record({ route: fc.constantFrom('find', 'findById', 'tableData', 'tableSchema', 'tableCount', 'sql', 'delete'), name: anyName, database: fc.constant(database) }),
  fc.record({
    route: fc.constant('findPost'), name: anyName, database: fc.constant(database), filterField: anyField,
    sortField: fc.option(anyField, { nil: undefined }), select: fc.option(fc.array(anyField, { maxLength: 3 }), { nil: undefined }),
  }),
  fc.record({ route: fc.constant('update'), name: anyName, database: fc.constant(database), patchField: fc.option(fc.constantFrom('name', 'salary', 'amount', 'code', 'key', 'ssn', 'note').chain(caseOf), { nil: undefined }) }),
  fc.record({ route: fc.constantFrom('tables', 'collections'), database: fc.constant(database) }),
));

interface Expected {
  status: number;
  /** For 2xx answers: what the body must be. */
  check?: (body: unknown) => void;
}

const visibleRow = (row: Row, key: ModelKey, database: string, table: string, own?: { select?: string[] }) =>
  Object.fromEntries(Object.entries(row).filter(([field]) => readable(key, database, table, field, own)));

/** What the model says a request gets. The order is the request path's: database, name shape, grant, handler. */
function expected(key: ModelKey, request: Request): Expected {
  const { database } = request;
  if (!seesDatabase(key, database)) return { status: 404 };
  const tables = tablesOf(database);
  if (!('name' in request)) {
    const levels: Level[] = request.route === 'tables' ? ['read'] : LEVELS;
    const listed = tables.filter((t) => levels.some((level) => allows(key, level, database, t))).sort();
    return { status: 200, check: (body) => {
      const names = request.route === 'tables' ? body as string[] : (body as { collections: string[] }).collections;
      assert.deepEqual([...names].sort(), listed);
    } };
  }
  const name = request.name;
  const identifierRoute = !request.route.startsWith('table') && request.route !== 'sql';
  if (identifierRoute && !/^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(name)) return { status: 400 };
  const table = bindTable(tables, name);
  const real = table ?? name;
  const row = table === undefined ? undefined : FIXTURE[database]![table]!;
  const level: Level = request.route === 'update' ? 'write' : request.route === 'delete' ? 'delete' : 'read';

  if (request.route === 'sql') {
    if (key.kind !== 'scoped') return row ? { status: 200, check: (body) => assert.deepEqual((body as { result: Row[] }).result, [row]) } : { status: 400 };
    if (!allows(key, 'read', database, real)) return { status: 403 };
    if (!row) return { status: 400 };
    return { status: 200, check: (body) => assert.deepEqual((body as { result: Row[] }).result, [visibleRow(row, key, database, real)]) };
  }
  if (!allows(key, level, database, real)) return { status: 403 };

  switch (request.route) {
    case 'find':
    case 'tableData':
      return row ? { status: 200, check: (body) => assert.deepEqual(body, [visibleRow(row, key, database, real)]) } : { status: 404 };
    case 'findById':
      return row ? { status: 200, check: (body) => assert.deepEqual(body, visibleRow(row, key, database, real)) } : { status: 404 };
    case 'tableSchema':
      return row ? { status: 200, check: (body) => assert.deepEqual(
        (body as { columns: { column_name: string }[] }).columns.map((c) => c.column_name).sort(),
        Object.keys(visibleRow(row, key, database, real)).sort(),
      ) } : { status: 404 };
    case 'tableCount':
      return row ? { status: 200, check: (body) => assert.deepEqual(body, { count: 1 }) } : { status: 404 };
    case 'delete':
      return { status: 404 };
    case 'findPost': {
      // Filters and sorts are bounded by what the grant lets the caller read (not by what it chose
      // to have returned), before anything is looked up.
      const looked = [request.filterField, ...(request.sortField === undefined ? [] : [request.sortField])];
      if (!looked.every((field) => readable(key, database, real, field))) return { status: 403 };
      if (!row) return { status: 404 };
      if (!looked.every((field) => Object.keys(row).some((c) => lowerAscii(c) === lowerAscii(field)))) return { status: 400 };
      return { status: 200, check: (body) => assert.deepEqual(body, [visibleRow(row, key, database, real, { select: request.select })]) };
    }
    case 'update': {
      if (request.patchField !== undefined && !writable(key, database, real, request.patchField)) return { status: 403 };
      if (!row) return { status: 404 };
      const column = request.patchField === undefined ? undefined : Object.keys(row).find((c) => lowerAscii(c) === lowerAscii(request.patchField!));
      if (request.patchField !== undefined && column === undefined) return { status: -1 }; // a new column: not generated against a real table
      // Without read, a write answers the id only.
      const answer = allows(key, 'read', database, real) ? visibleRow(row, key, database, real) : { id: row.id };
      return { status: 200, check: (body) => assert.deepEqual(body, answer) };
    }
  }
}

function send(server: TestServer, key: string, request: Request) {
  const db = `?db=${request.database}`;
  if (!('name' in request)) return server.request({ method: 'GET', url: `/api/${request.route}${db}`, key });
  const name = encodeURIComponent(request.name);
  switch (request.route) {
    case 'find': return server.request({ method: 'GET', url: `/api/find/${name}${db}`, key });
    case 'findById': return server.request({ method: 'GET', url: `/api/find/${name}/r1${db}`, key });
    case 'tableData': return server.request({ method: 'GET', url: `/api/tables/${name}/data${db}`, key });
    case 'tableSchema': return server.request({ method: 'GET', url: `/api/tables/${name}/schema${db}`, key });
    case 'tableCount': return server.request({ method: 'GET', url: `/api/tables/${name}/count${db}`, key });
    case 'delete': return server.request({ method: 'DELETE', url: `/api/delete/${name}/none${db}`, key });
    case 'sql': return server.request({ method: 'POST', url: `/api/query${db}`, key, payload: { sql: `SELECT * FROM "${request.name}"` } });
    case 'findPost': {
      const row = Object.entries(FIXTURE[request.database]!).find(([t]) => lowerAscii(t) === lowerAscii(request.name))?.[1];
      const column = row && Object.keys(row).find((c) => lowerAscii(c) === lowerAscii(request.filterField));
      const value = row && column ? row[column]! : 'x';
      return server.request({
        method: 'POST', url: `/api/find/${name}${db}`, key,
        payload: {
          filter: { type: 'Condition', content: { field: request.filterField, operator: 'Eq', value } },
          ...(request.sortField === undefined ? {} : { sort: [{ field: request.sortField, ascending: false }] }),
          ...(request.select ? { select_fields: request.select } : {}),
        },
      });
    }
    case 'update': {
      // Writing a field's own value back: the request is real, the data stays the fixture.
      const row = Object.entries(FIXTURE[request.database]!).find(([t]) => lowerAscii(t) === lowerAscii(request.name))?.[1];
      const column = row && request.patchField !== undefined ? Object.keys(row).find((c) => lowerAscii(c) === lowerAscii(request.patchField!)) : undefined;
      const patch = request.patchField === undefined ? {} : { [request.patchField]: column === undefined ? 'x' : row![column]! };
      return server.request({ method: 'PUT', url: `/api/update/${name}/r1${db}`, key, payload: patch });
    }
  }
}

describe(`permissions: the routes agree with the reference model (seed ${SEED}; replay with FC_SEED=${SEED})`, () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
    for (const [database, tables] of Object.entries(FIXTURE)) {
      if (database !== 'default') assert.equal((await server.request({ method: 'POST', url: '/api/databases', payload: { name: database } })).statusCode, 201);
      for (const [table, row] of Object.entries(tables)) {
        const columns = Object.entries(row).map(([c, v]) => `"${c}" ${c === 'id' ? 'VARCHAR PRIMARY KEY' : typeof v === 'number' ? 'DOUBLE' : 'VARCHAR'}`);
        for (const sql of [`CREATE TABLE "${table}" (${columns.join(', ')})`, `INSERT INTO "${table}" VALUES (${Object.keys(row).map((_, i) => `$${i + 1}`).join(', ')})`]) {
          const res = await server.request({ method: 'POST', url: `/api/query?db=${database}`, payload: { sql, ...(sql.startsWith('INSERT') ? { params: Object.values(row) } : {}) } });
          assert.equal(res.statusCode, 200, `${sql}: ${res.body}`);
        }
      }
    }
  });
  after(async () => server.stop());

  test('records, find, tables, SQL, update, delete and listings, for generated keys and names', async (t) => {
    t.diagnostic(`seed ${SEED}`);
    const statuses = new Map<number, number>();
    await fc.assert(fc.asyncProperty(keySpec, fc.array(requestArb, { minLength: 1, maxLength: 8 }), async (spec, requests) => {
      const key = spec.kind === 'admin' ? ADMIN_KEY : spec.kind === 'all' ? CLIENT_KEY : (await createKey(server, { collection_permissions: spec.permissions })).key;
      const model = modelOf(spec);
      for (const request of requests) {
        const want = expected(model, request);
        if (want.status === -1) continue;
        const res = await send(server, key, request);
        const what = `${JSON.stringify(spec)} ${JSON.stringify(request)}: ${res.statusCode} ${res.body}`;
        assert.equal(res.statusCode, want.status, what);
        if (want.check) {
          try {
            want.check(res.json());
          } catch (error) {
            throw new Error(`${what}\n${(error as Error).message}`);
          }
        }
        statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
      }
    }), { seed: SEED, numRuns: 150, endOnFailure: true });
    t.diagnostic(`statuses: ${JSON.stringify([...statuses].sort())}`);
    // Every outcome must be exercised, or the property says little.
    for (const status of [200, 400, 403, 404]) assert.ok((statuses.get(status) ?? 0) > 0, `no ${status} answered: ${JSON.stringify([...statuses])}`);
  });
});
