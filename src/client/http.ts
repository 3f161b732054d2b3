/** One HTTP exchange with the server: URL building, JSON in and out, errors as DuckgateError. */
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

export interface Transport {
  baseUrl: string;
  fetch: typeof fetch;
}

export function transport(baseUrl: string, fetchOption: typeof fetch | undefined): Transport {
  const fetchImpl = fetchOption ?? globalThis.fetch;
  if (typeof fetchImpl !== 'function') throw new TypeError('duckgate client: no global fetch; pass the `fetch` option');
  // Validate once, early: a typo in baseUrl should fail at construction, not at the first call.
  new URL(baseUrl);
  return { baseUrl: baseUrl.replace(/\/+$/, ''), fetch: fetchImpl };
}

export async function send<T>(http: Transport, call: Call, token?: string): Promise<T> {
  // String concatenation (not `new URL(path, base)`) keeps a base path such as https://host/duckgate.
  const url = new URL(http.baseUrl + call.path);
  for (const [name, value] of Object.entries(call.query ?? {})) {
    if (value !== undefined) url.searchParams.set(name, String(value));
  }
  const headers: Record<string, string> = { Accept: call.text ? 'text/plain, application/json' : 'application/json' };
  if (token !== undefined) headers.Authorization = `Bearer ${token}`;
  const init: RequestInit = { method: call.method, headers };
  if (call.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(call.body);
  }

  // Called detached from `http`: browsers refuse `fetch` invoked as a method of another object.
  const fetchImpl = http.fetch;
  let response: Response;
  let text: string;
  try {
    response = await fetchImpl(url.toString(), init);
    text = await response.text();
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new DuckgateError({ status: 0, code: 'network_error', message: `Network error: ${reason} (${call.method} ${url.pathname})`, cause });
  }

  if (response.ok || call.acceptStatus?.includes(response.status)) {
    if (call.text) return text as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new DuckgateError({ status: response.status, code: 'invalid_response', message: `Expected JSON from ${call.method} ${url.pathname}, got: ${excerpt(text)}` });
    }
  }
  throw errorOf(response, text);
}

/** The server's `{ error, code, details? }` when the body is one; otherwise `http_<status>` (a proxy's HTML page, say). */
function errorOf(response: Response, text: string): DuckgateError {
  const retryAfterHeader = response.headers.get('retry-after');
  const retryAfter = retryAfterHeader !== null && /^\d+$/.test(retryAfterHeader) ? Number(retryAfterHeader) : undefined;
  const base = { status: response.status, retryAfter };
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  if (isErrorBody(body)) {
    return new DuckgateError({ ...base, code: body.code ?? `http_${response.status}`, message: body.error, details: body.details });
  }
  const summary = text.trim() === '' ? `HTTP ${response.status} ${response.statusText}`.trim() : `HTTP ${response.status}: ${excerpt(text)}`;
  return new DuckgateError({ ...base, code: `http_${response.status}`, message: summary });
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
