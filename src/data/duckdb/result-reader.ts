/**
 * Reads a DuckDB result into JSON rows under a result budget (rows and bytes) and a deadline.
 *
 * Bytes are an estimate of the answer's JSON, counted value by value as rows are converted, so a
 * reader stops within one value of its budget instead of after building everything:
 * - strings: their UTF-8 length plus quotes (escapes not counted); JSON text: its length;
 * - numbers: their digits when integral, 18 otherwise; booleans and null: their literal;
 * - keys: their length plus quotes, colon and comma; nested values: the sum of their parts.
 * Before a value is materialised, what can be known of its size from the vectors alone is checked:
 * a string's or blob's length from its header, a lower bound (two bytes per element) for a LIST,
 * ARRAY, STRUCT or MAP. A 100 MB string or a list of 30 million items is refused without ever
 * becoming a JS string or 30 million JS values (see `vector-internals.ts`).
 *
 * Chunks come from a stream (each `fetchChunk` is a trip through the libuv pool, so the event
 * loop breathes between them) or from a materialised result (the loop yields between chunks),
 * and the reader also yields after every megabyte it converts within a chunk.
 */
import {
  DuckDBArrayType,
  DuckDBArrayVector,
  DuckDBListVector,
  DuckDBMapVector,
  DuckDBMaterializedResult,
  DuckDBStructVector,
  DuckDBTypeId,
  type DuckDBDataChunk,
  type DuckDBResult,
  type DuckDBType,
  type DuckDBVector,
} from '@duckdb/node-api';
import { errors } from '../../errors.js';
import { assertBefore } from '../deadline.js';
import type { Json, JsonObject, Rows } from '../engine.js';
import type { Truncation } from '../limits.js';
import type { ResultColumns } from './values.js';
import { mapEntries, peekStringBytes } from './vector-internals.js';

export interface ReadBudget {
  maxRows: number;
  maxBytes: number;
  /** `performance.now()` deadline, checked between chunks. */
  deadline?: number;
}

export interface BudgetedRows {
  rows: JsonObject[];
  /** Set when rows were left out: the next one would have broken this budget. */
  truncatedBy?: Truncation;
}

