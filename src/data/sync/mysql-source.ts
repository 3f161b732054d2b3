/**
 * Reads a MySQL/MariaDB source through `mysql2`: the table list and column types from
 * information_schema, rows as a stream (mysql2 pauses the socket while we write a batch, so memory
 * stays bounded whatever the table's size). The session runs in UTC with dates as text, so
 * TIMESTAMP and DATETIME values arrive exactly as stored and never pass through a JS Date.
 */
import mysql, { type Connection, type FieldPacket, type RowDataPacket } from 'mysql2';
import { errors } from '../../errors.js';
import type { SourceConnection } from './source-url.js';
import { mapColumn, type MappedColumn, type SourceColumn } from './type-map.js';

/** A source value as it travels: text, a number (mysql2's own for INT and DOUBLE), bytes, or NULL. */
export type SourceValue = string | number | Uint8Array | null;

export interface SourceTable {
  name: string;
  columns: MappedColumn[];
  /** Primary key column names in key order; empty when the table has none. */
  primaryKey: string[];
  /** The source's row estimate (information_schema), for progress only. */
  estimatedRows: number;
}

const CONNECT_TIMEOUT_MS = 10_000;
const RAW_TYPES = new Set(['JSON', 'BLOB', 'TINY_BLOB', 'MEDIUM_BLOB', 'LONG_BLOB', 'GEOMETRY']);

export function quoteMysql(name: string): string {
  return `\`${name.replaceAll('`', '``')}\``;
}

export class MysqlSource {
  private constructor(private readonly connection: Connection, readonly database: string) {}

  static async connect(source: SourceConnection): Promise<MysqlSource> {
    const connection = mysql.createConnection({
      host: source.host,
      port: source.port,
      user: source.user,
      password: source.password,
      database: source.database,
      timezone: 'Z',
      dateStrings: true,
      supportBigNumbers: true,
      bigNumberStrings: true,
      connectTimeout: CONNECT_TIMEOUT_MS,
      ...(source.ssl === 'off' ? {} : { ssl: { rejectUnauthorized: source.ssl === 'verify' } }),
      // JSON, TEXT and BLOB columns as their raw bytes (text columns become strings by their mapped
      // kind): mysql2 would parse MariaDB's JSON (losing digits of big numbers) and decode geometry.
      typeCast: (field, next) => (RAW_TYPES.has(field.type) ? field.buffer() : next()),
    });
    const opened = new MysqlSource(connection, source.database);
    try {
      await opened.query("SET time_zone = '+00:00'");
    } catch (error) {
      connection.destroy();
      throw unreachable(error);
    }
    // Errors of an idle connection (the server went away) surface on the next query instead.
    connection.on('error', () => {});
    return opened;
  }

  /** Metadata and small answers: mysql2's own conversions (text columns as strings), not the raw bytes rows travel as. */
  query<T extends RowDataPacket>(sql: string, params: unknown[] = [], options: { rowsAsArray?: boolean } = {}): Promise<T[]> {
    return new Promise((resolve, reject) => {
      this.connection.query<T[]>({ sql, values: params, typeCast: (_field, next) => next(), ...options }, (error, rows) => (error ? reject(error) : resolve(rows)));
    });
  }

  /**
   * Rows as arrays, in column order, streamed with backpressure. `bufferRows` rows are read ahead
   * while the caller writes the previous batch (so the source and DuckDB work at the same time);
   * past that the socket is paused.
   */
  stream(sql: string, params: unknown[] = [], bufferRows = 2000): AsyncIterable<SourceValue[]> {
    const rows = this.connection.query({ sql, values: params, rowsAsArray: true }).stream({ highWaterMark: bufferRows });
    // mysql2 leaves a paused result stream waiting forever when the socket closes mid-result (the
    // source restarted, a proxy cut it): the run would hang holding its claim. Fail it instead.
    const socket = (this.connection as unknown as { stream?: NodeJS.EventEmitter }).stream;
    const gone = (): void => {
      if (!rows.destroyed) rows.destroy(unreachable(new Error('the connection closed in the middle of a result')));
    };
    socket?.once('close', gone);
    rows.once('close', () => socket?.off('close', gone));
    return rows as AsyncIterable<SourceValue[]>;
  }

