/**
 * The embedded store's change feed: its triggers log every control-plane change in
 * `control_changes` (migration 6), and this polls that log on its own connection, a few times a
 * second, handing each change to the listeners by name. One indexed read per poll is cheap, and on
 * a single machine polling is all a second process (the CLI) needs.
 *
 * A failed poll is a lost feed (listeners read through) until the next poll succeeds. A log pruned
 * past the last row seen (a process suspended for minutes) is treated the same: resumed, so every
 * cache starts over, since the changes in between are gone.
 */
import type Database from 'better-sqlite3';
import { Listeners, type ChangeFeed, type ChangeListener, type ControlChange } from './changes.js';
import { openSqliteFile } from './sqlite-file.js';

export interface SqliteChangeFeedOptions {
  /** How often the log is read. */
  pollMs?: number;
  /** Log rows older than this are deleted (by whichever process polls). */
  keepMs?: number;
}

interface ChangeRow {
  seq: number;
  kind: string;
  ref: string;
  detail: string | null;
}

const PRUNE_EVERY_POLLS = 240;

export class SqliteChangeFeed implements ChangeFeed {
  private readonly db: Database.Database;
  private readonly listeners = new Listeners();
  private readonly pollMs: number;
  private readonly keepMs: number;
  private readonly statements;
  private timer: NodeJS.Timeout | undefined;
  private lastSeq = 0;
  private live = false;
  private polls = 0;

  constructor(file: string, options: SqliteChangeFeedOptions = {}) {
    // Reads, and a prune now and then: losing a prune to a power cut costs nothing.
    this.db = openSqliteFile(file, { synchronous: 'NORMAL' });
    this.pollMs = options.pollMs ?? 100;
    this.keepMs = options.keepMs ?? 10 * 60_000;
    this.statements = {
      since: this.db.prepare<[number], ChangeRow>(`SELECT seq, kind, ref, detail FROM control_changes WHERE seq > ? ORDER BY seq LIMIT 1000`),
      bounds: this.db.prepare<[], { lo: number | null; hi: number | null }>(`SELECT min(seq) AS lo, max(seq) AS hi FROM control_changes`),
      prune: this.db.prepare<[string]>(`DELETE FROM control_changes WHERE at < ?`),
      sequence: this.db.prepare<[], { seq: number }>(`SELECT seq FROM sqlite_sequence WHERE name = 'control_changes'`),
    };
  }

  watch(listener: ChangeListener): () => void {
    const remove = this.listeners.add(listener);
    listener.lost(new Error('change feed not read yet'));
    if (this.live) listener.resumed();
    if (!this.timer) {
      this.start();
      this.timer = setInterval(() => this.poll(), this.pollMs);
      this.timer.unref();
    }
    return () => {
      remove();
      if (this.listeners.size === 0 && this.timer) {
        clearInterval(this.timer);
        this.timer = undefined;
        this.live = false;
      }
    };
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.db.open) this.db.close();
  }

  /** From now on: what is already in the log happened before anything was cached. */
  private start(): void {
    try {
      this.lastSeq = this.statements.sequence.get()?.seq ?? 0;
      this.setLive();
    } catch (error) {
      this.setLost(error);
    }
  }

  private poll(): void {
    if (!this.db.open) return;
    try {
      if (++this.polls % PRUNE_EVERY_POLLS === 0) this.statements.prune.run(new Date(Date.now() - this.keepMs).toISOString());
      const { lo } = this.statements.bounds.get()!;
      if (lo !== null && lo > this.lastSeq + 1) {
        // Rows after the last one seen were pruned: what changed meanwhile cannot be known, so
        // every cache starts over; the rows still there are delivered after that.
        this.lastSeq = lo - 1;
        if (this.live) {
          this.listeners.lost(new Error('change log pruned past the last change seen'));
          this.listeners.resumed();
        }
      }
      for (;;) {
        const rows = this.statements.since.all(this.lastSeq);
        for (const row of rows) {
          this.lastSeq = row.seq;
          const change = toChange(row);
          if (change) this.listeners.changed(change);
        }
        if (rows.length < 1000) break;
      }
      this.setLive();
    } catch (error) {
      this.setLost(error);
    }
  }

  private setLive(): void {
    if (this.live) return;
    this.live = true;
    this.listeners.resumed();
  }

  private setLost(error: unknown): void {
    if (!this.live) return;
    this.live = false;
    this.listeners.lost(error);
  }
}

function toChange(row: ChangeRow): ControlChange | undefined {
  switch (row.kind) {
    case 'key':
      return { kind: 'key', keyId: row.ref };
    case 'account':
      return { kind: 'account', username: row.ref };
    case 'token':
      return row.detail === null ? undefined : { kind: 'token', jti: row.ref, expiresAt: row.detail };
    default:
      return undefined;
  }
}
