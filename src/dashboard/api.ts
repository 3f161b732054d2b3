/**
 * The one way the dashboard talks to duckgate: JSON over fetch, the session's token as a Bearer
 * credential, and every failure turned into an `ApiError` carrying the server's `error` text.
 * A 401 on an authenticated call means the session is over (expired, logged out, tampered):
 * the handler set by the app clears it and returns to sign-in.
 */
import { loadSession } from './session';

export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string | null,
    readonly details: unknown = undefined,
    /** Seconds, from a 429's Retry-After header. */
    readonly retryAfter: number | null = null,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

type SessionEnded = () => void;
let onSessionEnded: SessionEnded = () => {};

export function setSessionEndedHandler(handler: SessionEnded): void {
  onSessionEnded = handler;
}

export interface RequestOptions {
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  body?: unknown;
  query?: Record<string, string | number | undefined>;
  /** Send the session token (default true). */
  auth?: boolean;
  /** Statuses other than 2xx whose JSON body is still the answer (e.g. 503 from /health). */
  acceptStatuses?: number[];
  signal?: AbortSignal;
  /** Sees the answer's headers (e.g. `Duckgate-Truncated`) before its body is read. */
  onHeaders?: (headers: Headers) => void;
}

export async function request<T>(path: string, options: RequestOptions = {}): Promise<T> {
  const { method = 'GET', body, query, auth = true, acceptStatuses = [], signal, onHeaders } = options;
  const headers: Record<string, string> = { Accept: 'application/json' };
  const session = auth ? loadSession() : null;
  if (session) headers.Authorization = `Bearer ${session.token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';

  let url = path;
  if (query) {
    const params = new URLSearchParams();
    for (const [name, value] of Object.entries(query)) {
      if (value !== undefined && value !== '') params.set(name, String(value));
    }
    const text = params.toString();
    if (text) url += `${url.includes('?') ? '&' : '?'}${text}`;
  }

  let response: Response;
  try {
    response = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      cache: 'no-store',
      signal,
    });
  } catch (error) {
    if (error instanceof DOMException && error.name === 'AbortError') throw error;
    throw new ApiError('Cannot reach the server. Check your connection and try again.', 0, 'network_error');
  }

  onHeaders?.(response.headers);
  const text = await response.text();
  let data: unknown = undefined;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = undefined;
    }
  }

  if (response.ok || acceptStatuses.includes(response.status)) {
    if (data === undefined && text) throw new ApiError(`Unexpected answer from the server (HTTP ${response.status}).`, response.status, null);
    return data as T;
  }

  const payload = (data && typeof data === 'object' ? data : {}) as Record<string, unknown>;
  const code = typeof payload.code === 'string' ? payload.code : null;
  const message = typeof payload.error === 'string' && payload.error
    ? payload.error
    : typeof payload.message === 'string' && payload.message
      ? payload.message
      : `Request failed (HTTP ${response.status}).`;
  const retryHeader = response.headers.get('Retry-After');
  const retryAfter = retryHeader !== null && /^\d+$/.test(retryHeader.trim()) ? Number(retryHeader.trim()) : null;
  const error = new ApiError(message, response.status, code, payload.details, retryAfter);
  if (response.status === 401 && session) onSessionEnded();
  throw error;
}

/** "Try again in N seconds." for a 429, from its Retry-After header. */
export function retryHint(error: ApiError): string {
  if (error.retryAfter === null) return 'Try again later.';
  return `Try again in ${error.retryAfter} second${error.retryAfter === 1 ? '' : 's'}.`;
}

/** A user-facing sentence for any thrown value. */
export function errorMessage(error: unknown): string {
  if (error instanceof ApiError) {
    if (error.status === 429) return `${error.message.replace(/\.$/, '')}. ${retryHint(error)}`;
    return error.message;
  }
  if (error instanceof Error) return error.message;
  return String(error);
}

export function isAbort(error: unknown): boolean {
  return error instanceof DOMException && error.name === 'AbortError';
}
