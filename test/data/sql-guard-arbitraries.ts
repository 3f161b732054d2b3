/**
 * fast-check arbitraries for the SQL guard property tests: SQL text over the fixture schema
 * (`sql-guard-fixture.ts`). The generator knows which columns each FROM item brings into scope,
 * so most queries are valid SQL that DuckDB would happily run unguarded, reading hidden columns
 * and forbidden tables through every construct the guard has to walk: subqueries, CTEs (named
 * like tables too), set operations, LATERAL, scalar subqueries, EXISTS/IN/ANY, joins, aliases,
 * case and quoting variants, star expressions, row structs, and trap functions.
 */
import fc from 'fast-check';

/** A FROM item and what it brings into scope. */
export interface Rel {
  sql: string;
  /** Column references valid in this scope (qualified and not), hidden ones included. */
  cols: string[];
  /** Aliases usable as row structs (`to_json(a)`, `a.*`). */
  aliases: string[];
}

interface Source {
  sql: string;
  cols: string[];
  /** Table functions and subqueries take their alias differently. */
  fn?: boolean;
}

const USERS = ['id', 'name', 'dept', 'salary', 'ssn', 'SSN', '"Salary"'];
const ORDERS = ['id', 'user_id', 'total'];
const NOTES = ['id', 'label', 'note', '"NOTE"'];
const SECRET = ['id', 'v', 'n', '"V"'];

export const READABLE: readonly Source[] = [
  { sql: 'users', cols: USERS },
  { sql: 'USERS', cols: USERS },
  { sql: '"Users"', cols: USERS },
  { sql: 'main.users', cols: USERS },
  { sql: '"default".main.users', cols: USERS },
  { sql: 'orders', cols: ORDERS },
  { sql: 'main."ORDERS"', cols: ORDERS },
  { sql: 'notes', cols: NOTES },
  { sql: '"NoTeS"', cols: NOTES },
];

export const FORBIDDEN: readonly Source[] = [
  { sql: 'secret', cols: SECRET },
  { sql: '"SeCrEt"', cols: SECRET },
  { sql: 'SECRET', cols: SECRET },
  { sql: 'main.secret', cols: SECRET },
  { sql: 'main."Secret"', cols: SECRET },
  { sql: '"default".main.secret', cols: SECRET },
  { sql: 'memory.main.secret', cols: SECRET },
  { sql: 'secret_view', cols: SECRET },
  { sql: 'temp.main.users', cols: USERS },
  { sql: 'information_schema.tables', cols: ['table_name'] },
  { sql: 'information_schema.columns', cols: ['column_name'] },
  { sql: 'pg_catalog.pg_tables', cols: ['tablename'] },
  { sql: 'duckdb_tables()', cols: ['table_name', 'sql'], fn: true },
  { sql: 'duckdb_columns()', cols: ['column_name'], fn: true },
  { sql: "pragma_table_info('secret')", cols: ['name'], fn: true },
  { sql: "query('select * from secret')", cols: SECRET, fn: true },
  { sql: "query_table('secret')", cols: SECRET, fn: true },
  { sql: "query_table('users')", cols: USERS, fn: true },
  { sql: "json_execute_serialized_sql(json_serialize_sql('SELECT * FROM secret'))", cols: SECRET, fn: true },
  { sql: "read_csv('/etc/passwd')", cols: ['column0'], fn: true },
  { sql: "'/etc/passwd'", cols: ['column0'] },
  { sql: "glob('*')", cols: ['file'], fn: true },
  { sql: 'leak_table()', cols: SECRET, fn: true },
  { sql: '(DESCRIBE secret)', cols: ['column_name'], fn: true },
];

const SAFE: readonly Source[] = [
  { sql: 'range(3) AS r(x)', cols: ['x', 'r.x'], fn: true },
  { sql: 'unnest([1, 2]) AS un(x)', cols: ['x', 'un.x'], fn: true },
  { sql: 'generate_series(1, 2) AS g(x)', cols: ['x', 'g.x'], fn: true },
  { sql: "(VALUES (1, 'a')) AS vals(x, y)", cols: ['x', 'y', 'vals.x'], fn: true },
];

const ALIASES = ['t', 'u', 'q', 'secret', 'users', 'c1'];
const CTE_NAMES = ['c1', 'secret', 'users', 'SECRET', 'orders', 'cte'];

export const SCALAR_TRAPS = [
  "current_setting('threads')",
  "getvariable('x')",
  "nextval('s')",
  "currval('s')",
  'leak()',
  'main.leak()',
  "json_serialize_sql('SELECT 1')",
  'pg_get_viewdef(1)',
  "get_block_size('default')",
];