/** The bytes of a string as UTF-8. */
function utf8(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

function numberBytes(value: number): number {
  if (!Number.isInteger(value) || Math.abs(value) >= 1e15) return 18;
  let digits = value < 0 ? 2 : 1;
  for (let bound = 10, magnitude = Math.abs(value); magnitude >= bound; bound *= 10) digits++;
  return digits;
}

/** Estimated JSON size of a converted value (see the module comment). */
export function jsonBytes(value: Json): number {
  if (value === null) return 4;
  switch (typeof value) {
    case 'string':
      return utf8(value) + 2;
    case 'number':
      return numberBytes(value);
    case 'boolean':
      return value ? 4 : 5;
    default: {
      let total = 2;
      if (Array.isArray(value)) {
        for (const item of value) total += jsonBytes(item) + 1;
      } else {
        for (const key in value) total += utf8(key) + 4 + jsonBytes(value[key]!);
      }
      return total;
    }
  }
}

function isNested(type: DuckDBType): boolean {
  const id = type.typeId;
  return id === DuckDBTypeId.LIST || id === DuckDBTypeId.ARRAY || id === DuckDBTypeId.STRUCT || id === DuckDBTypeId.MAP;
}

/**
 * A lower bound of the JSON size of row `index` of a nested vector, read from list offsets and
 * lengths only; stops counting once it passes `cap`. NULL entries have length 0.
 */
function minBytes(vector: DuckDBVector, index: number, cap: number): number {
  if (vector instanceof DuckDBListVector) return listMinBytes(vector, index, cap);
  if (vector instanceof DuckDBMapVector) {
    const entries = mapEntries(vector);
    return entries === undefined ? 0 : listMinBytes(entries, index, cap);
  }
  if (vector instanceof DuckDBArrayVector) {
    const type = vector.type;
    return type instanceof DuckDBArrayType ? 2 + 2 * type.length : 0;
  }
  if (vector instanceof DuckDBStructVector) {
    let total = 2;
    const count = vector.type.entryCount;
    for (let i = 0; i < count && total <= cap; i++) total += minBytes(vector.entryVectorAt(i), index, cap - total);
    return total;
  }
  return 0;
}

function listMinBytes(vector: DuckDBListVector, index: number, cap: number): number {
  const child = vector.childVector;
  const start = Math.min(vector.getEntryOffset(index), child.itemCount);
  const end = Math.min(start + vector.getEntryLength(index), child.itemCount);
  let total = 2 + 2 * (end - start);
  if (total > cap || !isNested(child.type)) return total;
  for (let i = start; i < end && total <= cap; i++) total += minBytes(child, i, cap - total);
  return total;
}

const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Converting more than this many bytes without a pause blocked other requests noticeably (~5 ms per MB of text). */
const BYTES_PER_SLICE = 1024 * 1024;

/**
 * Rows of `result` until it ends or the budget is spent. Over the row budget or the byte budget
 * the answer stops at a row boundary and says which; a first row alone over the byte budget is
 * 400 `result_too_large` (there is no boundary to stop at). Past the deadline: 408.
 */
export async function readBudgeted(result: DuckDBResult, columns: ResultColumns, budget: ReadBudget, omitNulls: boolean): Promise<BudgetedRows> {
  const { names, converters, types } = columns;
  const width = names.length;
  const keyBytes = names.map((name) => utf8(name) + 4);
  const nested = types.map(isNested);
  const anyNested = nested.some(Boolean);
  const materialized = result instanceof DuckDBMaterializedResult ? result : undefined;
  const rows: JsonObject[] = [];
  let used = 2;
  let usedAtPause = used;
  const overBytes = (): BudgetedRows => {
    if (rows.length === 0) throw errors.resultTooLarge(budget.maxBytes);
    return { rows, truncatedBy: 'bytes' };
  };

  for (let chunkIndex = 0; ; chunkIndex++) {
    assertBefore(budget.deadline);
    let chunk: DuckDBDataChunk | null;
    if (materialized !== undefined) {
      if (chunkIndex >= materialized.chunkCount) break;
      if (chunkIndex > 0) {
        await yieldToLoop();
        assertBefore(budget.deadline);
      }
      chunk = materialized.getChunk(chunkIndex);
    } else {
      chunk = await result.fetchChunk();
      if (chunk === null || chunk.rowCount === 0) break;
    }
    const rowCount = chunk.rowCount;
    if (rowCount === 0) continue;
    const vectors = Array.from({ length: width }, (_, i) => chunk.getColumnVector(i));
    for (let r = 0; r < rowCount; r++) {
      if (rows.length >= budget.maxRows) return { rows, truncatedBy: 'rows' };
      const room = budget.maxBytes - used;
      // Braces, and the comma before the next row.
      let size = 3;
      if (anyNested) {
        let bound = size;
        for (let i = 0; i < width && bound <= room; i++) if (nested[i]) bound += keyBytes[i]! + minBytes(vectors[i]!, r, room - bound);
        if (bound > room) return overBytes();
      }
      const row: JsonObject = {};
      for (let i = 0; i < width; i++) {
        const stored = peekStringBytes(vectors[i]!, r);
        if (stored !== undefined && size + keyBytes[i]! + (types[i]!.typeId === DuckDBTypeId.BLOB ? (stored * 4) / 3 : stored) > room) return overBytes();
        const raw = vectors[i]!.getItem(r);
        if (raw === null) {
          if (!omitNulls) {
            row[names[i]!] = null;
            size += keyBytes[i]! + 4;
          }
          continue;
        }
        // Text is measured before it is parsed (a JSON column); DuckDB's header has its UTF-8 length.
        if (typeof raw === 'string') {
          size += keyBytes[i]! + (stored ?? utf8(raw)) + 2;
          if (size > room) return overBytes();
          row[names[i]!] = converters[i]!(raw);
          continue;
        }
        const value = converters[i]!(raw);
        size += keyBytes[i]! + jsonBytes(value);
        if (size > room) return overBytes();
        row[names[i]!] = value;
      }
      rows.push(row);
      used += size;
      if (used - usedAtPause > BYTES_PER_SLICE) {
        await yieldToLoop();
        assertBefore(budget.deadline);
        usedAtPause = used;
      }
    }
  }
  return { rows };
}

/** The rows a reader produced, marked (and only then) when the budget cut them short. */
export function asRows(read: BudgetedRows): Rows {
  const rows: Rows = read.rows;
  if (read.truncatedBy !== undefined) rows.truncatedBy = read.truncatedBy;
  return rows;
}
