/**
 * Folds repeats of one thing into a count. The first occurrence of a key is let through at once
 * (the caller writes it as usual); the next ones within `windowMs` of it are only counted; when
 * the window closes (or on `flush`/`close`), one summary with their count and time span is handed
 * to `onSummary`, if there was anything to count. The next occurrence after that opens a new window.
 *
 * So a flood of identical events costs at most two writes per key per window instead of one per
 * event, while a lone event is written as promptly as before. Used for the audit trail and for log
 * lines, where an attacker decides how many failures happen.
 *
 * Memory is bounded: at most `maxKeys` windows are open; a new key beyond that closes the oldest
 * window early (its summary is written then).
 */

export interface RepeatSummary<T> {
  key: string;
  /** The last of the counted occurrences. */
  last: T;
  /** Occurrences counted after the first one of the window. */
  count: number;
  /** Times (ms since the epoch) of the first and last counted occurrence. */
  firstAt: number;
  lastAt: number;
}

export interface RepeatWindowOptions<T> {
  /** How long after a key's first occurrence its repeats are folded; 0 lets every occurrence through. */
  windowMs: number;
  /** Open windows at most (default 10,000). */
  maxKeys?: number;
  onSummary: (summary: RepeatSummary<T>) => void;
  /** The clock (tests). */
  now?: () => number;
}

interface Window<T> {
  openedAt: number;
  count: number;
  firstAt: number;
  lastAt: number;
  last: T | undefined;
}

export class RepeatWindow<T> {
  /** Insertion order is opening order, so the windows due to close first are at the front. */
  private readonly windows = new Map<string, Window<T>>();
  private readonly windowMs: number;
  private readonly maxKeys: number;
  private readonly onSummary: (summary: RepeatSummary<T>) => void;
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(options: RepeatWindowOptions<T>) {
    this.windowMs = Math.max(0, options.windowMs);
    this.maxKeys = Math.max(1, options.maxKeys ?? 10_000);
    this.onSummary = options.onSummary;
    this.now = options.now ?? Date.now;
  }

  /** True: the first of its key in the current window, handle it now. False: counted for the summary. */
  admit(key: string, item: T): boolean {
    if (this.windowMs === 0 || this.closed) return true;
    const now = this.now();
    const open = this.windows.get(key);
    if (open && now - open.openedAt < this.windowMs) {
      if (open.count === 0) open.firstAt = now;
      open.count++;
      open.lastAt = now;
      open.last = item;
      return false;
    }
    if (open) this.end(key, open);
    if (this.windows.size >= this.maxKeys) {
      const [oldestKey, oldest] = this.windows.entries().next().value as [string, Window<T>];
      this.end(oldestKey, oldest);
    }
    this.windows.set(key, { openedAt: now, count: 0, firstAt: now, lastAt: now, last: undefined });
    this.schedule();
    return true;
  }

  /** Summarises every open window now and forgets them all. */
  flush(): void {
    for (const [key, window] of [...this.windows]) this.end(key, window);
    this.unschedule();
  }

  /** Flushes and stops; later occurrences are all let through. */
  close(): void {
    this.flush();
    this.closed = true;
  }

  /** Windows open now. */
  get size(): number {
    return this.windows.size;
  }

  private end(key: string, window: Window<T>): void {
    this.windows.delete(key);
    if (window.count > 0) {
      this.onSummary({ key, last: window.last as T, count: window.count, firstAt: window.firstAt, lastAt: window.lastAt });
    }
  }

  private schedule(): void {
    if (this.timer || this.windows.size === 0) return;
    const first = this.windows.values().next().value as Window<T>;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.closeDue();
    }, Math.max(0, first.openedAt + this.windowMs - this.now()));
    // Summaries must not keep a process alive: `close` writes what is left.
    this.timer.unref();
  }

  private unschedule(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private closeDue(): void {
    const now = this.now();
    for (const [key, window] of this.windows) {
      if (now - window.openedAt < this.windowMs) break;
      this.end(key, window);
    }
    this.schedule();
  }
}
