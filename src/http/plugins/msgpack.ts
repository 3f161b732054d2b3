/**
 * MessagePack on the record routes, as ekoDB's official client speaks it by default (its
 * `makeRequest` sends `Content-Type` and `Accept: application/msgpack` on insert, update and delete,
 * and decodes any 2xx answer as msgpack). A body in msgpack goes through the same path as JSON: the
 * same size limit (Fastify's `bodyLimit`, enforced before parsing), the same nesting limit
 * (MAX_JSON_DEPTH, checked by a linear scan before anything is decoded), the same prototype
 * protections, then the route's schema. Access is decided in `onRequest`, before any of this runs.
 *
 * Only JSON's value types are accepted: a msgpack binary, an extension type or a map with
 * non-string keys has no JSON spelling, so it is refused (400 `invalid_msgpack`) rather than stored
 * as something a JSON reader would see differently. A msgpack timestamp (what an encoder makes of a
 * JS `Date`) becomes its ISO string, as `JSON.stringify` would have sent it.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Packr, Unpackr } from 'msgpackr';
import { ApiError } from '../../errors.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** This route takes msgpack bodies and answers in msgpack when `Accept` asks for it. */
    msgpack?: boolean;
  }
  interface FastifyRequest {
    /** This request's answer (success or error) is encoded in msgpack (`decorateRequest`). */
    answersMsgpack: boolean;
  }
}

export const MSGPACK = 'application/msgpack';
const MSGPACK_TYPES = [MSGPACK, 'application/x-msgpack'];

// `useRecords: false`: plain msgpack maps, which every other msgpack library (ekoDB's client uses
// `@msgpack/msgpack`) decodes; msgpackr's record extension would be unreadable to them.
const packr = new Packr({ useRecords: false, variableMapSize: true });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number' });

/** Encodes one answer; exported for the bench and tests. */
export function encodeMsgpack(value: unknown): Buffer {
  return packr.pack(value);
}

export function decodeMsgpack(buffer: Uint8Array): unknown {
  return unpackr.unpack(buffer);
}

/** Whether the answer to `request` (success or error) is encoded in msgpack. */
export function answersInMsgpack(request: FastifyRequest): boolean {
  return request.answersMsgpack;
}

/** Routes opt in with `config: { msgpack: true }`. */
function routeSpeaksMsgpack(request: FastifyRequest): boolean {
  return request.routeOptions.config?.msgpack === true;
}

/**
 * Installs the msgpack body parser and answer encoding. Register before authentication's hooks, so
 * that a 401 or 429 to a msgpack client is in msgpack too.
 */
export function installMsgpack(app: FastifyInstance, maxDepth: number): void {
  app.addContentTypeParser(MSGPACK_TYPES, { parseAs: 'buffer' }, (request, body, done) => {
    const buffer = body as Buffer;
    if (!routeSpeaksMsgpack(request)) {
      return done(new ApiError(415, 'unsupported_media_type', 'Content-Type application/msgpack is accepted on the record routes only; send application/json'), undefined);
    }
    // ekoDB's client sends `DELETE` with a Content-Type and no body: no body is no body.
    if (buffer.length === 0) {
      return bodyless(request.method) ? done(null, undefined) : done(invalidMsgpack('Request body is empty but Content-Type is application/msgpack'), undefined);
    }
    const scan = scanMsgpack(buffer, maxDepth);
    if (scan === 'too-deep') return done(new ApiError(400, 'json_too_deep', `Request body nests deeper than ${maxDepth} levels`), undefined);
    if (scan === 'proto') return done(invalidMsgpack('Request body has a forbidden prototype property'), undefined);
    if (scan === 'key') return done(invalidMsgpack('Request body has a map key that is not a string'), undefined);
    if (scan === 'malformed') return done(invalidMsgpack('Request body is not valid MessagePack'), undefined);
    let value: unknown;
    try {
      value = decodeMsgpack(buffer);
    } catch {
      return done(invalidMsgpack('Request body is not valid MessagePack'), undefined);
    }
    try {
      done(null, asJson(value, ''));
    } catch (error) {
      done(error as Error, undefined);
    }
  });

  app.decorateRequest('answersMsgpack', false);
  // Callback style, and the cheap test first: most requests name no msgpack at all, and an async
  // hook would cost each of them a promise.
  app.addHook('onRequest', (request, reply, done) => {
    if (prefersMsgpack(request.headers.accept) && routeSpeaksMsgpack(request)) {
      request.answersMsgpack = true;
      // Fastify types a serializer as returning text; a Buffer is sent as is (with its length).
      reply.serializer(encodeMsgpack as unknown as (payload: unknown) => string);
      reply.type(MSGPACK);
    }
    done();
  });
}

