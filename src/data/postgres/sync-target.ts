/**
 * PostgreSQL's side of source sync (`data/sync/target.ts`), the counterpart of
 * `duckdb/sync-target.ts`. Staging tables and the sync state live in a schema of their own beside
 * the database's (`<schema>#sync`): no duckgate database can have that name (`#` is not allowed in
 * one), so listings, grants and guarded SQL never see it. Rows go in as one `INSERT … SELECT FROM
 * unnest($1::type[], …)` per batch (one round trip, memory bounded by the batch), each batch in a
 * transaction with the state that records it, so a killed run resumes from the last committed key.
 * A full copy is swapped in by moving the staging table into the schema in one transaction: readers
 * see the old table until the commit, then the new one, never an empty or half-loaded one.
 *
 * Replicas share the data, so `claim` takes a session advisory lock on a connection of its own:
 * a second replica starting a sync of the same database is told 409 `sync_running`.
 */
import { createHash } from 'node:crypto';
import pg from 'pg';
import Cursor from 'pg-cursor';
import { errors } from '../../errors.js';
import { foldIdentifier } from '../identifiers.js';
import { quoteIdent } from '../duckdb/names.js';
import type { SyncTarget, TableState, TargetValue } from '../sync/target.js';
import { pgTypeOf, type ValueKind } from '../sync/type-map.js';
import type { PgContext } from './context.js';
import { qualified } from './schema.js';
import { inTransaction, sqlState, type Client } from './session.js';

/** PostgreSQL cuts longer identifiers silently: names that could be cut are made short by hash. */
const MAX_NAME_BYTES = 63;
const SCAN_ROWS = 5000;
const STATE_TABLE = 'state';

function fits(name: string): boolean {
  return Buffer.byteLength(name, 'utf8') <= MAX_NAME_BYTES;
}

function hashed(text: string): string {
  return createHash('sha1').update(text).digest('hex').slice(0, 16);
}

/** The schema that holds `schema`'s staging tables and sync state. */
export function syncSchemaOf(schema: string): string {
  const plain = `${schema}#sync`;
  // A cut `<prefix><name>#sync` could become another database's schema name: never cut.
  return fits(plain) ? plain : `${schema.slice(0, 24)}#sync#${hashed(schema)}`;
}

/**
 * A staging table's name: prefixed, so no source table (`state` included) can collide with the
 * state table or another table's staging.
 */
function copyName(table: string): string {
  const plain = `copy#${table}`;
  return fits(plain) ? plain : `copy#${hashed(table)}`;
}

function keyName(table: string): string {
  const plain = `${table}#pkey`;
  return fits(plain) ? plain : `sync#pkey#${hashed(table)}`;
}

export class PostgresSyncTarget implements SyncTarget {
  private readonly syncSchema: string;
  private ready: Promise<void> | undefined;

  constructor(private readonly ctx: PgContext) {
    this.syncSchema = syncSchemaOf(ctx.schema);
  }

  private get stateTable(): string {
    return qualified(this.syncSchema, STATE_TABLE);
  }

  private staging(table: string): string {
    return qualified(this.syncSchema, copyName(table));
  }

  private live(table: string): string {
    return qualified(this.ctx.schema, table);
  }

