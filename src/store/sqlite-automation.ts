/** Automation schedules, the runner lease and settings in the embedded control-plane store (migration 7). */
import type Database from 'better-sqlite3';
import type { AutomationStore, JobKind, Lease, RunOutcome, Schedule, ScheduleInput } from './automation-store.js';
import { openSqliteFile } from './sqlite-file.js';

interface ScheduleRow {
  database_name: string;
  kind: JobKind;
  interval_seconds: number;
  enabled: number;
  options: string;
  next_run_at: string;
  last_run_at: string | null;
  last_status: 'ok' | 'failed' | null;
  last_error: string | null;
  last_duration_ms: number | null;
  runs: number;
  created_at: string;
  updated_at: string;
}

const COLUMNS = `database_name, kind, interval_seconds, enabled, options, next_run_at, last_run_at, last_status, last_error,
  last_duration_ms, runs, created_at, updated_at`;

export class SqliteAutomationStore implements AutomationStore {
  private readonly db: Database.Database;
  private readonly statements;

  constructor(file: string) {
    // A schedule change or a claimed run must survive a power cut, or a run could happen twice.
    this.db = openSqliteFile(file, { synchronous: 'FULL' });
    const db = this.db;
    this.statements = {
      list: db.prepare<[], ScheduleRow>(`SELECT ${COLUMNS} FROM automation_schedules ORDER BY database_name, kind`),
      get: db.prepare<[string, string], ScheduleRow>(`SELECT ${COLUMNS} FROM automation_schedules WHERE database_name = ? AND kind = ?`),
      put: db.prepare(`INSERT INTO automation_schedules (database_name, kind, interval_seconds, enabled, options, next_run_at, runs, created_at, updated_at)
        VALUES (@database, @kind, @interval, @enabled, @options, @next, 0, @now, @now)
        ON CONFLICT (database_name, kind) DO UPDATE SET interval_seconds = excluded.interval_seconds, enabled = excluded.enabled,
          options = excluded.options, next_run_at = excluded.next_run_at, updated_at = excluded.updated_at`),
      remove: db.prepare(`DELETE FROM automation_schedules WHERE database_name = ? AND kind = ?`),
      claim: db.prepare(`UPDATE automation_schedules SET next_run_at = @next WHERE database_name = @database AND kind = @kind AND next_run_at = @expected AND enabled = 1`),
      record: db.prepare(`UPDATE automation_schedules SET last_run_at = @at, last_status = @status, last_error = @error, last_duration_ms = @duration,
        runs = runs + 1 WHERE database_name = @database AND kind = @kind`),
      lease: db.prepare(`INSERT INTO automation_leases (name, holder, expires_at) VALUES (@name, @holder, @until)
        ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
        WHERE automation_leases.holder = excluded.holder OR automation_leases.expires_at < @now`),
      getLease: db.prepare<[string], { name: string; holder: string; expires_at: string }>(`SELECT name, holder, expires_at FROM automation_leases WHERE name = ?`),
      release: db.prepare(`DELETE FROM automation_leases WHERE name = ? AND holder = ?`),
      getSetting: db.prepare<[string], { value: string }>(`SELECT value FROM automation_settings WHERE name = ?`),
      setSetting: db.prepare(`INSERT INTO automation_settings (name, value, updated_at) VALUES (?, ?, ?)
        ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`),
    };
  }

  async listSchedules(): Promise<Schedule[]> {
    return this.statements.list.all().map(toSchedule);
  }

  async getSchedule(database: string, kind: JobKind): Promise<Schedule | undefined> {
    const row = this.statements.get.get(database, kind);
    return row && toSchedule(row);
  }

  async putSchedule(input: ScheduleInput, now: string): Promise<Schedule> {
    return this.db.transaction(() => {
      this.statements.put.run({
        database: input.database, kind: input.kind, interval: input.intervalSeconds, enabled: input.enabled ? 1 : 0,
        options: JSON.stringify(input.options), next: input.nextRunAt, now,
      });
      return toSchedule(this.statements.get.get(input.database, input.kind)!);
    }).immediate();
  }

  async deleteSchedule(database: string, kind: JobKind): Promise<boolean> {
    return this.statements.remove.run(database, kind).changes === 1;
  }

  async claimRun(database: string, kind: JobKind, expected: string, next: string): Promise<boolean> {
    return this.statements.claim.run({ database, kind, expected, next }).changes === 1;
  }

  async recordRun(database: string, kind: JobKind, outcome: RunOutcome): Promise<void> {
    this.statements.record.run({ database, kind, at: outcome.at, status: outcome.status, error: outcome.error, duration: outcome.durationMs });
  }

  async acquireLease(name: string, holder: string, until: string, now: string): Promise<boolean> {
    return this.db.transaction(() => {
      this.statements.lease.run({ name, holder, until, now });
      return this.statements.getLease.get(name)?.holder === holder;
    }).immediate();
  }

  async releaseLease(name: string, holder: string): Promise<void> {
    this.statements.release.run(name, holder);
  }

  async getLease(name: string): Promise<Lease | undefined> {
    const row = this.statements.getLease.get(name);
    return row && { name: row.name, holder: row.holder, expiresAt: row.expires_at };
  }

  async getSetting(name: string): Promise<string | undefined> {
    return this.statements.getSetting.get(name)?.value;
  }

  async setSetting(name: string, value: string, now: string): Promise<void> {
    this.statements.setSetting.run(name, value, now);
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}

function toSchedule(row: ScheduleRow): Schedule {
  return {
    database: row.database_name,
    kind: row.kind,
    intervalSeconds: row.interval_seconds,
    enabled: row.enabled === 1,
    options: JSON.parse(row.options) as Schedule['options'],
    nextRunAt: row.next_run_at,
    lastRunAt: row.last_run_at,
    lastStatus: row.last_status,
    lastError: row.last_error,
    lastDurationMs: row.last_duration_ms,
    runs: row.runs,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}
