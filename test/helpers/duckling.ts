/**
 * A WebSocket client that speaks to `/ws` exactly as Duckling's SDK does on the wire (followed:
 * `chittihq/duckling` `packages/sdk/src/index.ts` and `types.ts`): the URL gets `?db=` from
 * `databaseName` (default `default`), the first message is `{ id, type: 'auth', apiKey }`, ids are
 * `${Date.now()}-${counter}`, frames are `JSON.stringify`'d messages whose `params` may be undefined
 * (and so absent), answers are matched by `id` and anything else (the server's `welcome`) is only
 * seen, and close codes 1008 and 1011 mean "do not reconnect". Tests read the raw answers, so they
 * can pin duckgate's extra fields (`code`, `status`, `truncated`) too.
 */
import WebSocket from 'ws';

export interface Answer {
  id: string;
  success: boolean;
  result?: Record<string, unknown>[];
  error?: string;
  duration?: number;
  code?: string;
  status?: number;
  retryAfter?: number;
  truncated?: boolean;
  truncatedBy?: 'rows' | 'bytes';
  columns?: string[];
  rowCount?: number;
}

export interface Closed {
  code: number;
  reason: string;
  at: number;
}

/** The SDK's non-reconnectable close codes (`NON_RECONNECT_CLOSE_CODES`). */
export const NON_RECONNECT_CLOSE_CODES = new Set([1008, 1011]);

export class DucklingWire {
  readonly socket: WebSocket;
  /** Every frame the server sent, in order (the `welcome` too). */
  readonly received: Answer[] = [];
  readonly closed: Promise<Closed>;
  readonly opened: Promise<void>;
  private counter = 0;
  private readonly pending = new Map<string, (answer: Answer) => void>();

  constructor(serverUrl: string, options: { databaseName?: string; query?: Record<string, string>; headers?: Record<string, string> } = {}) {
    const url = new URL(`${serverUrl.replace(/^http/, 'ws')}/ws`);
    for (const [name, value] of Object.entries(options.query ?? {})) url.searchParams.set(name, value);
    url.searchParams.set('db', options.databaseName ?? 'default');
    this.socket = new WebSocket(url.toString(), options.headers ? { headers: options.headers } : undefined);
    this.opened = new Promise((resolve, reject) => {
      this.socket.once('open', () => resolve());
      // Without an `unexpected-response` listener (the SDK has none), `ws` aborts the request and
      // reports "Unexpected server response: <status>".
      this.socket.once('error', reject);
    });
    this.closed = new Promise((resolve) => {
      this.socket.on('close', (code, reason) => resolve({ code, reason: reason.toString(), at: performance.now() }));
    });
    this.socket.on('message', (data: WebSocket.RawData) => {
      const answer = JSON.parse(String(data)) as Answer;
      this.received.push(answer);
      const resolve = this.pending.get(answer.id);
      if (resolve) {
        this.pending.delete(answer.id);
        resolve(answer);
      }
    });
  }

  /** Connects and sends the auth message, as `connect()` does; answers the auth answer. */
  static async connect(serverUrl: string, apiKey: string, options: { databaseName?: string; query?: Record<string, string> } = {}): Promise<{ wire: DucklingWire; auth: Answer }> {
    const wire = new DucklingWire(serverUrl, options);
    await wire.opened;
    const auth = await wire.send({ type: 'auth', apiKey });
    return { wire, auth };
  }

  nextId(): string {
    return `${Date.now()}-${this.counter++}`;
  }

  /** One message; answers the answer with its id (or rejects when the socket closes first). */
  send(message: { type: string; [field: string]: unknown }, id = this.nextId()): Promise<Answer> {
    return new Promise((resolve, reject) => {
      this.pending.set(id, resolve);
      void this.closed.then((closed) => {
        if (this.pending.delete(id)) reject(Object.assign(new Error(`closed ${closed.code} before answering ${id}`), closed));
      });
      this.socket.send(JSON.stringify({ id, ...message }));
    });
  }

  query(sql: string, params?: unknown[] | Record<string, unknown>): Promise<Answer> {
    return this.send({ type: 'query', sql, params });
  }

  ping(): Promise<Answer> {
    return this.send({ type: 'ping' });
  }

  close(): void {
    this.socket.close();
  }
}