export const MUTATIONS = [
  "INSERT INTO users (id) VALUES ('zz')",
  "UPDATE users SET name = 'x'",
  'DELETE FROM secret',
  'DROP TABLE secret',
  'CREATE TABLE x AS SELECT * FROM secret',
  "COPY secret TO '/tmp/duckgate-prop.csv'",
  "ATTACH ':memory:' AS m",
  'SET VARIABLE x = 1',
  'CHECKPOINT',
];

const STARS = ['*', '* EXCLUDE (id)', "COLUMNS('.*')", "COLUMNS(c -> c LIKE '%a%')", '* REPLACE (1 AS id)', 'COLUMNS(*)::VARCHAR'];

const pick = <T>(items: readonly T[]): fc.Arbitrary<T> => fc.constantFrom(...items);

/** Wraps any query into one VARCHAR column, so set operations and IN lists always line up. */
const oneColumn = (q: string): string => `SELECT to_json(sq)::VARCHAR AS c FROM (${q}) AS sq`;

function qualify(source: Source, alias: string | undefined): Rel {
  const sql = alias === undefined || source.fn ? source.sql : `${source.sql} AS ${alias}`;
  const binding = source.fn ? undefined : (alias ?? source.sql.split('.').pop()!);
  const cols = [...source.cols];
  if (binding !== undefined && alias !== undefined) cols.push(...source.cols.map((c) => `${binding}.${c}`));
  return { sql, cols, aliases: alias !== undefined && !source.fn ? [alias] : [] };
}

function columnOf(rel: Rel): fc.Arbitrary<string> {
  return rel.cols.length > 0 ? pick(rel.cols) : fc.constant('42');
}

export interface Arbs {
  query: string;
  from: Rel;
}

/** One depth budget shared by the recursive constructs keeps queries small enough to run fast. */
const depth = { depthSize: 'small', maxDepth: 3, depthIdentifier: 'sql' } as const;

