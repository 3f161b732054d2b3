/**
 * One HTTP exchange with the server: URL building, JSON in and out, errors as DuckgateError. How
 * the bytes travel is the runtime's: `fetch` by default (browsers), a keep-alive connection pool in
 * Node (`node.ts`, undici), whose client CPU per call is several times lower than `fetch`'s.
 */
import { DuckgateError } from './errors.js';

export type QueryValue = string | number | boolean | undefined;

export interface Call {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** Already encoded: path segments go through `encodeURIComponent` at the call site. */
  path: string;
  query?: Record<string, QueryValue>;
  /** Sent as JSON when defined. */
  body?: unknown;
  /** Statuses besides 2xx whose body is an answer, not an error (`/health` answers 503 with a report). */
  acceptStatus?: number[];
  /** Answer the body as text instead of parsing JSON (`/metrics`). */
  text?: boolean;
}

/** One HTTP request as the runtime sends it: `fetch` in browsers, a keep-alive pool in Node (`node.ts`). */
export interface HttpRequest {
  method: Call['method'];
  /** Absolute. */
  url: string;
  headers: Record<string, string>;
  body?: string;
}

/** What `send` needs of an answer: the whole body is read before this resolves. */
export interface HttpAnswer {
  status: number;
  statusText: string;
  /** The `Retry-After` header, when present. */
  retryAfter: string | null;
  text: string;
}

/** Performs one exchange; rejects only when no answer came (network failure). */
export type Requester = (request: HttpRequest) => Promise<HttpAnswer>;

export interface Transport {
  baseUrl: string;
  request: Requester;
}

/** Through `fetch` (a browser's, Node's, or the caller's own). */
export function fetchRequester(fetchImpl: typeof fetch): Requester {
  return async ({ method, url, headers, body }) => {
    // Called detached: browsers refuse `fetch` invoked as a method of another object.
    const response = await fetchImpl(url, body === undefined ? { method, headers } : { method, headers, body });
    return { status: response.status, statusText: response.statusText, retryAfter: response.headers.get('retry-after'), text: await response.text() };
  };
}

/** Made for a base URL when neither `fetch` nor `request` is given (Node's entry sets a pooled one). */
let defaultRequester: ((baseUrl: string) => Requester) | undefined;

/** The runtime's default way to send requests: `node.ts` installs its keep-alive pool here. */
export function setDefaultRequester(factory: (baseUrl: string) => Requester): void {
  defaultRequester = factory;
}

export interface TransportOptions {
  /** Send through this `fetch` (tests, instrumentation, polyfills). */
  fetch?: typeof fetch;
  /** Send through this requester (wins over `fetch`). */
  request?: Requester;
}

export function transport(baseUrl: string, options: TransportOptions | typeof fetch | undefined = {}): Transport {
  const { fetch: fetchOption, request } = typeof options === 'function' ? { fetch: options, request: undefined } : options;
  // Validate once, early: a typo in baseUrl should fail at construction, not at the first call.
  new URL(baseUrl);
  const base = baseUrl.replace(/\/+$/, '');
  if (request) return { baseUrl: base, request };
  if (fetchOption) return { baseUrl: base, request: fetchRequester(fetchOption) };
  if (defaultRequester) return { baseUrl: base, request: defaultRequester(base) };
  const fetchImpl = globalThis.fetch;
  if (typeof fetchImpl !== 'function') throw new TypeError('duckgate client: no global fetch; pass the `fetch` option');
  return { baseUrl: base, request: fetchRequester(fetchImpl) };
}

/** The query string of `call`, `?`-prefixed (empty when there is none). */
function queryString(query: Call['query']): string {
  if (query === undefined) return '';
  let text = '';
  for (const name in query) {
    const value = query[name];
    if (value !== undefined) text += `${text === '' ? '?' : '&'}${encodeURIComponent(name)}=${encodeURIComponent(String(value))}`;
  }
  return text;
}

export async function send<T>(http: Transport, call: Call, token?: string): Promise<T> {
  // String concatenation (not `new URL(path, base)`) keeps a base path such as https://host/duckgate.
  const url = http.baseUrl + call.path + queryString(call.query);
  const headers: Record<string, string> = { Accept: call.text ? 'text/plain, application/json' : 'application/json' };
  if (token !== undefined) headers.Authorization = `Bearer ${token}`;
  let body: string | undefined;
  if (call.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(call.body);
  }

  let answer: HttpAnswer;
  try {
    answer = await http.request(body === undefined ? { method: call.method, url, headers } : { method: call.method, url, headers, body });
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new DuckgateError({ status: 0, code: 'network_error', message: `Network error: ${reason} (${call.method} ${call.path})`, cause });
  }

  const { status, text } = answer;
  if ((status >= 200 && status < 300) || call.acceptStatus?.includes(status)) {
    if (call.text) return text as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new DuckgateError({ status, code: 'invalid_response', message: `Expected JSON from ${call.method} ${call.path}, got: ${excerpt(text)}` });
    }
  }
  throw errorOf(answer);
}

/** The server's `{ error, code, details? }` when the body is one; otherwise `http_<status>` (a proxy's HTML page, say). */
function errorOf({ status, statusText, retryAfter: retryAfterHeader, text }: HttpAnswer): DuckgateError {
  const retryAfter = retryAfterHeader !== null && /^\d+$/.test(retryAfterHeader) ? Number(retryAfterHeader) : undefined;
  const base = { status, retryAfter };
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  if (isErrorBody(body)) {
    return new DuckgateError({ ...base, code: body.code ?? `http_${status}`, message: body.error, details: body.details });
  }
  const summary = text.trim() === '' ? `HTTP ${status} ${statusText}`.trim() : `HTTP ${status}: ${excerpt(text)}`;
  return new DuckgateError({ ...base, code: `http_${status}`, message: summary });
}

function isErrorBody(body: unknown): body is { error: string; code?: string; details?: unknown } {
  if (typeof body !== 'object' || body === null) return false;
  const { error, code } = body as Record<string, unknown>;
  return typeof error === 'string' && (code === undefined || typeof code === 'string');
}

function excerpt(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > 200 ? `${flat.slice(0, 200)}…` : flat;
}