  async tables(): Promise<SourceTable[]> {
    const tables = await this.query<RowDataPacket & { name: string; estimate: number | null }>(
      `SELECT TABLE_NAME AS name, TABLE_ROWS AS estimate FROM information_schema.TABLES
        WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME`, [this.database]);
    // Sorted here, not by the server's collation, so the order is the same on every server.
    const names = tables.map((t) => t.name).sort();
    const estimates = new Map(tables.map((t) => [t.name, Number(t.estimate ?? 0)]));
    const all: SourceTable[] = [];
    for (const name of names) all.push(await this.table(name, estimates.get(name)));
    return all;
  }

  async table(name: string, estimatedRows?: number): Promise<SourceTable> {
    const columns = await this.query<RowDataPacket & { name: string; dataType: string; columnType: string; precision: number | null; scale: number | null }>(
      `SELECT COLUMN_NAME AS name, DATA_TYPE AS dataType, COLUMN_TYPE AS columnType, NUMERIC_PRECISION AS \`precision\`, NUMERIC_SCALE AS scale
        FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`, [this.database, name]);
    if (columns.length === 0) throw errors.notFound(`Source table '${name}' not found`);
    const keys = await this.query<RowDataPacket & { name: string }>(
      `SELECT COLUMN_NAME AS name FROM information_schema.KEY_COLUMN_USAGE
        WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND CONSTRAINT_NAME = 'PRIMARY' ORDER BY ORDINAL_POSITION`, [this.database, name]);
    const jsonColumns = await this.mariadbJsonColumns(name);
    let estimate = estimatedRows;
    if (estimate === undefined) {
      const [row] = await this.query<RowDataPacket & { estimate: number | null }>(
        'SELECT TABLE_ROWS AS estimate FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?', [this.database, name]);
      estimate = Number(row?.estimate ?? 0);
    }
    return {
      name,
      columns: columns.map((c) => mapColumn({
        name: c.name, dataType: c.dataType, columnType: c.columnType,
        precision: c.precision === null ? null : Number(c.precision), scale: c.scale === null ? null : Number(c.scale),
        isJson: jsonColumns.has(c.name),
      } satisfies SourceColumn)),
      primaryKey: keys.map((k) => k.name),
      estimatedRows: estimate,
    };
  }

  /** MariaDB keeps JSON as LONGTEXT with a `json_valid(col)` check; MySQL has a real JSON type and no such table rows. */
  private async mariadbJsonColumns(table: string): Promise<Set<string>> {
    try {
      const checks = await this.query<RowDataPacket & { clause: string }>(
        `SELECT CHECK_CLAUSE AS clause FROM information_schema.CHECK_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = ? AND TABLE_NAME = ?`, [this.database, table]);
      const names = new Set<string>();
      for (const { clause } of checks) {
        const match = /^json_valid\(`((?:[^`]|``)+)`\)$/i.exec(clause.trim());
        if (match) names.add(match[1]!.replaceAll('``', '`'));
      }
      return names;
    } catch {
      // MySQL before 8.0.16 has no CHECK_CONSTRAINTS (nor MariaDB's JSON-as-text).
      return new Set();
    }
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.connection.end(() => resolve()));
  }

  destroy(): void {
    this.connection.destroy();
  }
}

export type { FieldPacket };

/** A connection failure as the client's problem to fix (502): the message names the cause, never the password. */
export function unreachable(error: unknown): Error {
  const text = error instanceof Error ? error.message : String(error);
  return errors.sourceUnavailable(`Source unreachable: ${text}`);
}
