/**
 * The audit trail's front door. `record` is synchronous and never throws: authentication failures
 * are recorded on the hot path and must not wait on disk, so events are queued in memory and
 * written in one transaction every `flushIntervalMs` (or as soon as `batchSize` are waiting). The
 * queue is bounded: a flood of bad keys beyond `maxQueue` unwritten events drops the oldest ones
 * and counts them, instead of growing memory.
 *
 * Admin and security events must not wait in memory: a crash right after the answer would erase
 * their trace. Key and account changes hand their event to the key or account store's write
 * (same transaction); anything else (a login, a dropped database) calls `recordDurable` and answers
 * only once it resolves.
 *
 * Every event is sanitised on the way in: a key prefix is cut to 16 characters, anything shaped
 * like a full managed key (in any field, details included) is cut to its prefix, and free-text
 * fields are bounded. The store never sees a full key.
 *
 * Anyone can cause failures, as many as they like, so failures are summarised: the first of a kind
 * (same kind, actor, address, code, route and target) is written at once, the identical ones
 * within `summaryWindowMs` after it are only counted, and one summary event carries their count
 * when the window closes (or on `flush`/`close`). The store is bounded by age (`startRetention`)
 * and by size (`maxEvents`, oldest pruned first).
 */
import { AUDIT_KINDS, type AuditEvent, type AuditKind, type AuditQuery, type AuditStore, type StoredAuditEvent } from '../store/audit-store.js';
import { failureKey } from './auth-failures.js';
import { RepeatWindow, type RepeatSummary } from './repeat-window.js';

/** What callers hand to `record`: `at` defaults to now, and any field left out is null. */
export interface AuditInput {
  kind: AuditKind;
  at?: string;
  actor?: string | null;
  keyPrefix?: string | null;
  ip?: string | null;
  userAgent?: string | null;
  route?: string | null;
  code?: string | null;
  target?: string | null;
  details?: Record<string, unknown> | null;
}

export interface AuditTrailOptions {
  /** Longest an event waits in memory before it is written. */
  flushIntervalMs?: number;
  /** A flush starts at once when this many events are waiting. */
  batchSize?: number;
  /** Unwritten events kept at most; beyond this the oldest are dropped. */
  maxQueue?: number;
  /** Store failures and bad input; `record` itself never throws. */
  onError?: (error: unknown) => void;
  /** Events dropped from a full queue since the last report; called at most once per flush. */
  onDropped?: (count: number) => void;
  /**
   * Identical failures (`SUMMARISED_KINDS`) within this many ms of the first are written as one
   * summary with their count; 0 (the default) writes every one.
   */
  summaryWindowMs?: number;
  /** Events kept in the store at most, oldest deleted first after each write; 0 (the default): no bound. */
  maxEvents?: number;
  /** The clock (tests). */
  now?: () => number;
}

export interface RetentionOptions {
  /** Events older than this are deleted; 0 (or less) keeps everything. */
  retentionDays: number;
  /** How often to prune after the first run at start (default hourly). */
  intervalMs?: number;
}

export interface AuditTrailStats {
  /** Waiting to be written. */
  queued: number;
  written: number;
  /** Dropped from a full queue, or recorded after `close`. */
  dropped: number;
  /** Lost because the store refused a batch. */
  failed: number;
  /** Deleted by age or by the size bound. */
  pruned: number;
  /** Identical failures counted in a summary event instead of written one by one. */
  summarised: number;
}

/**
 * The kinds an unauthenticated caller can produce at will, and so summarised. Key changes, logins,
 * logouts and password changes need a valid credential and are always written one by one.
 */
export const SUMMARISED_KINDS: readonly AuditKind[] = ['auth.failure', 'auth.login_failed'];

/** A key prefix is at most this long (`dk_live_` + 8 characters). */
export const AUDIT_KEY_PREFIX_LENGTH = 16;

/** `dk_live_`/`dk_test_` followed by more than a prefix's worth: cut to the prefix wherever it appears. */
const KEY_LIKE = /dk_(?:live|test)_[A-Za-z0-9_-]{9,}/g;
const LIMITS = { actor: 200, ip: 64, userAgent: 512, route: 300, code: 64, target: 200, details: 4096 } as const;
const DAY_MS = 86_400_000;

export class AuditTrail {
  private readonly queue: Ring<AuditEvent>;
  private readonly flushIntervalMs: number;
  private readonly batchSize: number;
  private readonly onError: (error: unknown) => void;
  private readonly onDropped: ((count: number) => void) | undefined;
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  private retentionTimer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private pruning: Promise<number> | undefined;
  private closed = false;
  private droppedUnreported = 0;
  private readonly counts = { written: 0, dropped: 0, failed: 0, pruned: 0, summarised: 0 };
  private readonly repeats: RepeatWindow<AuditEvent>;
  private readonly maxEvents: number;

