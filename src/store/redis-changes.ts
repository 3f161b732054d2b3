/**
 * The change channel over Redis pub/sub (REDIS_URL set, CHANGE_CHANNEL=redis): the same
 * `ChangeFeed` as the store's own, so caches follow it the same way.
 *
 * Who publishes: one replica at a time, the *relay*, holding a lock in Redis (`SET NX PX`, renewed
 * every heartbeat). The relay follows the store's own feed (PostgreSQL LISTEN/NOTIFY, or the SQLite
 * change log) and republishes every change on one channel. So every committed change is announced,
 * whoever made it (a replica, the CLI, a script on the store: none of them needs Redis), and only
 * the relay holds a listening connection on the store. Writers do not publish themselves: a writer
 * killed between its commit and its publish would leave every other replica serving a revoked key.
 *
 * How a subscriber knows it has everything: the relay publishes a heartbeat (its id and a session
 * number that moves each time its own feed comes back) every `heartbeatMs` while its feed is live.
 * A subscriber is live while beats from one relay session arrive; it is lost (callers read through
 * to the store) when its subscription connection closes, when the relay says its feed was lost, or
 * when no beat came for `silenceMs` (the relay died: its lock expires and another replica takes
 * over). A beat from another relay or session means changes may have gone unannounced in between,
 * so the subscriber reports a loss and a resume (every cache starts over). ioredis reconnects and
 * resubscribes by itself; the first beat after that resumes.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { Listeners, parseChange, type ChangeFeed, type ChangeListener, type ControlChange } from './changes.js';

export interface RedisChangeFeedOptions {
  /** Commands (publish, the relay lock); the subscription gets a duplicate of it. Stays the caller's to close. */
  redis: Redis;
  /** The store's own feed, followed only while this process is the relay. */
  source: ChangeFeed;
  /** REDIS_KEY_PREFIX: the channel and the lock live under it. */
  keyPrefix: string;
  /** The relay's beat, and how often every process checks the lock and the silence. */
  heartbeatMs?: number;
  /** No beat for this long: the channel is lost (generous: a busy machine is not a dead relay). */
  silenceMs?: number;
  /** The relay lock's lifetime, renewed every beat: how long a dead relay blocks a successor. */
  lockMs?: number;
  /** Delay before the subscription connection reconnects (ioredis retry strategy). */
  reconnectMs?: number;
  /** This process became the relay (true) or stopped being it (false): for the log. */
  onRelay?: (relaying: boolean) => void;
}

type Message =
  | { t: 'beat'; relay: string; session: number }
  | { t: 'lost'; relay: string; session: number }
  | { t: 'change'; relay: string; session: number; change: ControlChange };

