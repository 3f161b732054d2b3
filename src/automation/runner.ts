/**
 * The automation runner: every `tickMs` it takes (or renews) the store's lease, and only the lease
 * holder runs due jobs, one at a time. Several replicas on one store run each job once: the lease
 * picks one runner, and each run is claimed with a compare-and-set on the schedule's next run time,
 * so even two runners that both believe they hold the lease (a handover mid-tick) cannot both run
 * it. A job that outlives the lease keeps it renewed while it runs.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { AutomationStore, RunOutcome, Schedule } from '../store/automation-store.js';

export const LEASE_NAME = 'automation';
export const ENABLED_SETTING = 'automation.enabled';

export interface RunnerOptions {
  store: AutomationStore;
  /** Runs one job; throws to mark the run failed. */
  run: (schedule: Schedule) => Promise<void>;
  tickMs: number;
  /** How long a lease lasts without renewal; a crashed holder is replaced after this. */
  leaseMs: number;
  /** Tells runners apart in the lease (default: host, pid and a random tag). */
  holder?: string;
  now?: () => number;
  onError?: (error: unknown) => void;
  onRun?: (schedule: Schedule, outcome: RunOutcome) => void;
}

export interface RunnerState {
  /** This process's loop is ticking. */
  looping: boolean;
  /** This runner held the lease at its last tick. */
  leader: boolean;
  holder: string;
  current: { database: string; kind: string; startedAt: string } | null;
}

export class AutomationRunner {
  readonly holder: string;
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<number> | undefined;
  private leader = false;
  private current: RunnerState['current'] = null;
  /** Set by `stop()`: the pass in progress starts no further job. */
  private stopping = false;

  constructor(private readonly options: RunnerOptions) {
    this.holder = options.holder ?? `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
    this.now = options.now ?? Date.now;
  }

  state(): RunnerState {
    return { looping: this.timer !== undefined, leader: this.leader, holder: this.holder, current: this.current };
  }

  /** Starts the loop (a first tick at once); idempotent. */
  start(): void {
    if (this.timer !== undefined) return;
    this.stopping = false;
    this.timer = setInterval(() => void this.tick(), this.options.tickMs);
    this.timer.unref();
    void this.tick();
  }

  /** Stops the loop, waits for a running job, and gives the lease up so another runner takes over at once. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    this.stopping = true;
    await this.ticking;
    this.stopping = false;
    if (this.leader) {
      this.leader = false;
      await this.options.store.releaseLease(LEASE_NAME, this.holder).catch((error: unknown) => this.options.onError?.(error));
    }
  }

  /** One pass; answers the number of jobs run. Overlapping calls share the pass in progress. */
  tick(): Promise<number> {
    this.ticking ??= this.pass().catch((error: unknown) => {
      this.options.onError?.(error);
      return 0;
    }).finally(() => {
      this.ticking = undefined;
    });
    return this.ticking;
  }

  private iso(offsetMs = 0): string {
    return new Date(this.now() + offsetMs).toISOString();
  }

  private async pass(): Promise<number> {
    const { store } = this.options;
    if ((await store.getSetting(ENABLED_SETTING)) === 'false') {
      if (this.leader) await store.releaseLease(LEASE_NAME, this.holder);
      this.leader = false;
      return 0;
    }
    this.leader = await store.acquireLease(LEASE_NAME, this.holder, this.iso(this.options.leaseMs), this.iso());
    if (!this.leader) return 0;
    let ran = 0;
    for (const schedule of await store.listSchedules()) {
      if (!schedule.enabled || Date.parse(schedule.nextRunAt) > this.now()) continue;
      // Stopped meanwhile (POST /automation/stop on any replica, or `stop()` here): no new job.
      if (this.stopping) break;
      const next = this.iso(schedule.intervalSeconds * 1000);
      if (!(await store.claimRun(schedule.database, schedule.kind, schedule.nextRunAt, next))) continue;
      await this.runOne(schedule);
      ran++;
      if ((await store.getSetting(ENABLED_SETTING)) === 'false') break;
    }
    return ran;
  }

  private async runOne(schedule: Schedule): Promise<void> {
    const { store } = this.options;
    const startedAt = this.now();
    this.current = { database: schedule.database, kind: schedule.kind, startedAt: new Date(startedAt).toISOString() };
    const renew = setInterval(() => {
      void store.acquireLease(LEASE_NAME, this.holder, this.iso(this.options.leaseMs), this.iso())
        .then((held) => (this.leader = held), (error: unknown) => this.options.onError?.(error));
    }, Math.max(10, Math.floor(this.options.leaseMs / 3)));
    renew.unref();
    let outcome: RunOutcome;
    try {
      await this.options.run(schedule);
      outcome = { at: new Date(startedAt).toISOString(), status: 'ok', error: null, durationMs: Math.round(this.now() - startedAt) };
    } catch (error) {
      const message = (error instanceof Error ? error.message : String(error)).slice(0, 1000);
      outcome = { at: new Date(startedAt).toISOString(), status: 'failed', error: message, durationMs: Math.round(this.now() - startedAt) };
    } finally {
      clearInterval(renew);
      this.current = null;
    }
    await store.recordRun(schedule.database, schedule.kind, outcome);
    this.options.onRun?.(schedule, outcome);
  }
}
