/**
 * Per-client request limits (`API_RATE_LIMIT` requests per hour, or a key's own `rate_limit`).
 *
 * The contract says no client gets more than its limit in ANY rolling hour. A fixed window (all that
 * rate-limiter-flexible offers) lets a client spend its limit at the end of one window and again at
 * the start of the next: twice the limit within a minute. So the window slides, kept as counters of
 * sub-windows ("buckets") of `bucketMs`, `windowMs / bucketMs + 1` of them (61 for an hour in
 * minutes).
 *
 * A request at time t, in bucket c = floor(t / b), is admitted iff the ADMITTED requests in buckets
 * c - W/b … c sum to less than the limit. Why that is never more than the limit in a rolling window:
 * take any window [s, s + W] and its last admission t_l (bucket c_l). Every admission in it lies in
 * [t_l - W, t_l], and t_l - W >= c_l·b - W = (c_l - W/b)·b, so all of them lie in the buckets
 * c_l - W/b … c_l that t_l's check summed; that check saw fewer than `limit`, so with t_l itself the
 * window holds at most `limit`. The price of buckets over exact timestamps: a slot comes back up to
 * one bucket (a minute) later than it would with a log of every request, in exchange for O(1)
 * memory per client.
 *
 * Refused requests are not counted, so a client that keeps retrying while limited still recovers
 * as its old requests leave the window.
 *
 * `clientKey` is the caller's identity of the client: a key id, or an admin user. Never a request
 * path or anything else the client chooses freely, or a client could mint itself fresh limits.
 */

export interface RateLimitDecision {
  allowed: boolean;
  limit: number;
  /** Requests still admitted in the current window, after this one. */
  remaining: number;
  /** Seconds until a request would be admitted again (allowed: until the window frees one slot). */
  resetSeconds: number;
}

export interface RateLimiter {
  /** Counts one request by `clientKey` against `limit` (a whole number >= 1) if it is admitted. */
  consume(clientKey: string, limit: number): Promise<RateLimitDecision>;
  close(): Promise<void>;
}

export interface SlidingWindowOptions {
  /** The rolling window; an hour unless a test wants a short one. */
  windowMs?: number;
  /** Bucket width; must divide `windowMs`. Wider buckets: less state, slots come back later. */
  bucketMs?: number;
}

export interface SlidingWindow {
  readonly windowMs: number;
  readonly bucketMs: number;
  /** Buckets summed per decision: the full window plus the partly elapsed current bucket. */
  readonly buckets: number;
}

export const HOUR_MS = 3_600_000;
export const MINUTE_MS = 60_000;

export function slidingWindow(options: SlidingWindowOptions = {}): SlidingWindow {
  const windowMs = options.windowMs ?? HOUR_MS;
  const bucketMs = options.bucketMs ?? MINUTE_MS;
  if (!Number.isInteger(windowMs) || !Number.isInteger(bucketMs) || bucketMs <= 0 || windowMs < bucketMs || windowMs % bucketMs !== 0) {
    throw new RangeError(`Rate-limit window ${windowMs} ms must be a whole multiple of its bucket ${bucketMs} ms`);
  }
  return { windowMs, bucketMs, buckets: windowMs / bucketMs + 1 };
}

export function bucketOf(nowMs: number, window: SlidingWindow): number {
  return Math.floor(nowMs / window.bucketMs);
}

/** Where bucket `bucket` lives in a ring of `window.buckets` counters (also for negative clocks). */
export function slotOf(bucket: number, window: SlidingWindow): number {
  const slot = bucket % window.buckets;
  return slot < 0 ? slot + window.buckets : slot;
}

/**
 * How many admitted requests must leave the window before the next answer changes: one when this
 * request got in (the `resetSeconds` of an allowed request), else enough to get back under `limit`.
 */
export function slotsToFree(allowed: boolean, admittedInWindow: number, limit: number): number {
  return allowed ? 1 : admittedInWindow - limit + 1;
}

/** Bucket `bucket` stops being summed when bucket `bucket + buckets` begins. */
export function msUntilBucketLeaves(bucket: number, nowMs: number, window: SlidingWindow): number {
  return (bucket + window.buckets) * window.bucketMs - nowMs;
}

export function decision(allowed: boolean, limit: number, admittedInWindow: number, msUntilReset: number): RateLimitDecision {
  return {
    allowed,
    limit,
    remaining: allowed ? limit - admittedInWindow : 0,
    resetSeconds: Math.max(0, Math.ceil(msUntilReset / 1000)),
  };
}

/** A limit of 0 means "no limit" in configuration; the caller must not ask a limiter about it. */
export function assertLimit(limit: number): void {
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`Rate limit must be a whole number >= 1 (got ${limit})`);
}