/** Methods whose body is optional: an empty one with a Content-Type is treated as absent. */
export function bodyless(method: string): boolean {
  return method === 'DELETE' || method === 'GET' || method === 'HEAD' || method === 'OPTIONS';
}

function invalidMsgpack(message: string): ApiError {
  return new ApiError(400, 'invalid_msgpack', message);
}

/**
 * True when `Accept` ranks msgpack above JSON (ties: whichever is listed first). No `Accept`, or
 * one naming neither, keeps JSON.
 */
export function prefersMsgpack(accept: string | undefined): boolean {
  if (accept === undefined || !accept.includes('msgpack')) return false;
  let msgpack = -1;
  let json = -1;
  let msgpackAt = Infinity;
  let jsonAt = Infinity;
  accept.split(',').forEach((part, index) => {
    const [type = '', ...params] = part.trim().toLowerCase().split(';');
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    const weight = q === undefined ? 1 : Number(q.slice(2));
    const quality = Number.isFinite(weight) ? weight : 0;
    if (MSGPACK_TYPES.includes(type.trim()) && quality > msgpack) { msgpack = quality; msgpackAt = index; }
    if ((type.trim() === 'application/json' || type.trim() === '*/*' || type.trim() === 'application/*') && quality > json) { json = quality; jsonAt = index; }
  });
  if (msgpack <= 0) return false;
  return msgpack > json || (msgpack === json && msgpackAt < jsonAt);
}

/**
 * One linear pass over the encoded bytes, before decoding: nesting deeper than `maxDepth`, a map
 * key `__proto__`, or bytes that are not one complete msgpack value. No recursion, so a body of a
 * million nested one-element arrays costs a million steps and no stack. A map key that is not a
 * string is reported too (`key`).
 */
