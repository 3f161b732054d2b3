/**
 * A request's deadline as the data plane sees it: a moment on the `performance.now()` clock, or
 * undefined for none. Plain numbers, so any protocol can set one without knowing about this module.
 */
import { errors } from '../errors.js';

/** Milliseconds left before `deadline` (never negative); Infinity without one. */
export function remainingMs(deadline: number | undefined): number {
  return deadline === undefined ? Infinity : Math.max(0, deadline - performance.now());
}

export function isPast(deadline: number | undefined): boolean {
  return deadline !== undefined && performance.now() >= deadline;
}

/** Throws 408 `query_timeout` once the deadline has passed. */
export function assertBefore(deadline: number | undefined): void {
  if (isPast(deadline)) throw errors.queryTimeout();
}

/** The earlier of an absolute deadline and one `timeoutMs` from now. */
export function earliest(deadline: number | undefined, timeoutMs: number | undefined): number | undefined {
  const relative = timeoutMs === undefined ? undefined : performance.now() + timeoutMs;
  if (deadline === undefined) return relative;
  if (relative === undefined) return deadline;
  return Math.min(deadline, relative);
}

/** Calls `onExpiry` once at the deadline (never without one). Returns the cancel function. */
export function atDeadline(deadline: number | undefined, onExpiry: () => void): () => void {
  if (deadline === undefined) return () => undefined;
  const timer = setTimeout(onExpiry, Math.max(0, Math.ceil(deadline - performance.now())));
  return () => clearTimeout(timer);
}
