/**
 * Duckling's WebSocket protocol on the wire (seed 000's SDK, `@chittihq/duckling`: the message and
 * answer shapes follow its `packages/sdk/src/types.ts` and its server's `websocketService.ts`).
 * Text frames of JSON. A client sends `{ id, type: 'auth' | 'ping' | 'query', … }`; every answer is
 * `{ id, success, result?, error?, duration? }`, `duration` in milliseconds. duckgate adds `code`
 * (and the HTTP `status` the same refusal has) to every failure, `retryAfter` to a rate-limited
 * one, and `truncated`/`truncatedBy`/`columns` to a query's answer, extra fields that Duckling's SDK
 * ignores.
 */
import secureJson from 'secure-json-parse';
import { Type, type Static } from 'typebox';
import { Compile } from 'typebox/compile';
import { ApiError } from '../../errors.js';
import { QueryParams } from '../../contract/index.js';
import { nestingExceeds } from '../plugins/json-body.js';

/** Duckling's SDK sends string ids (`${Date.now()}-${n}`); numbers are echoed as given too. */
const MessageId = Type.Union([Type.String({ maxLength: 256 }), Type.Number()]);

const AuthMessage = Type.Object({ id: MessageId, type: Type.Literal('auth'), apiKey: Type.Optional(Type.String()) });
const PingMessage = Type.Object({ id: MessageId, type: Type.Literal('ping') });
const QueryMessage = Type.Object({
  id: MessageId,
  type: Type.Literal('query'),
  // Its length is the data layer's to judge (MAX_SQL_LENGTH → statement_too_large), as on HTTP.
  sql: Type.String({ minLength: 1 }),
  // Duckling's SDK sends `params: undefined` (dropped by JSON) or an array; `$name` objects work as on HTTP.
  params: Type.Optional(Type.Union([QueryParams, Type.Null()])),
});

export const ClientMessage = Type.Union([AuthMessage, PingMessage, QueryMessage]);
export type ClientMessage = Static<typeof ClientMessage>;
export type MessageIdValue = Static<typeof MessageId>;

const checkMessage = Compile(ClientMessage);

export type ParsedMessage = { ok: true; message: ClientMessage } | { ok: false; id: MessageIdValue; error: ApiError };

/** Duckling answers a frame it cannot read with this id. */
export const UNREADABLE_ID = 'parse-error';

/** One text frame → a message, or the refusal to answer (with the frame's `id` when it had one). */
export function parseMessage(text: string, maxDepth: number): ParsedMessage {
  if (nestingExceeds(text, maxDepth)) {
    return { ok: false, id: UNREADABLE_ID, error: new ApiError(400, 'json_too_deep', `Message nests deeper than ${maxDepth} levels`) };
  }
  let value: unknown;
  try {
    value = secureJson.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' });
  } catch {
    return { ok: false, id: UNREADABLE_ID, error: new ApiError(400, 'invalid_json', 'Message is not valid JSON') };
  }
  if (checkMessage.Check(value)) return { ok: true, message: value };
  const id = idOf(value);
  const type = (value as { type?: unknown } | null)?.type;
  if (type !== 'auth' && type !== 'ping' && type !== 'query') {
    return { ok: false, id, error: new ApiError(400, 'bad_request', `Unknown message type ${JSON.stringify(type ?? null)}: expected auth, ping or query`) };
  }
  if (type === 'query' && typeof (value as { sql?: unknown }).sql !== 'string') {
    return { ok: false, id, error: new ApiError(400, 'bad_request', 'SQL query is required') };
  }
  const first = [...checkMessage.Errors(value)][0];
  const where = first?.instancePath ? ` at ${first.instancePath}` : '';
  return { ok: false, id, error: new ApiError(400, 'bad_request', `Invalid ${type} message${where}: ${first?.message ?? 'wrong shape'}`) };
}

function idOf(value: unknown): MessageIdValue {
  const id = (value as { id?: unknown } | null)?.id;
  return (typeof id === 'string' && id.length <= 256) || typeof id === 'number' ? id : UNREADABLE_ID;
}

/** An answer as it goes out. */
export interface Answer {
  id: MessageIdValue;
  success: boolean;
  result?: unknown[];
  error?: string;
  /** Milliseconds from the message's arrival to its answer. */
  duration?: number;
  code?: string;
  status?: number;
  retryAfter?: number;
}

export function failure(id: MessageIdValue, error: ApiError, duration?: number): Answer {
  const retryAfter = error.headers?.['Retry-After'];
  return {
    id,
    success: false,
    error: error.message,
    code: error.code,
    status: error.status,
    ...(retryAfter === undefined ? {} : { retryAfter: Number(retryAfter) }),
    ...(duration === undefined ? {} : { duration }),
  };
}

/** Milliseconds since `since` (`performance.now()`), to the microsecond. */
export function elapsedSince(since: number): number {
  return Math.round((performance.now() - since) * 1000) / 1000;
}