  constructor(private readonly store: AuditStore, options: AuditTrailOptions = {}) {
    this.flushIntervalMs = options.flushIntervalMs ?? 200;
    this.batchSize = Math.max(1, options.batchSize ?? 500);
    this.queue = new Ring(Math.max(this.batchSize, options.maxQueue ?? 10_000));
    this.onError = options.onError ?? (() => {});
    this.onDropped = options.onDropped;
    this.now = options.now ?? Date.now;
    this.maxEvents = Math.max(0, Math.floor(options.maxEvents ?? 0));
    this.repeats = new RepeatWindow<AuditEvent>({
      windowMs: options.summaryWindowMs ?? 0,
      now: this.now,
      onSummary: (summary) => this.enqueue(summaryEvent(summary)),
    });
  }

  /** Queues one event (or counts it into a summary). Synchronous, cheap, and never throws. */
  record(input: AuditInput): void {
    try {
      if (this.closed) {
        this.counts.dropped++;
        return;
      }
      const event = sanitise(input, this.now());
      if (SUMMARISED_KINDS.includes(event.kind) && !this.repeats.admit(repeatKey(event), event)) {
        this.counts.summarised++;
        return;
      }
      this.enqueue(event);
    } catch (error) {
      this.report(error);
    }
  }

  /**
   * Writes everything recorded so far, summaries of the failures counted so far included (their
   * windows end here). Never rejects: failures go to `onError`.
   */
  flush(): Promise<void> {
    try {
      this.repeats.flush();
    } catch (error) {
      this.report(error);
    }
    return this.write();
  }

  /** Newest first, after a flush, so events recorded just before are included. */
  async query(query: AuditQuery): Promise<StoredAuditEvent[]> {
    await this.flush();
    return this.store.query(query);
  }

  /**
   * Deletes events older than `retentionDays` (and beyond `maxEvents`) now and then every
   * `intervalMs` (the timer does not keep the process alive). Answers how many the first run
   * deleted; never rejects.
   */
  startRetention(options: RetentionOptions): Promise<number> {
    this.stopRetention();
    const days = options.retentionDays;
    if (!(days > 0) || !Number.isFinite(days) || this.closed) return Promise.resolve(0);
    this.retentionTimer = setInterval(() => void this.prune(days), options.intervalMs ?? 3_600_000);
    this.retentionTimer.unref();
    return this.prune(days);
  }

  stopRetention(): void {
    if (this.retentionTimer) clearInterval(this.retentionTimer);
    this.retentionTimer = undefined;
  }

  /**
   * Writes `input` and everything queued before it (so ids keep the order events happened in) in
   * one durable commit, now, and resolves once it is on stable storage: for the events whose answer
   * must not go out before their trace is kept. Writes even after `close` (the store stays open).
   * Never rejects: failures go to `onError` and count as failed.
   */
  recordDurable(input: AuditInput): Promise<void> {
    let event: AuditEvent;
    try {
      event = sanitise(input, this.now());
    } catch (error) {
      this.report(error);
      return Promise.resolve();
    }
    const run = this.flushing.then(() => this.writeQueued(event));
    this.flushing = run;
    return run;
  }

  stats(): AuditTrailStats {
    return { queued: this.queue.size, ...this.counts };
  }

  /** Stops retention, writes what is queued and summarised, and ignores later events. The store stays open. */
  async close(): Promise<void> {
    this.stopRetention();
    const flushed = this.flush();
    this.closed = true;
    this.repeats.close();
    await flushed;
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    this.timer = undefined;
    this.immediate = undefined;
    await this.pruning;
  }

  private enqueue(event: AuditEvent): void {
    if (this.queue.push(event)) {
      this.counts.dropped++;
      this.droppedUnreported++;
    }
    if (this.queue.size >= this.batchSize) this.flushSoon();
    else this.flushLater();
  }

  /** Writes what is queued, after any write in progress; open summary windows stay open. */
  private write(): Promise<void> {
    const run = this.flushing.then(() => this.writeQueued());
    this.flushing = run;
    return run;
  }

  private flushLater(): void {
    if (this.timer || this.immediate || this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.write();
    }, this.flushIntervalMs);
    this.timer.unref();
  }

  private flushSoon(): void {
    if (this.immediate || this.closed) return;
    // Not inline: the caller is a request on the hot path, and the write is synchronous SQLite.
    this.immediate = setImmediate(() => {
      this.immediate = undefined;
      void this.write();
    });
  }

  /** The queue, and `durable` after it in the same commit, which is then synced. */
  private async writeQueued(durable?: AuditEvent): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.queue.drain();
    if (durable) batch.push(durable);
    if (batch.length > 0) {
      try {
        await this.store.append(batch, durable ? { durable: true } : undefined);
        this.counts.written += batch.length;
      } catch (error) {
        this.counts.failed += batch.length;
        this.report(error);
      }
      await this.trim();
    }
    if (this.droppedUnreported > 0) {
      const count = this.droppedUnreported;
      this.droppedUnreported = 0;
      try {
        this.onDropped?.(count);
      } catch (error) {
        this.report(error);
      }
    }
    // Events recorded while the batch was being written wait for the next timer.
    if (this.queue.size > 0 && !this.closed) this.flushLater();
  }

  /** Keeps the store within `maxEvents`: after every write, the oldest beyond it go. */
  private async trim(): Promise<number> {
    if (this.maxEvents === 0) return 0;
    try {
      const deleted = await this.store.trim(this.maxEvents);
      this.counts.pruned += deleted;
      return deleted;
    } catch (error) {
      this.report(error);
      return 0;
    }
  }

  private prune(days: number): Promise<number> {
    if (this.pruning) return this.pruning;
    const cutoff = new Date(this.now() - days * DAY_MS).toISOString();
    const run = (async () => {
      try {
        const deleted = await this.store.prune(cutoff);
        this.counts.pruned += deleted;
        // The size bound too, for a store that grew past a lowered AUDIT_MAX_EVENTS.
        return deleted + (await this.trim());
      } catch (error) {
        this.report(error);
        return 0;
      } finally {
        this.pruning = undefined;
      }
    })();
    this.pruning = run;
    return run;
  }

  private report(error: unknown): void {
    try {
      this.onError(error);
    } catch {
      // An error callback that throws has nowhere left to report to.
    }
  }
}

