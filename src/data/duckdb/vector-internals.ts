/**
 * Sizes read from DuckDB vectors without materialising their values, for the result reader's
 * budget checks. `@duckdb/node-api` keeps what is needed (a VARCHAR's `string_t` headers, a
 * vector's validity mask, a MAP's underlying LIST) in private fields: each is looked up by shape
 * at run time, and when a library release changes the shape these answer `undefined` and the
 * reader falls back to measuring the converted value. `result-reader.test.ts` pins them.
 */
import { DuckDBBlobVector, DuckDBListVector, DuckDBVarCharVector, type DuckDBMapVector, type DuckDBVector } from '@duckdb/node-api';

interface Validity {
  itemValid(index: number): boolean;
}

function validityOf(vector: DuckDBVector): Validity | undefined {
  const validity = (vector as unknown as { validity?: Partial<Validity> }).validity;
  return typeof validity?.itemValid === 'function' ? (validity as Validity) : undefined;
}

/**
 * The byte length of row `index` of a VARCHAR (JSON included) or BLOB vector, read from DuckDB's
 * 16-byte `string_t` header (length first, little-endian); undefined for NULL, other vectors, or
 * when the internals are not there.
 */
export function peekStringBytes(vector: DuckDBVector, index: number): number | undefined {
  if (!(vector instanceof DuckDBVarCharVector) && !(vector instanceof DuckDBBlobVector)) return undefined;
  const view = (vector as unknown as { dataView?: unknown }).dataView;
  const validity = validityOf(vector);
  if (!(view instanceof DataView) || validity === undefined || (index + 1) * 16 > view.byteLength) return undefined;
  if (!validity.itemValid(index)) return undefined;
  return view.getUint32(index * 16, true);
}

/** A MAP vector's entries: a LIST of key/value STRUCTs, undefined when the internals are not there. */
export function mapEntries(vector: DuckDBMapVector): DuckDBListVector | undefined {
  const inner = (vector as unknown as { listVector?: unknown }).listVector;
  return inner instanceof DuckDBListVector ? inner : undefined;
}
