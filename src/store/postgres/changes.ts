/**
 * The PostgreSQL store's change feed: LISTEN on 'duckgate:<schema>', where the store's triggers
 * NOTIFY every change as it commits (migration 4), naming the key id, token id or account. One
 * dedicated connection, never a pooled one: a LISTEN lives as long as its session, and a pooled
 * connection would be handed to queries and recycled.
 *
 * When that connection drops (PostgreSQL restarted, the backend terminated, the network cut), the
 * listeners are told at once (`lost`: read through to the store, cache nothing) and it reconnects
 * with a growing delay; once it is listening again they are told `resumed` (drop everything cached,
 * since what changed meanwhile was not announced to this replica). A silent partition, where no
 * error arrives, is caught by a periodic round trip on the same connection (and TCP keepalive).
 */
import pg from 'pg';
import { Listeners, parseChange, type ChangeFeed, type ChangeListener } from '../changes.js';
import { connectionConfig, type PostgresOptions } from './database.js';

export interface PostgresChangeFeedOptions extends PostgresOptions {
  /** The schema whose channel to listen on (the store's). */
  schema: string;
  /** Round trip on the listening connection this often, to notice a silent drop. */
  heartbeatMs?: number;
  /** A round trip slower than this counts as a drop (generous: a busy machine is not a dead link). */
  heartbeatTimeoutMs?: number;
  /** First reconnect delay; doubles up to `maxReconnectMs`. */
  reconnectMs?: number;
  maxReconnectMs?: number;
}

export class PostgresChangeFeed implements ChangeFeed {
  private readonly listeners = new Listeners();
  private readonly channel: string;
  private client: pg.Client | undefined;
  private live = false;
  private started = false;
  private closed = false;
  private delayMs: number;
  private retry: NodeJS.Timeout | undefined;
  private heartbeat: NodeJS.Timeout | undefined;

  constructor(private readonly options: PostgresChangeFeedOptions) {
    this.channel = `duckgate:${options.schema}`;
    this.delayMs = options.reconnectMs ?? 100;
  }

  watch(listener: ChangeListener): () => void {
    const remove = this.listeners.add(listener);
    listener.lost(new Error('change feed not connected yet'));
    if (this.live) listener.resumed();
    if (!this.started) {
      this.started = true;
      void this.connect();
    }
    return remove;
  }

  /** Whether the feed is listening now (for health and metrics). */
  get isLive(): boolean {
    return this.live;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retry);
    clearInterval(this.heartbeat);
    const client = this.client;
    this.client = undefined;
    this.live = false;
    await client?.end().catch(() => {});
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    const client = new pg.Client({ ...connectionConfig(this.options), application_name: `${this.options.applicationName ?? 'duckgate'}:changes` });
    this.client = client;
    client.on('error', (error) => this.dropped(client, error));
    client.on('end', () => this.dropped(client, new Error('change feed connection ended')));
    client.on('notification', (message) => {
      if (message.channel !== this.channel || message.payload === undefined) return;
      const change = parseChange(message.payload);
      if (change) this.listeners.changed(change);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${pg.escapeIdentifier(this.channel)}`);
    } catch (error) {
      this.dropped(client, error);
      return;
    }
    if (this.client !== client || this.closed) return;
    this.delayMs = this.options.reconnectMs ?? 100;
    this.live = true;
    this.listeners.resumed();
    const heartbeatMs = this.options.heartbeatMs ?? 2000;
    const timeoutMs = this.options.heartbeatTimeoutMs ?? 10_000;
    let pending = false;
    this.heartbeat = setInterval(() => {
      if (pending) return;
      pending = true;
      const timeout = setTimeout(() => this.dropped(client, new Error('change feed heartbeat timed out')), timeoutMs);
      client.query('SELECT 1').then(() => {
        pending = false;
        clearTimeout(timeout);
      }, (error: unknown) => {
        clearTimeout(timeout);
        this.dropped(client, error);
      });
    }, heartbeatMs);
    this.heartbeat.unref();
  }

  /** Reports the loss once per connection, closes it, and schedules the next attempt. */
  private dropped(client: pg.Client, error: unknown): void {
    if (this.client !== client || this.closed) return;
    this.client = undefined;
    clearInterval(this.heartbeat);
    client.removeAllListeners('notification');
    client.on('error', () => {});
    void client.end().catch(() => {});
    if (this.live) {
      this.live = false;
      this.listeners.lost(error);
    }
    const delay = this.delayMs;
    this.delayMs = Math.min(this.delayMs * 2, this.options.maxReconnectMs ?? 2000);
    this.retry = setTimeout(() => void this.connect(), delay);
    this.retry.unref();
  }
}
