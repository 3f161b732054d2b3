/**
 * Large row answers go out as a stream of JSON text slices instead of one string: serialising and
 * writing a 32 MB answer in one call held the event loop for 0.5-1 s, and a million rows for
 * seconds. Each slice is about `SLICE_BYTES`; the next one is only made when the socket has taken
 * the last (the stream's backpressure), so other requests run in between.
 */
import { Readable } from 'node:stream';
import type { FastifyReply } from 'fastify';
import type { JsonObject, QueryResult } from '../data/engine.js';
import { jsonBytes } from '../data/duckdb/result-reader.js';

const SLICE_BYTES = 256 * 1024;
/** Below this (estimated from the first row) an answer is sent the ordinary way. */
const STREAM_FROM_BYTES = 1024 * 1024;

/** `head` + `[rows…]` + `tail`, produced a slice at a time. Rows are JSON-safe (the reader's output). */
export function jsonSlices(head: string, rows: readonly JsonObject[], tail: string): Readable {
  let next = 0;
  let opened = false;
  return new Readable({
    highWaterMark: SLICE_BYTES,
    read() {
      let slice = opened ? '' : `${head}[`;
      opened = true;
      while (next < rows.length && slice.length < SLICE_BYTES) {
        slice += (next > 0 ? ',' : '') + JSON.stringify(rows[next]);
        next++;
      }
      if (next >= rows.length) {
        this.push(`${slice}]${tail}`);
        this.push(null);
        return;
      }
      this.push(slice);
    },
  });
}

/** Whether an answer of `rows` goes out as slices (estimated from the first row). */
export function isLarge(rows: readonly JsonObject[]): boolean {
  return rows.length > 0 && jsonBytes(rows[0]!) * rows.length >= STREAM_FROM_BYTES;
}

/** `/api/query`'s answer: as is when small, as a stream of slices when large. */
export function sendQueryAnswer(reply: FastifyReply, answer: QueryResult): QueryResult | FastifyReply {
  if (!isLarge(answer.result)) return answer;
  const { result, ...rest } = answer;
  const tail = JSON.stringify(rest).slice(1);
  return reply.type('application/json; charset=utf-8').send(jsonSlices('{"result":', result, tail.length > 1 ? `,${tail}` : tail));
}
