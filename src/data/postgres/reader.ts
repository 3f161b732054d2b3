/**
 * Reads PostgreSQL answers into JSON rows under a result budget. Rows come through a cursor
 * (`pg-cursor`: a portal read a few rows at a time), so a 30-million-row answer is never more than
 * one batch in memory, and reading stops one row past the row budget or at the byte budget, then
 * the portal is closed. Bytes are counted as `duckdb/result-reader.ts` counts them (`jsonBytes`),
 * on each row once it is converted: unlike DuckDB's vectors, PostgreSQL's protocol gives no size
 * before a value arrives, so one value (at most PostgreSQL's 1 GB) is in memory before it is refused.
 */
import Cursor from 'pg-cursor';
import { errors } from '../../errors.js';
import { assertBefore } from '../deadline.js';
import type { Json, JsonObject } from '../engine.js';
import { jsonBytes, type BudgetedRows, type ReadBudget } from '../duckdb/result-reader.js';
import type { Client } from './session.js';
import type { PgParam } from './filter.js';

export type { BudgetedRows } from '../duckdb/result-reader.js';

/** Rows per trip: small enough that a batch of wide rows stays far below any byte budget. */
const BATCH = 200;

/** A value as JSON: bytes as base64, non-finite floats as text (JSON has no NaN), dates as ISO text. */
export function toJson(value: unknown): Json {
  if (value === null || value === undefined) return null;
  if (typeof value === 'number') return Number.isFinite(value) ? value : String(value);
  if (typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  if (Buffer.isBuffer(value)) return value.toString('base64');
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  if (Array.isArray(value)) return value.map(toJson);
  if (typeof value === 'object') {
    const out: JsonObject = {};
    for (const [key, item] of Object.entries(value as Record<string, unknown>)) out[key] = toJson(item);
    return out;
  }
  return String(value);
}

/** Duplicate names (`SELECT 1 a, 2 a`) get DuckDB's `a:1` suffix so no column is silently lost. */
export function dedupeNames(names: readonly string[]): string[] {
  const seen = new Map<string, number>();
  const taken = new Set(names);
  return names.map((name) => {
    const count = seen.get(name);
    if (count === undefined) {
      seen.set(name, 0);
      return name;
    }
    let n = count + 1;
    while (taken.has(`${name}:${n}`)) n++;
    seen.set(name, n);
    taken.add(`${name}:${n}`);
    return `${name}:${n}`;
  });
}

export interface CursorAnswer extends BudgetedRows {
  columns: string[];
  /** Rows affected, for a statement that returns none (INSERT without RETURNING…). */
  affected?: { command: string; rows: number };
}

const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Runs `sql` through a cursor and reads it under `budget`. `omitNulls` gives collection records
 * their written shape (a field never set is absent, not null).
 */
export async function readCursor(client: Client, sql: string, params: readonly PgParam[] | readonly unknown[], budget: ReadBudget, omitNulls: boolean): Promise<CursorAnswer> {
  const cursor = client.query(new Cursor(sql, params as unknown[], { rowMode: 'array' }));
  try {
    const rows: JsonObject[] = [];
    let used = 2;
    let names: string[] | undefined;
    let keyBytes: number[] = [];
    for (;;) {
      assertBefore(budget.deadline);
      const batch = (await cursor.read(BATCH)) as unknown[][];
      if (names === undefined) {
        const fields = ((cursor as unknown as { _result?: { fields?: { name: string }[] } })._result?.fields ?? []).map((f) => f.name);
        names = dedupeNames(fields);
        keyBytes = names.map((name) => Buffer.byteLength(name, 'utf8') + 4);
      }
      for (const raw of batch) {
        if (rows.length >= budget.maxRows) return { rows, truncatedBy: 'rows', columns: names };
        const row: JsonObject = {};
        let size = 3;
        for (let i = 0; i < names.length; i++) {
          const value = toJson(raw[i]);
          if (value === null && omitNulls) continue;
          row[names[i]!] = value;
          size += keyBytes[i]! + jsonBytes(value);
        }
        if (used + size > budget.maxBytes) {
          if (rows.length === 0) throw errors.resultTooLarge(budget.maxBytes);
          return { rows, truncatedBy: 'bytes', columns: names };
        }
        used += size;
        rows.push(row);
      }
      if (batch.length < BATCH) {
        // No RowDescription: a write without RETURNING; its CommandComplete tag carries the count.
        const done = (cursor as unknown as { _result?: { command?: string | null; rowCount?: number | null } })._result;
        if (names.length === 0 && typeof done?.command === 'string' && typeof done.rowCount === 'number') {
          return { rows, columns: names, affected: { command: done.command, rows: done.rowCount } };
        }
        return { rows, columns: names };
      }
      await yieldToLoop();
    }
  } finally {
    await new Promise<void>((resolve) => cursor.close(() => resolve()));
  }
}