export function scanMsgpack(buf: Uint8Array, maxDepth: number): 'ok' | 'too-deep' | 'proto' | 'key' | 'malformed' {
  // Per open container: items left, and whether it is a map (its even-numbered items are keys).
  const left: number[] = [];
  const isMap: boolean[] = [];
  let i = 0;
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const need = (n: number): boolean => i + n <= buf.length;
  while (true) {
    if (!need(1)) return 'malformed';
    const b = buf[i++]!;
    const atKey = left.length > 0 && isMap[isMap.length - 1] === true && left[left.length - 1]! % 2 === 0;
    let children = -1; // -1: a scalar; otherwise a container of that many items
    let map = false;
    let skip = 0;
    let strLen = -1;
    if (b <= 0x7f || b >= 0xe0 || (b >= 0xc0 && b <= 0xc3)) skip = 0;
    else if (b >= 0x80 && b <= 0x8f) { children = (b & 0x0f) * 2; map = true; }
    else if (b >= 0x90 && b <= 0x9f) children = b & 0x0f;
    else if (b >= 0xa0 && b <= 0xbf) strLen = b & 0x1f;
    else {
      switch (b) {
        case 0xc4: case 0xd9: if (!need(1)) return 'malformed'; skip = buf[i]!; i += 1; if (b === 0xd9) { strLen = skip; skip = 0; } break;
        case 0xc5: case 0xda: if (!need(2)) return 'malformed'; skip = view.getUint16(i); i += 2; if (b === 0xda) { strLen = skip; skip = 0; } break;
        case 0xc6: case 0xdb: if (!need(4)) return 'malformed'; skip = view.getUint32(i); i += 4; if (b === 0xdb) { strLen = skip; skip = 0; } break;
        case 0xc7: if (!need(1)) return 'malformed'; skip = buf[i]! + 1; i += 1; break;
        case 0xc8: if (!need(2)) return 'malformed'; skip = view.getUint16(i) + 1; i += 2; break;
        case 0xc9: if (!need(4)) return 'malformed'; skip = view.getUint32(i) + 1; i += 4; break;
        case 0xca: skip = 4; break;
        case 0xcb: skip = 8; break;
        case 0xcc: case 0xd0: skip = 1; break;
        case 0xcd: case 0xd1: skip = 2; break;
        case 0xce: case 0xd2: skip = 4; break;
        case 0xcf: case 0xd3: skip = 8; break;
        case 0xd4: skip = 2; break;
        case 0xd5: skip = 3; break;
        case 0xd6: skip = 5; break;
        case 0xd7: skip = 9; break;
        case 0xd8: skip = 17; break;
        case 0xdc: if (!need(2)) return 'malformed'; children = view.getUint16(i); i += 2; break;
        case 0xdd: if (!need(4)) return 'malformed'; children = view.getUint32(i); i += 4; break;
        case 0xde: if (!need(2)) return 'malformed'; children = view.getUint16(i) * 2; map = true; i += 2; break;
        case 0xdf: if (!need(4)) return 'malformed'; children = view.getUint32(i) * 2; map = true; i += 4; break;
        default: return 'malformed'; // 0xc1: never used
      }
    }
    // JSON's object keys are strings; msgpackr would turn any other key into one, silently.
    if (atKey && strLen < 0) return 'key';
    if (strLen >= 0) {
      if (!need(strLen)) return 'malformed';
      if (atKey && strLen === 9 && Buffer.from(buf.buffer, buf.byteOffset + i, 9).toString('latin1') === '__proto__') return 'proto';
      i += strLen;
    } else if (skip > 0) {
      if (!need(skip)) return 'malformed';
      i += skip;
    }
    if (children > 0) {
      // Each item takes at least one byte: a count past the bytes left is a lie, not a big value.
      if (children > buf.length - i) return 'malformed';
      if (left.length + 1 > maxDepth) return 'too-deep';
      left.push(children);
      isMap.push(map);
      continue;
    }
    if (children === 0 && left.length + 1 > maxDepth) return 'too-deep';
    // One item done: close every container it completes.
    while (left.length > 0) {
      const top = left.length - 1;
      left[top]!--;
      if (left[top]! > 0) break;
      left.pop();
      isMap.pop();
    }
    if (left.length === 0) return i === buf.length ? 'ok' : 'malformed';
  }
}

/** The decoded value as JSON would carry it; 400 `invalid_msgpack` for what JSON cannot say. */
function asJson(value: unknown, path: string): unknown {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (value === undefined) return null;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw invalidMsgpack(`${path || 'body'}: ${value} has no JSON form`);
    return value;
  }
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw invalidMsgpack(`${path || 'body'}: invalid timestamp`);
    return value.toISOString();
  }
  if (Array.isArray(value)) {
    for (let k = 0; k < value.length; k++) value[k] = asJson(value[k], `${path}/${k}`);
    return value;
  }
  if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    const object = value as Record<string, unknown>;
    for (const key of Object.keys(object)) {
      const child = object[key];
      // secure-json-parse's `constructorAction: 'error'`, as the JSON parser applies it.
      if (key === 'constructor' && child !== null && typeof child === 'object' && Object.hasOwn(child, 'prototype')) {
        throw invalidMsgpack('Request body has a forbidden prototype property');
      }
      object[key] = asJson(child, `${path}/${key}`);
    }
    return object;
  }
  throw invalidMsgpack(`${path || 'body'}: binary data, extension types and non-string map keys have no JSON form`);
}
