/**
 * DuckDB's side of source sync (`data/sync/target.ts`). Writes hold the writer for one batch at a
 * time, so API writes wait at most a batch and reads (MVCC, on the read pool) never wait. Staging
 * and state live in schema `_duckgate_sync`, outside `main`: no listing, grant or guarded query
 * can reach them.
 */
import { DuckDBBlobValue, type DuckDBAppender } from '@duckdb/node-api';
import type { TableState, SyncTarget, TargetValue } from '../sync/target.js';
import type { ValueKind } from '../sync/type-map.js';
import type { PooledConnection } from './connections.js';
import { inTransaction } from './connections.js';
import type { DatabaseContext } from './context.js';
import { quoteIdent } from './names.js';

const SCHEMA = '_duckgate_sync';
const YIELD_EVERY_ROWS = 500;
const STATE = `${SCHEMA}.state`;
// Suffixed, so a source table named `state` (any case: DuckDB names are case-insensitive) cannot
// be staged over the state table itself.
const staging = (table: string): string => `${SCHEMA}.${quoteIdent(`${table}#copy`)}`;
const delta = (table: string): string => `${SCHEMA}.${quoteIdent(`${table}#delta`)}`;
const live = (table: string): string => `main.${quoteIdent(table)}`;

export class DuckDBSyncTarget implements SyncTarget {
  private ready: Promise<void> | undefined;

  constructor(private readonly ctx: DatabaseContext) {}

  // One process per DuckDB file: the service's in-memory claim is the whole story.
  async claim(): Promise<() => Promise<void>> {
    return async () => undefined;
  }

  private ensure(): Promise<void> {
    this.ready ??= this.ctx.writer.use(async (c) => {
      await c.exec(`CREATE SCHEMA IF NOT EXISTS ${SCHEMA}`);
      await c.exec(`CREATE TABLE IF NOT EXISTS ${STATE} (table_name VARCHAR PRIMARY KEY, state VARCHAR NOT NULL)`);
      await renameOldStaging(c);
    }).catch((error: unknown) => {
      this.ready = undefined;
      throw error;
    });
    return this.ready;
  }

  private write<T>(task: (c: PooledConnection) => Promise<T>): Promise<T> {
    return this.ensure().then(() => this.ctx.writer.use((c) => inTransaction(c, () => task(c))));
  }

  async states(): Promise<Map<string, TableState>> {
    await this.ensure();
    return this.ctx.readers.use(async (c) => {
      const result = await c.raw.runAndReadAll(`SELECT state FROM ${STATE} ORDER BY table_name`);
      return new Map(result.getRows().map(([text]) => {
        const state = JSON.parse(String(text)) as TableState;
        return [state.table, state];
      }));
    });
  }

  startCopy(state: TableState): Promise<void> {
    return this.write(async (c) => {
      await c.exec(`DROP TABLE IF EXISTS ${staging(state.table)}`);
      await c.exec(`CREATE TABLE ${staging(state.table)} (${columnsSql(state)})`);
      await saveState(c, state);
    });
  }

  appendCopy(state: TableState, rows: TargetValue[][]): Promise<void> {
    return this.write(async (c) => {
      await append(c, SCHEMA, `${state.table}#copy`, state, rows);
      await saveState(c, state);
    });
  }

  async finishCopy(state: TableState): Promise<void> {
    try {
      await this.write(async (c) => {
        await c.exec(`DROP TABLE IF EXISTS ${live(state.table)}`);
        const key = state.primaryKey.length > 0 ? `, PRIMARY KEY (${state.primaryKey.map(quoteIdent).join(', ')})` : '';
        await c.exec(`CREATE TABLE ${live(state.table)} (${columnsSql(state)}${key})`);
        await c.exec(`INSERT INTO ${live(state.table)} SELECT * FROM ${staging(state.table)}`);
        await c.exec(`DROP TABLE ${staging(state.table)}`);
        await c.exec(`DROP TABLE IF EXISTS ${delta(state.table)}`);
        await saveState(c, state);
      });
    } finally {
      this.ctx.version.changed(state.table);
    }
  }

  upsert(state: TableState, rows: TargetValue[][]): Promise<void> {
    return this.write(async (c) => {
      await c.exec(`CREATE TABLE IF NOT EXISTS ${delta(state.table)} (${columnsSql(state)})`);
      await append(c, SCHEMA, `${state.table}#delta`, state, rows);
      // The same key twice in one statement is refused by DuckDB: the last version of a key wins.
      const key = state.primaryKey.map(quoteIdent).join(', ');
      await c.exec(`INSERT OR REPLACE INTO ${live(state.table)} SELECT * FROM ${delta(state.table)}
        QUALIFY row_number() OVER (PARTITION BY ${key} ORDER BY rowid DESC) = 1`);
      await c.exec(`DELETE FROM ${delta(state.table)}`);
      await saveState(c, state);
    });
  }

  saveState(state: TableState): Promise<void> {
    return this.write((c) => saveState(c, state));
  }

  deleteKeys(state: TableState, keys: string[][]): Promise<number> {
    if (keys.length === 0) return Promise.resolve(0);
    return this.write(async (c) => {
      const where = state.primaryKey.map((k, i) => `${quoteIdent(k)} = CAST($${i + 1} AS ${typeOf(state, k)})`).join(' AND ');
      let deleted = 0;
      for (const key of keys) {
        const result = await c.run(`DELETE FROM ${live(state.table)} WHERE ${where}`, key);
        deleted += Number(result.rowsChanged);
      }
      return deleted;
    });
  }

