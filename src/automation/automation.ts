/**
 * Automation as the HTTP routes and the dashboard see it: schedules (validated, persisted in the
 * control store), the runner's switch (persisted, so every replica and a restart obey it), status,
 * and what each job kind does: `sync` runs an incremental source sync, `backup` takes a backup and
 * applies retention, `cleanup` deletes old sync logs and applies backup retention.
 */
import { errors } from '../errors.js';
import type { BackupService, RetentionPolicy } from '../data/backup/service.js';
import type { DataEngine } from '../data/engine.js';
import type { SourceSync } from '../data/sync/types.js';
import { assertDatabaseName } from '../data/duckdb/names.js';
import type { AutomationStore, JobKind, Lease, RunOutcome, Schedule, ScheduleOptions } from '../store/automation-store.js';
import { AutomationRunner, ENABLED_SETTING, LEASE_NAME, type RunnerState } from './runner.js';

/** Every database, for a cleanup schedule. */
export const ALL_DATABASES = '*';
export const MIN_INTERVAL_SECONDS = 60;
export const MAX_INTERVAL_SECONDS = 366 * 86_400;

export interface AutomationOptions {
  store: AutomationStore;
  engine: DataEngine;
  backups: BackupService;
  /** Source sync, when the server has it; without it a `sync` job fails saying so. */
  sync?: Pick<SourceSync, 'incremental'>;
  /** Whether a database has a source to sync from (a sync schedule without one is refused 409 `no_source`). */
  hasSource?: (database: string) => Promise<boolean>;
  /** Deletes sync logs finished before an ISO time; answers how many went. */
  pruneSyncLogs?: (before: string) => Promise<number>;
  retention: RetentionPolicy;
  tickMs: number;
  leaseMs: number;
  holder?: string;
  now?: () => number;
  onError?: (error: unknown) => void;
  onRun?: (schedule: Schedule, outcome: RunOutcome) => void;
}

export interface ScheduleRequest {
  intervalSeconds: number;
  enabled?: boolean;
  /** ISO time of the first run; default: one interval from now. */
  firstRunAt?: string;
  options?: ScheduleOptions;
}

export interface AutomationStatus {
  /** The persisted switch (`POST /automation/start|stop`), shared by every replica. */
  enabled: boolean;
  runner: RunnerState;
  lease: Lease | null;
  schedules: Schedule[];
  /** Backups and restores running in this process, by database. */
  backups: Record<string, 'backup' | 'restore'>;
  syncAvailable: boolean;
}

export class Automation {
  readonly runner: AutomationRunner;
  private readonly now: () => number;

  constructor(private readonly options: AutomationOptions) {
    this.now = options.now ?? Date.now;
    this.runner = new AutomationRunner({
      store: options.store,
      run: (schedule) => this.runJob(schedule),
      tickMs: options.tickMs,
      leaseMs: options.leaseMs,
      holder: options.holder,
      now: this.now,
      onError: options.onError,
      onRun: options.onRun,
    });
  }

  /** At server start: the loop runs unless the persisted switch says stopped (it still ticks to notice a start elsewhere). */
  begin(): void {
    this.runner.start();
  }

  async status(): Promise<AutomationStatus> {
    const { store } = this.options;
    const [setting, lease, schedules] = await Promise.all([store.getSetting(ENABLED_SETTING), store.getLease(LEASE_NAME), store.listSchedules()]);
    const live = lease !== undefined && Date.parse(lease.expiresAt) > this.now();
    return {
      enabled: setting !== 'false',
      runner: this.runner.state(),
      lease: live ? lease : null,
      schedules,
      backups: this.options.backups.running(),
      syncAvailable: this.options.sync !== undefined,
    };
  }

  /** Persists the switch for every replica; this runner ticks at once to take the lease. */
  async start(): Promise<AutomationStatus> {
    await this.options.store.setSetting(ENABLED_SETTING, 'true', new Date(this.now()).toISOString());
    this.runner.start();
    await this.runner.tick();
    return this.status();
  }

