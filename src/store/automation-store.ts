/**
 * The control-plane store's seam for automation (issue 15 item 4): job schedules, which survive
 * restarts and are shared by every replica on the store, a lease so one runner at a time acts on
 * them, and the runner's on/off switch. SQLite (`sqlite-automation.ts`) and PostgreSQL
 * (`postgres/automation.ts`) implement it on the same tables (migration 8).
 */

export const JOB_KINDS = ['sync', 'backup', 'cleanup'] as const;
export type JobKind = (typeof JOB_KINDS)[number];

export interface ScheduleOptions {
  /** Backups: newest kept per database (overrides BACKUP_KEEP). */
  keep?: number;
  /** Backups: deleted past this age, in days (overrides BACKUP_MAX_AGE_DAYS). */
  maxAgeDays?: number;
  /** Cleanup: sync log entries older than this many days are deleted. */
  logRetentionDays?: number;
}

export interface ScheduleInput {
  database: string;
  kind: JobKind;
  intervalSeconds: number;
  enabled: boolean;
  options: ScheduleOptions;
  /** ISO; when the job runs first (and next, after a change of interval). */
  nextRunAt: string;
}

export interface Schedule extends ScheduleInput {
  lastRunAt: string | null;
  lastStatus: 'ok' | 'failed' | null;
  /** The last failure's message (an ApiError's text, never a stack). */
  lastError: string | null;
  lastDurationMs: number | null;
  /** Runs since the schedule was created. */
  runs: number;
  createdAt: string;
  updatedAt: string;
}

export interface RunOutcome {
  at: string;
  status: 'ok' | 'failed';
  error: string | null;
  durationMs: number;
}

export interface Lease {
  name: string;
  holder: string;
  expiresAt: string;
}

export interface AutomationStore {
  listSchedules(): Promise<Schedule[]>;
  getSchedule(database: string, kind: JobKind): Promise<Schedule | undefined>;
  /** Creates or replaces the schedule of (database, kind); its run history is kept on replace. */
  putSchedule(input: ScheduleInput, now: string): Promise<Schedule>;
  deleteSchedule(database: string, kind: JobKind): Promise<boolean>;
  /**
   * Claims one due run: moves `nextRunAt` from `expected` to `next` only if nobody moved it first.
   * True for exactly one caller, whatever the number of runners (the lease's second line of defence).
   */
  claimRun(database: string, kind: JobKind, expected: string, next: string): Promise<boolean>;
  recordRun(database: string, kind: JobKind, outcome: RunOutcome): Promise<void>;
  /**
   * Takes or renews lease `name` for `holder` until `until`: granted when free, expired (before
   * `now`) or already `holder`'s. True when `holder` holds it afterwards.
   */
  acquireLease(name: string, holder: string, until: string, now: string): Promise<boolean>;
  releaseLease(name: string, holder: string): Promise<void>;
  getLease(name: string): Promise<Lease | undefined>;
  /** A persisted setting (the runner's on/off switch). */
  getSetting(name: string): Promise<string | undefined>;
  setSetting(name: string, value: string, now: string): Promise<void>;
  close(): Promise<void>;
}

export function isJobKind(value: string): value is JobKind {
  return (JOB_KINDS as readonly string[]).includes(value);
}
