import {
  DuckDBArrayType,
  DuckDBBlobValue,
  DuckDBDecimalValue,
  DuckDBListType,
  DuckDBListValue,
  DuckDBArrayValue,
  DuckDBMapType,
  DuckDBMapValue,
  DuckDBStructType,
  DuckDBStructValue,
  DuckDBTimestampTZValue,
  DuckDBTypeId,
  JsonDuckDBValueConverter,
  type DuckDBMaterializedResult,
  type DuckDBResult,
  type DuckDBType,
  type DuckDBValue,
} from '@duckdb/node-api';
import type { Json, JsonObject } from '../engine.js';

/** Converts one DuckDB value of a known column type into JSON that survives `JSON.stringify`. */
export type ValueConverter = (value: DuckDBValue) => Json;

function bigintToJson(value: bigint): Json {
  // Beyond 2^53 a JSON number silently loses digits; a string keeps them.
  return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value.toString();
}

function numberToJson(value: number): Json {
  // JSON has no NaN/Infinity; JSON.stringify would turn them into null and hide the value.
  return Number.isFinite(value) ? value : String(value);
}

function parseJsonText(text: string): Json {
  try {
    return JSON.parse(text) as Json;
  } catch {
    return text;
  }
}

/** Builds the converter once per column so the per-row work is a single switch-free call. */
export function converterFor(type: DuckDBType): ValueConverter {
  switch (type.typeId) {
    case DuckDBTypeId.BOOLEAN:
      return (v) => (v === null ? null : Boolean(v));
    case DuckDBTypeId.TINYINT:
    case DuckDBTypeId.SMALLINT:
    case DuckDBTypeId.INTEGER:
    case DuckDBTypeId.UTINYINT:
    case DuckDBTypeId.USMALLINT:
    case DuckDBTypeId.UINTEGER:
    case DuckDBTypeId.FLOAT:
    case DuckDBTypeId.DOUBLE:
      return (v) => (v === null ? null : numberToJson(v as number));
    case DuckDBTypeId.BIGINT:
    case DuckDBTypeId.UBIGINT:
    case DuckDBTypeId.HUGEINT:
    case DuckDBTypeId.UHUGEINT:
    case DuckDBTypeId.BIGNUM:
      return (v) => (v === null ? null : typeof v === 'bigint' ? bigintToJson(v) : (v as Json));
    case DuckDBTypeId.DECIMAL:
      return (v) => (v instanceof DuckDBDecimalValue ? numberToJson(v.toDouble()) : null);
    case DuckDBTypeId.VARCHAR:
      // JSON is a VARCHAR with an alias: parse it so objects come back as objects, not strings.
      return type.alias === 'JSON' ? (v) => (v === null ? null : parseJsonText(v as string)) : (v) => (v === null ? null : (v as string));
    case DuckDBTypeId.BLOB:
      return (v) => (v instanceof DuckDBBlobValue ? Buffer.from(v.bytes).toString('base64') : null);
    case DuckDBTypeId.DATE:
    case DuckDBTypeId.TIME:
    case DuckDBTypeId.TIME_TZ:
    case DuckDBTypeId.TIME_NS:
    case DuckDBTypeId.UUID:
    case DuckDBTypeId.ENUM:
    case DuckDBTypeId.BIT:
      return (v) => (v === null ? null : String(v));
    case DuckDBTypeId.TIMESTAMP:
    case DuckDBTypeId.TIMESTAMP_S:
    case DuckDBTypeId.TIMESTAMP_MS:
    case DuckDBTypeId.TIMESTAMP_NS:
      // A naive timestamp: ISO 8601 without a zone, keeping DuckDB's sub-second digits.
      return (v) => (v === null ? null : String(v).replace(' ', 'T'));
    case DuckDBTypeId.TIMESTAMP_TZ:
      return (v) => {
        if (!(v instanceof DuckDBTimestampTZValue)) return null;
        const ms = Number(v.micros / 1000n);
        return Number.isFinite(ms) && Math.abs(ms) <= 8.64e15 ? new Date(ms).toISOString() : String(v);
      };
    case DuckDBTypeId.LIST:
    case DuckDBTypeId.ARRAY: {
      const item = converterFor((type as DuckDBListType | DuckDBArrayType).valueType);
      return (v) => (v instanceof DuckDBListValue || v instanceof DuckDBArrayValue ? v.items.map(item) : null);
    }
    case DuckDBTypeId.STRUCT: {
      const struct = type as DuckDBStructType;
      const entries = struct.entryNames.map((name, i) => [name, converterFor(struct.entryTypes[i]!)] as const);
      return (v) => {
        if (!(v instanceof DuckDBStructValue)) return null;
        const out: JsonObject = {};
        for (const [name, convert] of entries) out[name] = convert(v.entries[name] ?? null);
        return out;
      };
    }
    case DuckDBTypeId.MAP: {
      const map = type as DuckDBMapType;
      const key = converterFor(map.keyType);
      const value = converterFor(map.valueType);
      return (v) => {
        if (!(v instanceof DuckDBMapValue)) return null;
        const out: JsonObject = {};
        for (const entry of v.entries) out[String(key(entry.key))] = value(entry.value);
        return out;
      };
    }
    default:
      // Intervals, unions, variants, geometry: the library's own JSON rendering is good enough.
      return (v) => (v === null ? null : (JsonDuckDBValueConverter(v, type, JsonDuckDBValueConverter) as Json));
  }
}

export interface ResultColumns {
  names: string[];
  converters: ValueConverter[];
  /** Column types, for the budgeted reader's size checks of nested values. */
  types: DuckDBType[];
}

/** Duplicate names (`SELECT 1 a, 2 a`) get DuckDB's `a:1` suffix so no column is silently lost. */
export function resultColumns(result: DuckDBResult): ResultColumns {
  const names = result.deduplicatedColumnNames();
  const types = names.map((_, i) => result.columnType(i));
  return { names, converters: types.map(converterFor), types };
}

/**
 * Reads a materialized result synchronously chunk by chunk. `getChunk` needs no trip through the
 * libuv pool, unlike `fetchChunk`/`runAndReadAll`, which matters on the point-read hot path.
 * `omitNulls` gives collection records their written shape: a field never set is absent, not null.
 */
export function readRows(result: DuckDBMaterializedResult, columns: ResultColumns, omitNulls: boolean): JsonObject[] {
  const rows: JsonObject[] = [];
  const chunkCount = result.chunkCount;
  const width = columns.names.length;
  for (let c = 0; c < chunkCount; c++) {
    const chunk = result.getChunk(c);
    const rowCount = chunk.rowCount;
    if (rowCount === 0) continue;
    const vectors = Array.from({ length: width }, (_, i) => chunk.getColumnVector(i));
    for (let r = 0; r < rowCount; r++) {
      const row: JsonObject = {};
      for (let i = 0; i < width; i++) {
        const raw = vectors[i]!.getItem(r);
        if (raw === null) {
          if (!omitNulls) row[columns.names[i]!] = null;
          continue;
        }
        row[columns.names[i]!] = columns.converters[i]!(raw);
      }
      rows.push(row);
    }
  }
  return rows;
}