const RENEW = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end`;
const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;

export class RedisChangeFeed implements ChangeFeed {
  readonly channel: string;
  private readonly lockKey: string;
  private readonly listeners = new Listeners();
  private readonly relayId = randomUUID();
  private readonly heartbeatMs: number;
  private readonly silenceMs: number;
  private readonly lockMs: number;
  private subscriber: Redis | undefined;
  private timer: NodeJS.Timeout | undefined;
  private started = false;
  private closed = false;
  // Subscriber side.
  private live = false;
  private followed: { relay: string; session: number } | undefined;
  private lastBeat = 0;
  // Relay side.
  private relaying = false;
  private unwatchSource: (() => void) | undefined;
  private sourceLive = false;
  private session = 0;

  constructor(private readonly options: RedisChangeFeedOptions) {
    this.channel = `${options.keyPrefix}:changes`;
    this.lockKey = `${options.keyPrefix}:changes:relay`;
    this.heartbeatMs = options.heartbeatMs ?? 500;
    this.silenceMs = options.silenceMs ?? 3000;
    this.lockMs = options.lockMs ?? 5000;
  }

  watch(listener: ChangeListener): () => void {
    const remove = this.listeners.add(listener);
    listener.lost(new Error('change channel not live yet'));
    if (this.live) listener.resumed();
    if (!this.started) {
      this.started = true;
      this.start();
    }
    return remove;
  }

  /** Whether changes reach this process now (for health and metrics). */
  get isLive(): boolean {
    return this.live;
  }

  /** Whether this process is the one republishing the store's changes. */
  get isRelay(): boolean {
    return this.relaying;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    this.live = false;
    if (this.relaying) {
      this.stopRelaying();
      await this.options.redis.eval(RELEASE, 1, this.lockKey, this.relayId).catch(() => {});
    }
    this.subscriber?.disconnect();
  }

  private start(): void {
    const reconnectMs = this.options.reconnectMs ?? 100;
    const subscriber = this.options.redis.duplicate({
      retryStrategy: () => reconnectMs,
      // A subscription connection sends nothing but (re)subscriptions; never queue them for ever.
      maxRetriesPerRequest: null,
      lazyConnect: false,
      // Named, so an operator (or a test) can find it in CLIENT LIST.
      connectionName: this.channel,
    });
    this.subscriber = subscriber;
    subscriber.on('error', () => {});
    subscriber.on('close', () => this.lose(new Error('change channel subscription closed')));
    subscriber.on('message', (channel: string, text: string) => {
      if (channel === this.channel) this.received(text);
    });
    subscriber.subscribe(this.channel).catch(() => {
      // ioredis subscribes again on every reconnect; the silence check covers the meantime.
    });
    this.timer = setInterval(() => void this.tick(), this.heartbeatMs);
    this.timer.unref();
    void this.tick();
  }

  /** Every beat: hold or take the relay lock, beat if relaying, and notice silence. */
  private async tick(): Promise<void> {
    if (this.closed) return;
    if (this.live && Date.now() - this.lastBeat > this.silenceMs) this.lose(new Error(`no change channel heartbeat for ${this.silenceMs} ms`));
    const redis = this.options.redis;
    try {
      if (this.relaying) {
        const renewed = await redis.eval(RENEW, 1, this.lockKey, this.relayId, String(this.lockMs));
        if (renewed !== 1) this.stopRelaying();
      } else {
        const taken = await redis.set(this.lockKey, this.relayId, 'PX', this.lockMs, 'NX');
        if (taken === 'OK' && !this.closed) this.startRelaying();
      }
      if (this.relaying && this.sourceLive) await this.publish({ t: 'beat', relay: this.relayId, session: this.session });
    } catch {
      // Redis unreachable: whoever relays cannot beat, so every subscriber goes silent and reads
      // through. Stop relaying: the lock may expire meanwhile and another replica take over.
      if (this.relaying) this.stopRelaying();
    }
  }

  private startRelaying(): void {
    this.relaying = true;
    this.options.onRelay?.(true);
    this.unwatchSource = this.options.source.watch({
      changed: (change) => void this.publish({ t: 'change', relay: this.relayId, session: this.session, change }).catch(() => {}),
      lost: () => {
        if (this.sourceLive) void this.publish({ t: 'lost', relay: this.relayId, session: this.session }).catch(() => {});
        this.sourceLive = false;
      },
      resumed: () => {
        // A new session: subscribers cannot know what the source missed while it was down.
        this.session++;
        this.sourceLive = true;
        void this.publish({ t: 'beat', relay: this.relayId, session: this.session }).catch(() => {});
      },
    });
  }

  private stopRelaying(): void {
    this.relaying = false;
    this.sourceLive = false;
    this.unwatchSource?.();
    this.unwatchSource = undefined;
    this.options.onRelay?.(false);
  }

  private async publish(message: Message): Promise<void> {
    await this.options.redis.publish(this.channel, JSON.stringify(message));
  }

  private received(text: string): void {
    const message = parseMessage(text);
    if (!message) return;
    switch (message.t) {
      case 'change':
        // Dropping an entry is always safe, whichever relay said so.
        this.listeners.changed(message.change);
        return;
      case 'lost':
        if (this.followed?.relay === message.relay && this.followed.session === message.session) {
          this.lose(new Error('the relay lost the store\'s change feed'));
        }
        return;
      case 'beat': {
        this.lastBeat = Date.now();
        const same = this.followed?.relay === message.relay && this.followed.session === message.session;
        if (this.live && same) return;
        // Another relay or session: what happened in between may not have been announced.
        if (this.live) this.lose(new Error('the change relay changed'));
        this.followed = { relay: message.relay, session: message.session };
        this.live = true;
        this.listeners.resumed();
      }
    }
  }

  private lose(error: Error): void {
    if (!this.live) return;
    this.live = false;
    this.listeners.lost(error);
  }
}

function parseMessage(text: string): Message | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (value === null || typeof value !== 'object') return undefined;
  const v = value as Record<string, unknown>;
  if (typeof v.relay !== 'string' || typeof v.session !== 'number') return undefined;
  if (v.t === 'beat' || v.t === 'lost') return { t: v.t, relay: v.relay, session: v.session };
  if (v.t === 'change') {
    const change = parseChange(JSON.stringify(v.change));
    return change ? { t: 'change', relay: v.relay, session: v.session, change } : undefined;
  }
  return undefined;
}