  /** Persists the switch; a job running now finishes, no further job starts on any replica. */
  async stop(): Promise<AutomationStatus> {
    await this.options.store.setSetting(ENABLED_SETTING, 'false', new Date(this.now()).toISOString());
    await this.runner.tick();
    return this.status();
  }

  listSchedules(): Promise<Schedule[]> {
    return this.options.store.listSchedules();
  }

  async setSchedule(database: string, kind: JobKind, request: ScheduleRequest): Promise<Schedule> {
    this.assertTarget(database, kind);
    const interval = request.intervalSeconds;
    if (!Number.isInteger(interval) || interval < MIN_INTERVAL_SECONDS || interval > MAX_INTERVAL_SECONDS) {
      throw errors.badRequest('validation_failed', `intervalSeconds must be a whole number from ${MIN_INTERVAL_SECONDS} to ${MAX_INTERVAL_SECONDS}`);
    }
    if (kind === 'sync' && this.options.sync === undefined) {
      throw errors.unavailable('Source sync is not available on this server');
    }
    const options = request.options ?? {};
    if (kind === 'sync' && (options.keep !== undefined || options.maxAgeDays !== undefined)) {
      throw errors.badRequest('validation_failed', 'keep and maxAgeDays apply to backup and cleanup schedules only');
    }
    if (kind !== 'cleanup' && options.logRetentionDays !== undefined) {
      throw errors.badRequest('validation_failed', 'logRetentionDays applies to cleanup schedules only');
    }
    if (kind === 'sync' && this.options.hasSource !== undefined && !(await this.options.hasSource(database))) {
      throw errors.noSource(database);
    }
    let first = this.now() + interval * 1000;
    if (request.firstRunAt !== undefined) {
      first = Date.parse(request.firstRunAt);
      if (Number.isNaN(first)) throw errors.badRequest('validation_failed', 'firstRunAt must be an ISO 8601 time');
    }
    const now = new Date(this.now()).toISOString();
    return this.options.store.putSchedule({
      database, kind, intervalSeconds: interval, enabled: request.enabled ?? true, options, nextRunAt: new Date(first).toISOString(),
    }, now);
  }

  async deleteSchedule(database: string, kind: JobKind): Promise<void> {
    if (!(await this.options.store.deleteSchedule(database, kind))) {
      throw errors.notFound(`No ${kind} schedule for database '${database}'`);
    }
  }

  async close(): Promise<void> {
    await this.runner.stop();
  }

  private assertTarget(database: string, kind: JobKind): void {
    if (database === ALL_DATABASES) {
      if (kind !== 'cleanup') throw errors.badRequest('invalid_name', `'${ALL_DATABASES}' (every database) is for cleanup schedules only`);
      return;
    }
    assertDatabaseName(database);
    this.options.engine.database(database);
  }

  private retentionOf(schedule: Schedule): RetentionPolicy {
    return { keep: schedule.options.keep ?? this.options.retention.keep, maxAgeDays: schedule.options.maxAgeDays ?? this.options.retention.maxAgeDays };
  }

  /** What one job does. A database dropped since its schedule was set fails the run (404), visibly. */
  private async runJob(schedule: Schedule): Promise<void> {
    switch (schedule.kind) {
      case 'backup':
        await this.options.backups.create(schedule.database, this.retentionOf(schedule));
        return;
      case 'sync': {
        if (this.options.sync === undefined) throw new Error('Source sync is not available on this server');
        const run = await this.options.sync.incremental(schedule.database);
        if (run.status === 'error') throw new Error(run.error ?? 'incremental sync failed');
        return;
      }
      case 'cleanup': {
        const days = schedule.options.logRetentionDays;
        if (days !== undefined && this.options.pruneSyncLogs !== undefined) {
          await this.options.pruneSyncLogs(new Date(this.now() - days * 86_400_000).toISOString());
        }
        const databases = schedule.database === ALL_DATABASES ? this.options.engine.listDatabases() : [schedule.database];
        for (const database of databases) await this.options.backups.prune(database, this.retentionOf(schedule));
        return;
      }
    }
  }
}