export const tree = fc.letrec<Arbs>((tie) => {
  const query = tie('query') as fc.Arbitrary<string>;
  const from = tie('from') as fc.Arbitrary<Rel>;

  const expr = (rel: Rel): fc.Arbitrary<string> =>
    fc.oneof(
      { weight: 6, arbitrary: columnOf(rel) },
      { weight: 3, arbitrary: pick(STARS) },
      { weight: 2, arbitrary: rel.aliases.length > 0 ? pick(rel.aliases).map((a) => `to_json(${a}) AS j`) : fc.constant('1 AS one') },
      { weight: 1, arbitrary: rel.aliases.length > 0 ? pick(rel.aliases).map((a) => `${a}.*`) : fc.constant('*') },
      { weight: 1, arbitrary: rel.aliases.length > 0 ? pick(rel.aliases).map((a) => `${a}::VARCHAR AS s`) : fc.constant('2 AS two') },
      { weight: 1, arbitrary: fc.integer({ min: 0, max: 2 }).chain((n) => (n === 0 ? pick(SCALAR_TRAPS).map((f) => `${f} AS trap`) : columnOf(rel))) },
      { weight: 1, arbitrary: query.map((q) => `(SELECT c FROM (${oneColumn(q)}) LIMIT 1) AS sub`) },
      { weight: 1, arbitrary: fc.tuple(columnOf(rel), pick(['max', 'min', 'any_value', 'list'])).map(([c, f]) => `${f}(${c}) OVER () AS w`) },
      { weight: 1, arbitrary: columnOf(rel).map((c) => `list_transform([1], x -> ${c}) AS l`) },
    );

  const cond = (rel: Rel): fc.Arbitrary<string> =>
    fc.oneof(
      { weight: 4, arbitrary: fc.tuple(columnOf(rel), pick(['IS NOT NULL', "::VARCHAR <> 'zzz'", "::VARCHAR LIKE '%'"])).map(([c, op]) => `${c}${op.startsWith('::') ? '' : ' '}${op}`) },
      { weight: 1, arbitrary: fc.constant('true') },
      { weight: 2, arbitrary: query.map((q) => `EXISTS (${q})`) },
      { weight: 2, arbitrary: fc.tuple(columnOf(rel), query).map(([c, q]) => `${c}::VARCHAR NOT IN (${oneColumn(q)})`) },
      { weight: 1, arbitrary: fc.tuple(columnOf(rel), query).map(([c, q]) => `${c}::VARCHAR <> ALL (${oneColumn(q)})`) },
      { weight: 1, arbitrary: fc.tuple(columnOf(rel), query).map(([c, q]) => `EXISTS (SELECT 1 FROM (${oneColumn(q)}) AS e WHERE e.c <> ${c}::VARCHAR)`) },
      { weight: 1, arbitrary: fc.integer({ min: 0, max: 2 }).chain((n) => (n === 0 ? pick(SCALAR_TRAPS).map((f) => `${f} IS NOT NULL`) : fc.constant('true'))) },
    );

  const select = from.chain((rel) =>
    fc
      .tuple(
        fc.array(expr(rel), { minLength: 1, maxLength: 2 }),
        fc.option(cond(rel), { nil: undefined }),
        fc.option(columnOf(rel), { nil: undefined }),
        fc.option(pick(['LIMIT 5', 'LIMIT 2 OFFSET 1']), { nil: undefined }),
      )
      .map(([list, where, orderBy, tail]) =>
        [`SELECT ${list.join(', ')} FROM ${rel.sql}`, where ? `WHERE ${where}` : '', orderBy ? `ORDER BY ${orderBy}` : '', tail ?? ''].filter(Boolean).join(' '),
      ),
  );

  const setop = fc
    .tuple(query, pick(['UNION', 'UNION ALL', 'EXCEPT', 'INTERSECT', 'UNION BY NAME']), query)
    .map(([a, op, b]) => (op === 'UNION BY NAME' ? `(${a}) ${op} (${b})` : `(${oneColumn(a)}) ${op} (${oneColumn(b)})`));

  const withq = fc
    .tuple(pick(CTE_NAMES), query, fc.boolean(), query, pick(['*', 't.*', 'to_json(t) AS j', 't::VARCHAR AS s']))
    .map(([name, body, recursive, main, list]) =>
      recursive
        ? `WITH RECURSIVE ${name}(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM ${name} WHERE x < 3) SELECT ${list} FROM ${name} AS t, (${oneColumn(main)}) AS m`
        : `WITH ${name} AS (${body}) SELECT ${list} FROM ${name} AS t WHERE EXISTS (${main})`,
    );

  const base = fc
    .tuple(
      fc.oneof({ weight: 10, arbitrary: pick(READABLE) }, { weight: 3, arbitrary: pick(FORBIDDEN) }, { weight: 2, arbitrary: pick(SAFE) }),
      fc.oneof({ weight: 1, arbitrary: fc.constant(undefined) }, { weight: 2, arbitrary: pick(ALIASES) }),
    )
    .map(([source, alias]) => qualify(source, alias));

  const join = fc.tuple(from, from, pick(['JOIN', 'LEFT JOIN', 'SEMI JOIN', 'ANTI JOIN'])).chain(([a, b, kind]) => {
    const both: Rel = { sql: '', cols: [...a.cols, ...b.cols], aliases: [...a.aliases, ...b.aliases] };
    return cond(both).map((on) => ({ sql: `${a.sql} ${kind} ${b.sql} ON ${on}`, cols: kind.endsWith('SEMI JOIN') || kind.endsWith('ANTI JOIN') ? a.cols : both.cols, aliases: both.aliases }));
  });

  const lateral = fc.tuple(from, query, pick(['l', 'lat'])).chain(([a, q, alias]) =>
    columnOf(a).map((outer) => ({
      sql: `${a.sql}, LATERAL (SELECT ${outer} AS lc, sq.c FROM (${oneColumn(q)}) AS sq) AS ${alias}`,
      cols: [...a.cols, `${alias}.lc`, `${alias}.c`],
      aliases: [...a.aliases, alias],
    })),
  );

  const subquery = fc.tuple(query, pick(ALIASES)).map(([q, alias]) => ({ sql: `(${q}) AS ${alias}`, cols: [], aliases: [alias] }));

  const cteRef = fc.tuple(pick(CTE_NAMES), fc.option(pick(ALIASES), { nil: undefined })).map(([name, alias]) => ({
    sql: alias ? `${name} AS ${alias}` : name,
    cols: [],
    aliases: [alias ?? name],
  }));

  return {
    query: fc.oneof(depth, { weight: 5, arbitrary: select }, { weight: 1, arbitrary: setop }, { weight: 1, arbitrary: withq }),
    from: fc.oneof(depth, { weight: 6, arbitrary: base }, { weight: 1, arbitrary: join }, { weight: 1, arbitrary: lateral }, { weight: 1, arbitrary: subquery }, { weight: 1, arbitrary: cteRef }),
  };
});

/** A SELECT most of the time; now and then a statement that would change something. */
export const statement: fc.Arbitrary<string> = fc.oneof(
  { weight: 12, arbitrary: tree.query },
  { weight: 1, arbitrary: pick(MUTATIONS) },
  { weight: 1, arbitrary: fc.tuple(tree.query, pick(MUTATIONS)).map(([q, m]) => `${q}; ${m}`) },
);