  private ensure(): Promise<void> {
    this.ready ??= this.ctx.sessions.use(async (client) => {
      const create = async (): Promise<void> => {
        await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(this.syncSchema)}`);
        await client.query(`CREATE TABLE IF NOT EXISTS ${this.stateTable} (table_name text COLLATE "C" PRIMARY KEY, state text NOT NULL)`);
      };
      try {
        await create();
      } catch (error) {
        // Two replicas creating them at the same instant: one wins, the other finds them made.
        if (!['23505', '42P06', '42P07'].includes(sqlState(error) ?? '')) throw error;
        await create();
      }
    }).catch((error: unknown) => {
      this.ready = undefined;
      throw error;
    });
    return this.ready;
  }

  private write<T>(task: (client: Client) => Promise<T>): Promise<T> {
    return this.ensure().then(() => this.ctx.sessions.use((client) => inTransaction(client, () => task(client))));
  }

  async claim(): Promise<() => Promise<void>> {
    const options = this.ctx.sessions.pool.options;
    // A connection of its own: the lock lasts as long as its session, and the pool stays whole.
    const client = new pg.Client({ connectionString: options.connectionString, ssl: options.ssl, application_name: 'duckgate-sync-claim' });
    client.on('error', () => undefined);
    try {
      await client.connect();
      const result = await client.query('SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS taken', [`duckgate-source-sync:${this.ctx.schema}`]);
      if ((result.rows[0] as { taken: boolean }).taken !== true) throw errors.syncRunning(this.ctx.name);
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
    // Ending the session releases the lock, whatever state the connection is in.
    return () => client.end().catch(() => undefined);
  }

  async states(): Promise<Map<string, TableState>> {
    await this.ensure();
    return this.ctx.sessions.use(async (client) => {
      const result = await client.query(`SELECT state FROM ${this.stateTable} ORDER BY table_name`);
      return new Map((result.rows as { state: string }[]).map(({ state: text }) => {
        const state = JSON.parse(text) as TableState;
        return [state.table, state];
      }));
    });
  }

  startCopy(state: TableState): Promise<void> {
    if (!fits(state.table)) {
      return Promise.reject(errors.badRequest('invalid_name', `Table name '${state.table}' is longer than PostgreSQL's ${MAX_NAME_BYTES}-byte names`));
    }
    return this.write(async (client) => {
      await client.query(`DROP TABLE IF EXISTS ${this.staging(state.table)}`);
      await client.query(`CREATE TABLE ${this.staging(state.table)} (${columnsSql(state)})`);
      await this.saveOn(client, state);
    });
  }

  appendCopy(state: TableState, rows: TargetValue[][]): Promise<void> {
    return this.write(async (client) => {
      await client.query(`INSERT INTO ${this.staging(state.table)} ${unnestSelect(state)}`, columnArrays(state, rows));
      await this.saveOn(client, state);
    });
  }

  async finishCopy(state: TableState): Promise<void> {
    const staged = this.staging(state.table);
    const moved = qualified(this.ctx.schema, copyName(state.table));
    try {
      await this.write(async (client) => {
        // Building the key and swapping can outlast one statement's QUERY_TIMEOUT_MS on big tables.
        await client.query('SET LOCAL statement_timeout = 0');
        if (state.primaryKey.length > 0) {
          await client.query(`ALTER TABLE ${staged} ADD CONSTRAINT ${quoteIdent(keyName(state.table))} PRIMARY KEY (${state.primaryKey.map(quoteIdent).join(', ')})`);
        }
        const grants = await this.grantsFor(client, state.table);
        await client.query(`DROP TABLE IF EXISTS ${this.live(state.table)}`);
        await client.query(`ALTER TABLE ${staged} SET SCHEMA ${quoteIdent(this.ctx.schema)}`);
        await client.query(`ALTER TABLE ${moved} RENAME TO ${quoteIdent(state.table)}`);
        for (const grant of grants) await client.query(`GRANT ${grant.privilege} ON ${this.live(state.table)} TO ${grant.grantee}${grant.grantable ? ' WITH GRANT OPTION' : ''}`);
        await this.saveOn(client, state);
      });
    } finally {
      this.ctx.schemas.invalidate();
    }
    // Fresh statistics, or the planner guesses from an empty table's until autovacuum comes by.
    await this.ctx.sessions.use((client) => inTransaction(client, async () => {
      await client.query('SET LOCAL statement_timeout = 0');
      await client.query(`ANALYZE ${this.live(state.table)}`);
    }));
  }

  /**
   * What a replaced table must grant: the old table's grants (grants made by hand) and what the
   * schema's default privileges give a table made there today (the reader role's SELECT, also when
   * the reader came after the old table), since a table moved in from staging was made elsewhere
   * and default privileges never applied to it.
   */
  private async grantsFor(client: Client, table: string): Promise<{ privilege: string; grantee: string; grantable: boolean }[]> {
    const result = await client.query(
      `WITH target AS (
         SELECT c.relacl AS acl, c.relowner AS owner FROM pg_catalog.pg_class c
           JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')
       ), defaults AS (
         SELECT d.defaclacl AS acl FROM pg_catalog.pg_default_acl d
           LEFT JOIN pg_catalog.pg_namespace n ON n.oid = d.defaclnamespace
          WHERE d.defaclobjtype = 'r' AND d.defaclrole = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = current_user)
            AND (d.defaclnamespace = 0 OR n.nspname = $1)
       ), acls AS (
         SELECT acl FROM target WHERE acl IS NOT NULL
         UNION ALL SELECT acl FROM defaults
       )
       SELECT DISTINCT a.privilege_type AS privilege, a.is_grantable AS grantable,
              CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(r.rolname) END AS grantee
         FROM acls, LATERAL aclexplode(acls.acl) a
         LEFT JOIN pg_catalog.pg_roles r ON r.oid = a.grantee
        WHERE a.grantee <> (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = current_user)
          AND (a.grantee = 0 OR r.rolname IS NOT NULL)`,
      [this.ctx.schema, table],
    );
    return result.rows as { privilege: string; grantee: string; grantable: boolean }[];
  }

  async upsert(state: TableState, rows: TargetValue[][]): Promise<void> {
    // The same key twice in one statement is refused by ON CONFLICT: the last version of a key wins.
    const keyIndexes = state.primaryKey.map((k) => state.columns.findIndex((c) => c.name === k));
    const latest = new Map<string, TargetValue[]>();
    for (const row of rows) latest.set(JSON.stringify(keyIndexes.map((i) => keyText(row[i]))), row);
    const key = state.primaryKey.map(quoteIdent).join(', ');
    const rest = state.columns.filter((c) => !state.primaryKey.includes(c.name));
    const action = rest.length === 0 ? 'DO NOTHING' : `DO UPDATE SET ${rest.map((c) => `${quoteIdent(c.name)} = EXCLUDED.${quoteIdent(c.name)}`).join(', ')}`;
    try {
      await this.write(async (client) => {
        await client.query(`INSERT INTO ${this.live(state.table)} ${unnestSelect(state)} ON CONFLICT (${key}) ${action}`, columnArrays(state, [...latest.values()]));
        await this.saveOn(client, state);
      });
    } finally {
      this.ctx.schemas.invalidate();
    }
  }

  saveState(state: TableState): Promise<void> {
    return this.write((client) => this.saveOn(client, state));
  }

  private async saveOn(client: Client, state: TableState): Promise<void> {
    await client.query(`INSERT INTO ${this.stateTable} (table_name, state) VALUES ($1, $2)
      ON CONFLICT (table_name) DO UPDATE SET state = EXCLUDED.state`, [state.table, JSON.stringify(state)]);
  }

  async deleteKeys(state: TableState, keys: string[][]): Promise<number> {
    if (keys.length === 0) return 0;
    const pk = state.primaryKey;
    const arrays = pk.map((_, i) => keys.map((k) => k[i]!));
    const unnest = pk.map((k, i) => `$${i + 1}::${arrayType(state, k)}`).join(', ');
    return this.write(async (client) => {
      const result = await client.query(`DELETE FROM ${this.live(state.table)} WHERE (${pk.map(quoteIdent).join(', ')}) IN (SELECT * FROM unnest(${unnest}))`, arrays);
      return result.rowCount ?? 0;
    });
  }

  keys(state: TableState, after: string[] | null, limit: number): Promise<string[][]> {
    const pk = state.primaryKey;
    // Qualified (`t."id"`): a bare name in ORDER BY would bind to the text output column of the
    // same name and order '1000' before '999', out of step with the typed `>` below.
    const column = (k: string): string => `t.${quoteIdent(k)}`;
    const select = pk.map((k) => `${column(k)}::text`).join(', ');
    const tuple = `(${pk.map(column).join(', ')})`;
    // Each value cast to its column's type, so the order is the column's (numbers as numbers).
    const where = after === null ? '' : `WHERE ${tuple} > (${pk.map((k, i) => `$${i + 1}::${scalarType(state, k)}`).join(', ')})`;
    return this.ctx.sessions.use(async (client) => {
      const result = await client.query({
        text: `SELECT ${select} FROM ${this.live(state.table)} AS t ${where} ORDER BY ${pk.map(column).join(', ')} LIMIT ${Math.trunc(limit)}`,
        values: after ?? [],
        rowMode: 'array',
      });
      return (result.rows as string[][]).map((row) => row.map(String));
    });
  }

  count(table: string): Promise<number> {
    return this.ctx.sessions.use(async (client) => {
      const result = await client.query(`SELECT count(*)::bigint AS n FROM ${this.live(table)}`);
      return Number((result.rows[0] as { n: number | string }).n);
    });
  }

  exists(table: string): Promise<boolean> {
    return this.ctx.sessions.use(async (client) => {
      const result = await client.query(
        `SELECT c.relname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'v', 'm', 'f')`,
        [this.ctx.schema],
      );
      // Names resolve by the ASCII fold on both engines (`identifiers.ts`): `Notes` is `notes`.
      return (result.rows as { relname: string }[]).some((r) => foldIdentifier(r.relname) === foldIdentifier(table));
    });
  }

  scan(table: string, columns: readonly { name: string; kind: ValueKind }[], onRow: (row: TargetValue[]) => void): Promise<void> {
    const select = columns.map((c) => (c.kind === 'blob' ? quoteIdent(c.name) : `${quoteIdent(c.name)}::text`)).join(', ');
    return this.ctx.sessions.use(async (client) => {
      const cursor = client.query(new Cursor(`SELECT ${select} FROM ${this.live(table)}`, [], { rowMode: 'array' }));
      try {
        for (;;) {
          const rows = (await cursor.read(SCAN_ROWS)) as unknown[][];
          if (rows.length === 0) break;
          for (const row of rows) onRow(row.map((v) => (v === null ? null : Buffer.isBuffer(v) ? new Uint8Array(v) : String(v))));
        }
      } finally {
        await cursor.close();
      }
    });
  }

  async clear(tables?: string[]): Promise<string[]> {
    const states = await this.states();
    const names = tables ?? [...states.keys()];
    try {
      await this.write(async (client) => {
        for (const table of names) {
          await client.query(`DROP TABLE IF EXISTS ${this.live(table)}`);
          await client.query(`DROP TABLE IF EXISTS ${this.staging(table)}`);
          await client.query(`DELETE FROM ${this.stateTable} WHERE table_name = $1`, [table]);
        }
      });
    } finally {
      this.ctx.schemas.invalidate();
    }
    return names;
  }
}

function columnsSql(state: TableState): string {
  return state.columns.map((c) => `${quoteIdent(c.name)} ${pgTypeOf(c)}${state.primaryKey.includes(c.name) ? ' NOT NULL' : ''}`).join(', ');
}

function scalarType(state: TableState, column: string): string {
  const mapped = state.columns.find((c) => c.name === column);
  return (mapped === undefined ? 'text' : pgTypeOf(mapped)).replace(/ COLLATE "C"$/, '');
}

function arrayType(state: TableState, column: string): string {
  return `${scalarType(state, column)}[]`;
}

/** `SELECT * FROM unnest($1::t1[], $2::t2[], …)`: a batch as one array per column. */
function unnestSelect(state: TableState): string {
  return `(${state.columns.map((c) => quoteIdent(c.name)).join(', ')}) SELECT * FROM unnest(${state.columns.map((c, i) => `$${i + 1}::${arrayType(state, c.name)}`).join(', ')})`;
}

function columnArrays(state: TableState, rows: TargetValue[][]): (TargetValue | Buffer)[][] {
  return state.columns.map((c, i) => rows.map((row) => {
    const value = row[i] ?? null;
    // node-postgres writes a Buffer in an array as bytea; a plain Uint8Array it would not.
    return value === null || typeof value === 'string' ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  }));
}

function keyText(value: TargetValue | undefined): string | null {
  if (value === undefined || value === null) return null;
  return typeof value === 'string' ? value : Buffer.from(value).toString('hex');
}
