/**
 * fast-check arbitraries for the SQL guard property tests: SQL text over the fixture schema
 * (`sql-guard-fixture.ts`). The generator knows which columns each FROM item brings into scope,
 * so most queries are valid SQL that DuckDB would happily run unguarded, reading hidden columns
 * and forbidden tables through every construct the guard has to walk: subqueries, CTEs (named
 * like tables too), set operations, LATERAL, scalar subqueries, EXISTS/IN/ANY, joins, aliases,
 * case and quoting variants, star expressions, row structs, and trap functions.
 *
 * Every generated piece also says what forbidden thing it touches (`touches`), so the property can
 * demand a refusal rather than only look for a marker in the answer. Whether a table name is the
 * forbidden table or a CTE of that name depends on where it stands, so pieces are generated as
 * functions of their scope (the CTE names visible there) and rendered from the outside in.
 */
import fc from 'fast-check';

/**
 * A piece of SQL and what it names that a scoped caller may not read: hidden columns, forbidden
 * tables, files, other catalogs, trap functions, writes, and tables that do not exist. Each one
 * means the query must fail; empty means it may succeed (or fail to bind, e.g. an ambiguous name).
 */
export interface Sql {
  sql: string;
  touches: readonly string[];
}

/** The CTE names (lower case) visible where a piece stands. */
export type Scope = ReadonlySet<string>;

/** A piece of SQL whose meaning depends on its scope. */
export type Piece = (scope: Scope) => Sql;

