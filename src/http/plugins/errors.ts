/**
 * One place renders every failure as `{ error, code, details? }` (CONTRACT.md §3). Fastify's own
 * errors (bad JSON, too large, wrong media type, schema violations) are mapped to stable codes;
 * anything unexpected becomes a plain 500 whose details go to the log, never to the client.
 */
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance } from 'fastify';
import { ApiError, isApiError } from '../../errors.js';
import { answersInMsgpack, MSGPACK } from './msgpack.js';

export interface ErrorHandlerOptions {
  /** Called for every 401/403/429 the auth path produces, e.g. to count failures by code. */
  onAuthFailure?: (error: ApiError) => void;
}

const FASTIFY_CODES: Record<string, (e: FastifyError) => ApiError> = {
  FST_ERR_CTP_INVALID_JSON_BODY: () => new ApiError(400, 'invalid_json', 'Request body is not valid JSON'),
  FST_ERR_CTP_EMPTY_JSON_BODY: () => new ApiError(400, 'invalid_json', 'Request body is empty but Content-Type is application/json'),
  FST_ERR_CTP_BODY_TOO_LARGE: () => new ApiError(413, 'payload_too_large', 'Request body is larger than the server accepts'),
  FST_ERR_CTP_INVALID_MEDIA_TYPE: () => new ApiError(415, 'unsupported_media_type', 'Content-Type must be application/json (or application/msgpack on the record routes)'),
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: () => new ApiError(400, 'invalid_content_length', 'Content-Length does not match the body'),
};

export function installErrorHandling(app: FastifyInstance, options: ErrorHandlerOptions = {}): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const apiError = toApiError(error);
    if (apiError.status === 500) {
      request.log.error({ err: error }, 'unhandled error');
    }
    if (apiError.status === 401 || apiError.status === 403 || apiError.status === 429) {
      options.onAuthFailure?.(apiError);
    }
    if (apiError.status === 401) reply.header('WWW-Authenticate', 'Bearer');
    if (apiError.headers) reply.headers(apiError.headers);
    // Refused before its body arrived (no credential, throttled, no in-flight slot): close the
    // connection with the answer, rather than keep it open to read a slow body only to discard it.
    if (!request.raw.complete) reply.header('Connection', 'close');
    const body: { error: string; code: string; details?: unknown } = { error: apiError.message, code: apiError.code };
    if (apiError.details !== undefined) body.details = apiError.details;
    // Fastify drops the Content-Type before an error is rendered; a msgpack client's errors stay msgpack.
    if (answersInMsgpack(request)) reply.type(MSGPACK);
    return reply.status(apiError.status).send(body);
  });

  app.setNotFoundHandler(
    { preValidation: undefined },
    (request, reply) => reply.status(404).send({ error: `Route ${request.method} ${request.url.split('?')[0]} not found`, code: 'not_found' }),
  );
}

function toApiError(error: FastifyError): ApiError {
  if (isApiError(error)) return error;
  if (error.validation) {
    const details = error.validation.map((v) => ({
      path: `${error.validationContext ?? 'body'}${v.instancePath}`,
      message: v.message ?? 'is invalid',
    }));
    const first = details[0];
    return new ApiError(400, 'validation_failed', first ? `${first.path} ${first.message}` : 'Request is invalid', details);
  }
  const mapped = error.code ? FASTIFY_CODES[error.code] : undefined;
  if (mapped) return mapped(error);
  if (typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500) {
    return new ApiError(error.statusCode, 'bad_request', error.message);
  }
  return new ApiError(500, 'internal_error', 'Internal server error');
}

/**
 * Errors Node's HTTP parser raises before Fastify sees a request (headers over MAX_HEADER_SIZE,
 * a request not received in time, malformed requests) still answer in the contract's shape, then
 * close the connection.
 */
export function clientErrorHandler(error: NodeJS.ErrnoException, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed || !socket.writable) {
    socket.destroy();
    return;
  }
  const [status, code, message] = error.code === 'HPE_HEADER_OVERFLOW'
    ? [431, 'headers_too_large', 'Request headers are larger than the server accepts']
    : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [408, 'request_timeout', 'The request was not received in time (HEADERS_TIMEOUT_MS, REQUEST_RECEIVE_TIMEOUT_MS)']
      : [400, 'bad_request', 'Malformed HTTP request'];
  const body = JSON.stringify({ error: message, code });
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\n`
    + `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}
