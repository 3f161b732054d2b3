/**
 * Instrumentation, not a mock: a `fetch` that passes every request to the real server and notes
 * what was sent and how it was answered, so tests can count token exchanges and 401s.
 */
export interface FetchLog {
  fetch: typeof fetch;
  calls: { method: string; path: string; status: number; authorization: string | null }[];
  /** Requests to `POST /api/auth/token`. */
  exchanges(): number;
  /** Answers with this status. */
  count(status: number): number;
}

export function fetchLog(): FetchLog {
  const calls: FetchLog['calls'] = [];
  const logged: typeof fetch = async (input, init) => {
    const response = await fetch(input, init);
    calls.push({
      method: init?.method ?? 'GET',
      path: new URL(String(input)).pathname,
      status: response.status,
      authorization: new Headers(init?.headers).get('authorization'),
    });
    return response;
  };
  return {
    fetch: logged,
    calls,
    exchanges: () => calls.filter((c) => c.path === '/api/auth/token').length,
    count: (status) => calls.filter((c) => c.status === status).length,
  };
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
