/** Automation schedules, the runner lease and settings on PostgreSQL: `../sqlite-automation.ts` for every replica on the store. */
import type { AutomationStore, JobKind, Lease, RunOutcome, Schedule, ScheduleInput } from '../automation-store.js';
import type { PostgresDatabase } from './database.js';
import { isoOrNull, isoTime } from './times.js';

interface ScheduleRow {
  database_name: string;
  kind: JobKind;
  interval_seconds: number;
  enabled: boolean;
  options: string;
  next_run_at: Date;
  last_run_at: Date | null;
  last_status: 'ok' | 'failed' | null;
  last_error: string | null;
  last_duration_ms: number | null;
  runs: number;
  created_at: Date;
  updated_at: Date;
}

const COLUMNS = `database_name, kind, interval_seconds, enabled, options, next_run_at, last_run_at, last_status, last_error,
  last_duration_ms, runs, created_at, updated_at`;

export class PostgresAutomationStore implements AutomationStore {
  private closed = false;

  constructor(private readonly db: PostgresDatabase) {}

  async listSchedules(): Promise<Schedule[]> {
    const { rows } = await this.db.query<ScheduleRow>(`SELECT ${COLUMNS} FROM automation_schedules ORDER BY database_name, kind`);
    return rows.map(toSchedule);
  }

  async getSchedule(database: string, kind: JobKind): Promise<Schedule | undefined> {
    const { rows } = await this.db.query<ScheduleRow>(`SELECT ${COLUMNS} FROM automation_schedules WHERE database_name = $1 AND kind = $2`, [database, kind]);
    return rows[0] && toSchedule(rows[0]);
  }

  async putSchedule(input: ScheduleInput, now: string): Promise<Schedule> {
    const { rows } = await this.db.query<ScheduleRow>(`INSERT INTO automation_schedules
        (database_name, kind, interval_seconds, enabled, options, next_run_at, runs, created_at, updated_at)
      VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $7)
      ON CONFLICT (database_name, kind) DO UPDATE SET interval_seconds = excluded.interval_seconds, enabled = excluded.enabled,
        options = excluded.options, next_run_at = excluded.next_run_at, updated_at = excluded.updated_at
      RETURNING ${COLUMNS}`,
    [input.database, input.kind, input.intervalSeconds, input.enabled, JSON.stringify(input.options), input.nextRunAt, now]);
    return toSchedule(rows[0]!);
  }

  async deleteSchedule(database: string, kind: JobKind): Promise<boolean> {
    const { rowCount } = await this.db.query(`DELETE FROM automation_schedules WHERE database_name = $1 AND kind = $2`, [database, kind]);
    return rowCount === 1;
  }

  async claimRun(database: string, kind: JobKind, expected: string, next: string): Promise<boolean> {
    const { rowCount } = await this.db.query(`UPDATE automation_schedules SET next_run_at = $4
      WHERE database_name = $1 AND kind = $2 AND next_run_at = $3 AND enabled`, [database, kind, expected, next]);
    return rowCount === 1;
  }

  async recordRun(database: string, kind: JobKind, outcome: RunOutcome): Promise<void> {
    await this.db.query(`UPDATE automation_schedules SET last_run_at = $3, last_status = $4, last_error = $5, last_duration_ms = $6,
      runs = runs + 1 WHERE database_name = $1 AND kind = $2`, [database, kind, outcome.at, outcome.status, outcome.error, outcome.durationMs]);
  }

  async acquireLease(name: string, holder: string, until: string, now: string): Promise<boolean> {
    // One statement: the row lock of the upsert decides between two replicas asking at once.
    const { rows } = await this.db.query<{ holder: string }>(`INSERT INTO automation_leases (name, holder, expires_at) VALUES ($1, $2, $3)
      ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
      WHERE automation_leases.holder = excluded.holder OR automation_leases.expires_at < $4
      RETURNING holder`, [name, holder, until, now]);
    return rows[0]?.holder === holder;
  }

  async releaseLease(name: string, holder: string): Promise<void> {
    await this.db.query(`DELETE FROM automation_leases WHERE name = $1 AND holder = $2`, [name, holder]);
  }

  async getLease(name: string): Promise<Lease | undefined> {
    const { rows } = await this.db.query<{ name: string; holder: string; expires_at: Date }>(`SELECT name, holder, expires_at FROM automation_leases WHERE name = $1`, [name]);
    return rows[0] && { name: rows[0].name, holder: rows[0].holder, expiresAt: isoTime(rows[0].expires_at) };
  }

  async getSetting(name: string): Promise<string | undefined> {
    const { rows } = await this.db.query<{ value: string }>(`SELECT value FROM automation_settings WHERE name = $1`, [name]);
    return rows[0]?.value;
  }

  async setSetting(name: string, value: string, now: string): Promise<void> {
    await this.db.query(`INSERT INTO automation_settings (name, value, updated_at) VALUES ($1, $2, $3)
      ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`, [name, value, now]);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.db.release();
  }
}

function toSchedule(row: ScheduleRow): Schedule {
  return {
    database: row.database_name,
    kind: row.kind,
    intervalSeconds: row.interval_seconds,
    enabled: row.enabled,
    options: JSON.parse(row.options) as Schedule['options'],
    nextRunAt: isoTime(row.next_run_at),
    lastRunAt: isoOrNull(row.last_run_at),
    lastStatus: row.last_status,
    lastError: row.last_error,
    lastDurationMs: row.last_duration_ms,
    runs: row.runs,
    createdAt: isoTime(row.created_at),
    updatedAt: isoTime(row.updated_at),
  };
}