/** A FROM item: its columns and aliases (the same in any scope) and its text. */
export interface Rel {
  /** Column references valid in this scope (qualified and not), hidden ones included. */
  cols: string[];
  /** Aliases usable as row structs (`to_json(a)`, `a.*`). */
  aliases: string[];
  render: Piece;
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

/**
 * Columns no scoped read may touch: the fixture's hidden fields (users.salary, users.ssn,
 * notes.note) and the columns only the forbidden table has. The guard projects each table to its
 * visible columns, so naming one of these is refused or fails to bind, in every construct.
 */
const HIDDEN_COLUMNS = new Set(['salary', 'ssn', 'note', 'v', 'n']);

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

/** Tables a scoped caller may read: any other name outside a CTE is forbidden or does not exist. */
const TABLES = new Set(['users', 'orders', 'notes']);
const ALIASES = ['t', 'u', 'q', 'secret', 'users', 'c1'];
const CTE_NAMES = ['c1', 'secret', 'users', 'SECRET', 'orders', 'cte'];

/** Functions a scoped query may not call: settings, variables, sequences, macros over hidden data, catalog helpers. */
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

// ------------------------------------------------------------------------------ building pieces

/** Text that means the same in every scope and touches nothing. */
const text = (sql: string): Piece => () => ({ sql, touches: [] });

/** `sql\`SELECT ${a} FROM ${b}\``: pieces and plain strings joined, their touches summed. */
function sql(strings: TemplateStringsArray, ...parts: Array<string | Piece>): Piece {
  return (scope) => {
    let out = strings[0]!;
    const touches: string[] = [];
    parts.forEach((part, i) => {
      const rendered = typeof part === 'string' ? { sql: part, touches: [] } : part(scope);
      out += rendered.sql + strings[i + 1]!;
      touches.push(...rendered.touches);
    });
    return { sql: out, touches };
  };
}

/** `piece` with the CTE `name` visible. */
function within(name: string, piece: Piece): Piece {
  return (scope) => piece(new Set([...scope, unquote(name)]));
}

/** DuckDB folds identifiers, quoted or not, case-insensitively. */
function unquote(name: string): string {
  return name.replaceAll('"', '').toLowerCase();
}

/** A column reference; touching a hidden column whatever its qualifier. */
function column(ref: string): Piece {
  const name = unquote(ref.split('.').pop()!);
  return () => ({ sql: ref, touches: HIDDEN_COLUMNS.has(name) ? [`hidden column ${ref}`] : [] });
}

/**
 * A table source. An unqualified name is a CTE where one of that name is visible (then it touches
 * nothing itself); otherwise forbidden sources touch what they name.
 */
function source(src: Source, forbidden: boolean): Piece {
  return (scope) => {
    const shadowed = !src.fn && !src.sql.includes('.') && !src.sql.startsWith("'") && scope.has(unquote(src.sql));
    return { sql: src.sql, touches: forbidden && !shadowed ? [`source ${src.sql}`] : [] };
  };
}

function qualify(src: Source, forbidden: boolean, alias: string | undefined): Rel {
  const base = source(src, forbidden);
  const render = alias === undefined || src.fn ? base : sql`${base} AS ${alias}`;
  const binding = src.fn ? undefined : (alias ?? src.sql.split('.').pop()!);
  const cols = [...src.cols];
  if (binding !== undefined && alias !== undefined) cols.push(...src.cols.map((c) => `${binding}.${c}`));
  return { render, cols, aliases: alias !== undefined && !src.fn ? [alias] : [] };
}

function columnOf(rel: Rel): fc.Arbitrary<Piece> {
  return rel.cols.length > 0 ? pick(rel.cols).map(column) : fc.constant(text('42'));
}

const trap = (suffix: string): fc.Arbitrary<Piece> =>
  pick(SCALAR_TRAPS).map((f) => () => ({ sql: `${f}${suffix}`, touches: [`function ${f}`] }));

/** Wraps any query into one VARCHAR column, so set operations and IN lists always line up. */
const oneColumn = (q: Piece): Piece => sql`SELECT to_json(sq)::VARCHAR AS c FROM (${q}) AS sq`;

export interface Arbs {
  query: Piece;
  from: Rel;
}

/** One depth budget shared by the recursive constructs keeps queries small enough to run fast. */
const depth = { depthSize: 'small', maxDepth: 3, depthIdentifier: 'sql' } as const;

export const tree = fc.letrec<Arbs>((tie) => {
  const query = tie('query') as fc.Arbitrary<Piece>;
  const from = tie('from') as fc.Arbitrary<Rel>;

  const expr = (rel: Rel): fc.Arbitrary<Piece> =>
    fc.oneof(
      { weight: 6, arbitrary: columnOf(rel) },
      { weight: 3, arbitrary: pick(STARS).map(text) },
      { weight: 2, arbitrary: rel.aliases.length > 0 ? pick(rel.aliases).map((a) => text(`to_json(${a}) AS j`)) : fc.constant(text('1 AS one')) },
      { weight: 1, arbitrary: rel.aliases.length > 0 ? pick(rel.aliases).map((a) => text(`${a}.*`)) : fc.constant(text('*')) },
      { weight: 1, arbitrary: rel.aliases.length > 0 ? pick(rel.aliases).map((a) => text(`${a}::VARCHAR AS s`)) : fc.constant(text('2 AS two')) },
      { weight: 1, arbitrary: fc.integer({ min: 0, max: 2 }).chain((n) => (n === 0 ? trap(' AS trap') : columnOf(rel))) },
      { weight: 1, arbitrary: query.map((q) => sql`(SELECT c FROM (${oneColumn(q)}) LIMIT 1) AS sub`) },
      { weight: 1, arbitrary: fc.tuple(columnOf(rel), pick(['max', 'min', 'any_value', 'list'])).map(([c, f]) => sql`${f}(${c}) OVER () AS w`) },
      { weight: 1, arbitrary: columnOf(rel).map((c) => sql`list_transform([1], x -> ${c}) AS l`) },
    );

  const cond = (rel: Rel): fc.Arbitrary<Piece> =>
    fc.oneof(
      {
        weight: 4,
        arbitrary: fc.tuple(columnOf(rel), pick(['IS NOT NULL', "::VARCHAR <> 'zzz'", "::VARCHAR LIKE '%'"]))
          .map(([c, op]) => sql`${c}${op.startsWith('::') ? '' : ' '}${op}`),
      },
      { weight: 1, arbitrary: fc.constant(text('true')) },
      { weight: 2, arbitrary: query.map((q) => sql`EXISTS (${q})`) },
      { weight: 2, arbitrary: fc.tuple(columnOf(rel), query).map(([c, q]) => sql`${c}::VARCHAR NOT IN (${oneColumn(q)})`) },
      { weight: 1, arbitrary: fc.tuple(columnOf(rel), query).map(([c, q]) => sql`${c}::VARCHAR <> ALL (${oneColumn(q)})`) },
      { weight: 1, arbitrary: fc.tuple(columnOf(rel), query).map(([c, q]) => sql`EXISTS (SELECT 1 FROM (${oneColumn(q)}) AS e WHERE e.c <> ${c}::VARCHAR)`) },
      { weight: 1, arbitrary: fc.integer({ min: 0, max: 2 }).chain((n) => (n === 0 ? trap(' IS NOT NULL') : fc.constant(text('true')))) },
    );

  const select = from.chain((rel) =>
    fc
      .tuple(
        fc.array(expr(rel), { minLength: 1, maxLength: 2 }),
        fc.option(cond(rel), { nil: undefined }),
        fc.option(columnOf(rel), { nil: undefined }),
        fc.option(pick(['LIMIT 5', 'LIMIT 2 OFFSET 1']), { nil: undefined }),
      )
      .map(([list, where, orderBy, tail]): Piece => (scope) => {
        const parts: Sql[] = [];
        const head = list.map((e) => e(scope));
        parts.push({ sql: `SELECT ${head.map((h) => h.sql).join(', ')}`, touches: head.flatMap((h) => h.touches) });
        parts.push(sql`FROM ${rel.render}`(scope));
        if (where) parts.push(sql`WHERE ${where}`(scope));
        if (orderBy) parts.push(sql`ORDER BY ${orderBy}`(scope));
        if (tail) parts.push({ sql: tail, touches: [] });
        return { sql: parts.map((p) => p.sql).join(' '), touches: parts.flatMap((p) => p.touches) };
      }),
  );

  const setop = fc
    .tuple(query, pick(['UNION', 'UNION ALL', 'EXCEPT', 'INTERSECT', 'UNION BY NAME']), query)
    .map(([a, op, b]) => (op === 'UNION BY NAME' ? sql`(${a}) ${op} (${b})` : sql`(${oneColumn(a)}) ${op} (${oneColumn(b)})`));

  // The CTE's own body does not see its name (it is not RECURSIVE); what follows WITH does.
  const withq = fc
    .tuple(pick(CTE_NAMES), query, fc.boolean(), query, pick(['*', 't.*', 'to_json(t) AS j', 't::VARCHAR AS s']))
    .map(([name, body, recursive, main, list]) =>
      recursive
        ? sql`WITH RECURSIVE ${name}(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM ${name} WHERE x < 3) SELECT ${list} FROM ${name} AS t, (${within(name, oneColumn(main))}) AS m`
        : sql`WITH ${name} AS (${body}) SELECT ${list} FROM ${name} AS t WHERE EXISTS (${within(name, main)})`,
    );

  const base = fc
    .tuple(
      fc.oneof(
        { weight: 10, arbitrary: pick(READABLE).map((s) => [s, false] as const) },
        { weight: 3, arbitrary: pick(FORBIDDEN).map((s) => [s, true] as const) },
        { weight: 2, arbitrary: pick(SAFE).map((s) => [s, false] as const) },
      ),
      fc.oneof({ weight: 1, arbitrary: fc.constant(undefined) }, { weight: 2, arbitrary: pick(ALIASES) }),
    )
    .map(([[src, forbidden], alias]) => qualify(src, forbidden, alias));

  const join = fc.tuple(from, from, pick(['JOIN', 'LEFT JOIN', 'SEMI JOIN', 'ANTI JOIN'])).chain(([a, b, kind]) => {
    const both: Rel = { render: text(''), cols: [...a.cols, ...b.cols], aliases: [...a.aliases, ...b.aliases] };
    return cond(both).map((on): Rel => ({
      render: sql`${a.render} ${kind} ${b.render} ON ${on}`,
      cols: kind.endsWith('SEMI JOIN') || kind.endsWith('ANTI JOIN') ? a.cols : both.cols,
      aliases: both.aliases,
    }));
  });

  const lateral = fc.tuple(from, query, pick(['l', 'lat'])).chain(([a, q, alias]) =>
    columnOf(a).map((outer): Rel => ({
      render: sql`${a.render}, LATERAL (SELECT ${outer} AS lc, sq.c FROM (${oneColumn(q)}) AS sq) AS ${alias}`,
      cols: [...a.cols, `${alias}.lc`, `${alias}.c`],
      aliases: [...a.aliases, alias],
    })),
  );

  const subquery = fc.tuple(query, pick(ALIASES)).map(([q, alias]): Rel => ({ render: sql`(${q}) AS ${alias}`, cols: [], aliases: [alias] }));

  // A CTE name used as a table: the CTE where one of that name is visible, the real table (or no
  // table at all) elsewhere; `secret` outside its CTE is the forbidden table.
  const cteRef = fc.tuple(pick(CTE_NAMES), fc.option(pick(ALIASES), { nil: undefined })).map(([name, alias]): Rel => {
    const table = source({ sql: name, cols: [] }, !TABLES.has(unquote(name)));
    return { render: alias ? sql`${table} AS ${alias}` : table, cols: [], aliases: [alias ?? name] };
  });

  return {
    query: fc.oneof(depth, { weight: 5, arbitrary: select }, { weight: 1, arbitrary: setop }, { weight: 1, arbitrary: withq }),
    from: fc.oneof(depth, { weight: 6, arbitrary: base }, { weight: 1, arbitrary: join }, { weight: 1, arbitrary: lateral }, { weight: 1, arbitrary: subquery }, { weight: 1, arbitrary: cteRef }),
  };
});

/** Renders a top-level piece: no CTE is visible outside it. */
export const render = (piece: Piece): Sql => piece(new Set());

/** A SELECT, rendered, with what it touches. */
export const query: fc.Arbitrary<Sql> = tree.query.map(render);

/** A SELECT most of the time; now and then a statement that would change something (which touches the database itself). */
export const statement: fc.Arbitrary<Sql> = fc.oneof(
  { weight: 12, arbitrary: query },
  { weight: 1, arbitrary: pick(MUTATIONS).map((m) => ({ sql: m, touches: [`statement ${m}`] })) },
  { weight: 1, arbitrary: fc.tuple(query, pick(MUTATIONS)).map(([q, m]) => ({ sql: `${q.sql}; ${m}`, touches: [...q.touches, `statement ${m}`] })) },
);