  keys(state: TableState, after: string[] | null, limit: number): Promise<string[][]> {
    const pk = state.primaryKey;
    const select = pk.map((k) => `CAST(${quoteIdent(k)} AS VARCHAR)`).join(', ');
    const params: string[] = [];
    let where = '';
    if (after !== null) {
      // (a, b) > (x, y) spelt out, each value cast to its column's type so order is the column's.
      const terms = pk.map((_, i) => {
        const eq = pk.slice(0, i).map((k, j) => `${quoteIdent(k)} = CAST($${j + 1} AS ${typeOf(state, k)})`);
        return `(${[...eq, `${quoteIdent(pk[i]!)} > CAST($${i + 1} AS ${typeOf(state, pk[i]!)})`].join(' AND ')})`;
      });
      where = `WHERE ${terms.join(' OR ')}`;
      params.push(...after);
    }
    return this.ctx.readers.use(async (c) => {
      const result = await c.run(`SELECT ${select} FROM ${live(state.table)} ${where} ORDER BY ${pk.map(quoteIdent).join(', ')} LIMIT ${Math.trunc(limit)}`, params);
      const rows: string[][] = [];
      for (let i = 0; i < result.chunkCount; i++) for (const row of result.getChunk(i).getRows()) rows.push(row.map(String));
      return rows;
    });
  }

  count(table: string): Promise<number> {
    return this.ctx.readers.use(async (c) => {
      const result = await c.raw.runAndReadAll(`SELECT count(*) FROM ${live(table)}`);
      return Number(result.getRows()[0]![0]);
    });
  }

  exists(table: string): Promise<boolean> {
    return this.ctx.readers.use(async (c) => {
      const result = await c.run(`SELECT 1 FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = 'main' AND lower(table_name) = lower($1)
        UNION ALL SELECT 1 FROM duckdb_views() WHERE database_name = current_database() AND schema_name = 'main' AND lower(view_name) = lower($1)`, [table]);
      return result.rowCount > 0;
    });
  }

  scan(table: string, columns: readonly { name: string; kind: ValueKind }[], onRow: (row: TargetValue[]) => void): Promise<void> {
    const select = columns.map((c) => (c.kind === 'blob' ? quoteIdent(c.name) : `CAST(${quoteIdent(c.name)} AS VARCHAR)`)).join(', ');
    return this.ctx.readers.use(async (c) => {
      const result = await c.raw.stream(`SELECT ${select} FROM ${live(table)}`);
      for (let chunk = await result.fetchChunk(); chunk !== null && chunk.rowCount > 0; chunk = await result.fetchChunk()) {
        for (const row of chunk.getRows()) {
          onRow(row.map((v) => (v === null ? null : v instanceof DuckDBBlobValue ? v.bytes : String(v))));
        }
      }
    });
  }

  async clear(tables?: string[]): Promise<string[]> {
    const states = await this.states();
    const names = tables ?? [...states.keys()];
    try {
      await this.write(async (c) => {
        for (const table of names) {
          await c.exec(`DROP TABLE IF EXISTS ${live(table)}`);
          await c.exec(`DROP TABLE IF EXISTS ${staging(table)}`);
          await c.exec(`DROP TABLE IF EXISTS ${delta(table)}`);
          await c.run(`DELETE FROM ${STATE} WHERE table_name = $1`, [table]);
        }
      });
    } finally {
      for (const table of names) this.ctx.version.changed(table);
    }
    return names;
  }
}

/**
 * Files written before staging tables had their `#copy` suffix: a copy interrupted then is staged
 * under the table's bare name, and resumes only once renamed.
 */
async function renameOldStaging(c: PooledConnection): Promise<void> {
  const result = await c.raw.runAndReadAll(`SELECT s.table_name FROM ${STATE} s JOIN duckdb_tables() t
    ON t.database_name = current_database() AND t.schema_name = '${SCHEMA}' AND t.table_name = s.table_name
    WHERE lower(s.table_name) <> 'state' AND json_extract_string(s.state, '$.phase') = 'copying'`);
  for (const [table] of result.getRows()) {
    await c.exec(`ALTER TABLE ${SCHEMA}.${quoteIdent(String(table))} RENAME TO ${quoteIdent(`${String(table)}#copy`)}`);
  }
}

function columnsSql(state: TableState): string {
  return state.columns.map((c) => `${quoteIdent(c.name)} ${c.duckdbType}${state.primaryKey.includes(c.name) ? ' NOT NULL' : ''}`).join(', ');
}

function typeOf(state: TableState, column: string): string {
  return state.columns.find((c) => c.name === column)?.duckdbType ?? 'VARCHAR';
}

async function saveState(c: PooledConnection, state: TableState): Promise<void> {
  await c.run(`INSERT OR REPLACE INTO ${STATE} VALUES ($1, $2)`, [state.table, JSON.stringify(state)]);
}

/** Through DuckDB's appender, inside the caller's transaction: text is cast into each column's type. */
async function append(c: PooledConnection, schema: string, table: string, state: TableState, rows: TargetValue[][]): Promise<void> {
  c.checkDeadline();
  const appender: DuckDBAppender = await c.raw.createAppender(table, schema);
  try {
    const width = state.columns.length;
    for (let r = 0; r < rows.length; r++) {
      // Appending is synchronous native work: let waiting requests run between slices of a batch,
      // so a sync never holds the event loop for a whole batch (the writer stays ours meanwhile).
      if (r > 0 && r % YIELD_EVERY_ROWS === 0) await new Promise((resolve) => setImmediate(resolve));
      const row = rows[r]!;
      for (let i = 0; i < width; i++) {
        const value = row[i];
        if (value === null || value === undefined) appender.appendNull();
        else if (typeof value === 'string') appender.appendVarchar(value);
        else appender.appendBlob(value);
      }
      appender.endRow();
    }
    appender.flushSync();
  } finally {
    appender.closeSync();
  }
}