/**
 * What makes two failures "identical": kind, actor, address (IPv6 per /64, as the failure counter
 * counts them, so one host cannot rotate through its 2^64 addresses), code, route and target. Not
 * the key prefix or user agent, which a guesser changes with every attempt.
 */
function repeatKey(event: AuditEvent): string {
  return [event.kind, event.actor, event.ip === null ? null : failureKey(event.ip), event.code, event.route, event.target].join('\n');
}

/**
 * One event standing for `count` identical ones: the fields of the last of them, at its time, with
 * `details.repeated` (how many) and `details.first_at`/`last_at` (when).
 */
function summaryEvent(summary: RepeatSummary<AuditEvent>): AuditEvent {
  const { last } = summary;
  return {
    ...last,
    at: new Date(summary.lastAt).toISOString(),
    details: { ...last.details, repeated: summary.count, first_at: new Date(summary.firstAt).toISOString(), last_at: new Date(summary.lastAt).toISOString() },
  };
}

/** The event as stored: defaults filled in, bounded, and with no full key anywhere. */
export function sanitise(input: AuditInput, now: number): AuditEvent {
  if (!(AUDIT_KINDS as readonly unknown[]).includes(input.kind)) throw new TypeError(`Unknown audit event kind: ${String(input.kind)}`);
  const prefix = text(input.keyPrefix, AUDIT_KEY_PREFIX_LENGTH);
  return {
    at: isoTime(input.at, now),
    kind: input.kind,
    actor: text(input.actor, LIMITS.actor),
    // Never more than the prefix, even if a caller passed the whole key.
    keyPrefix: prefix === null ? null : prefix.slice(0, AUDIT_KEY_PREFIX_LENGTH),
    ip: text(input.ip, LIMITS.ip),
    userAgent: text(input.userAgent, LIMITS.userAgent),
    route: text(input.route, LIMITS.route),
    code: text(input.code, LIMITS.code),
    target: text(input.target, LIMITS.target),
    details: details(input.details),
  };
}

function text(value: unknown, max: number): string | null {
  if (value === undefined || value === null) return null;
  const full = redactKeys(typeof value === 'string' ? value : String(value));
  return full.length > max ? full.slice(0, max) : full;
}

function redactKeys(value: string): string {
  return value.includes('dk_') ? value.replace(KEY_LIKE, (key) => `${key.slice(0, AUDIT_KEY_PREFIX_LENGTH)}…`) : value;
}

function details(value: Record<string, unknown> | null | undefined): Record<string, unknown> | null {
  if (value === undefined || value === null) return null;
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch {
    return { unserializable: true };
  }
  if (json === undefined) return null;
  json = redactKeys(json);
  if (json.length > LIMITS.details) return { truncated: true, size: json.length };
  const parsed: unknown = JSON.parse(json);
  return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : { value: parsed };
}

function isoTime(value: string | undefined, now: number): string {
  if (typeof value === 'string') {
    const time = Date.parse(value);
    // Only years 0000-9999 keep ISO text in time order.
    if (!Number.isNaN(time) && time >= -62_167_219_200_000 && time <= 253_402_300_799_999) return new Date(time).toISOString();
  }
  return new Date(now).toISOString();
}

/** A fixed-capacity FIFO: pushing onto a full ring overwrites the oldest entry. */
class Ring<T> {
  private readonly items: (T | undefined)[];
  private head = 0;
  size = 0;

  constructor(private readonly capacity: number) {
    this.items = new Array<T | undefined>(capacity);
  }

  /** True when the oldest entry was dropped to make room. */
  push(item: T): boolean {
    const tail = (this.head + this.size) % this.capacity;
    this.items[tail] = item;
    if (this.size < this.capacity) {
      this.size++;
      return false;
    }
    this.head = (this.head + 1) % this.capacity;
    return true;
  }

  drain(): T[] {
    const out: T[] = [];
    for (let i = 0; i < this.size; i++) {
      const index = (this.head + i) % this.capacity;
      out.push(this.items[index] as T);
      this.items[index] = undefined;
    }
    this.head = 0;
    this.size = 0;
    return out;
  }
}
