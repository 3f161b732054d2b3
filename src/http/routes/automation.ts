/**
 * `/automation/*` and `/api/backups` (issue 15 items 4 and 5): the runner's status and switch,
 * job schedules, backups and verified restores. Admin only; every change is in the audit trail
 * before its answer (`config.audit`).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Automation } from '../../automation/automation.js';
import { MAX_INTERVAL_SECONDS, MIN_INTERVAL_SECONDS } from '../../automation/automation.js';
import type { BackupService } from '../../data/backup/service.js';
import { BACKUP_ID } from '../../data/backup/storage.js';
import { errors } from '../../errors.js';
import { JOB_KINDS, type JobKind } from '../../store/automation-store.js';
import { databaseOf } from '../access.js';
import { DbQuery, errorResponses } from '../schemas.js';

const TableCheck = Type.Object({ table: Type.String(), rows: Type.Integer(), checksum: Type.String({ description: 'DuckDB: sum of hash() of every row, decimal; PostgreSQL: SHA-256 of the table\'s dump lines, hex' }) });
const Manifest = Type.Object({
  id: Type.String(),
  database: Type.String(),
  createdAt: Type.String(),
  method: Type.Union([Type.Literal('checkpoint-copy'), Type.Literal('postgres-dump')], { description: 'checkpoint-copy: a DuckDB file; postgres-dump: gzip NDJSON of one PostgreSQL snapshot. Each engine restores only its own (400 backup_unsupported)' }),
  bytes: Type.Integer(),
  sha256: Type.String(),
  tables: Type.Array(TableCheck),
  writerHeldMs: Type.Integer({ description: 'How long the snapshot held the writer (reads never wait; 0 on PostgreSQL, whose snapshot holds nobody)' }),
  duckdbVersion: Type.Optional(Type.String()),
  postgresVersion: Type.Optional(Type.String()),
});
const BackupAnswer = Type.Object({
  success: Type.Boolean(),
  backup: Manifest,
  elapsedMs: Type.Integer(),
  pruned: Type.Array(Type.String(), { description: 'Backups deleted by retention after this one' }),
});
const RestoreBody = Type.Object({
  backupId: Type.String({ maxLength: 120 }),
  target: Type.Optional(Type.String({ minLength: 1, maxLength: 63, description: 'Database to restore into; default: a new name <database>_restored_<time>' })),
  replace: Type.Optional(Type.Boolean({ description: 'Overwrite an existing database of that name (its contents are lost); default false: 409' })),
}, { additionalProperties: false });
const RestoreAnswer = Type.Object({
  success: Type.Boolean(),
  database: Type.String(),
  backupId: Type.String(),
  replaced: Type.Boolean(),
  tables: Type.Array(TableCheck, { description: 'Verified against the manifest: row counts and checksums' }),
  elapsedMs: Type.Integer(),
});
const Schedule = Type.Object({
  database: Type.String(),
  kind: Type.Union(JOB_KINDS.map((k) => Type.Literal(k))),
  intervalSeconds: Type.Integer(),
  enabled: Type.Boolean(),
  options: Type.Object({ keep: Type.Optional(Type.Integer()), maxAgeDays: Type.Optional(Type.Integer()), logRetentionDays: Type.Optional(Type.Integer()) }),
  nextRunAt: Type.String(),
  lastRunAt: Type.Union([Type.String(), Type.Null()]),
  lastStatus: Type.Union([Type.Literal('ok'), Type.Literal('failed'), Type.Null()]),
  lastError: Type.Union([Type.String(), Type.Null()]),
  lastDurationMs: Type.Union([Type.Integer(), Type.Null()]),
  runs: Type.Integer(),
  createdAt: Type.String(),
  updatedAt: Type.String(),
});
const ScheduleParams = Type.Object({
  database: Type.String({ maxLength: 63, description: "A database, or '*' (cleanup schedules: every database)" }),
  kind: Type.Union(JOB_KINDS.map((k) => Type.Literal(k))),
});
const ScheduleBody = Type.Object({
  intervalSeconds: Type.Integer({ minimum: MIN_INTERVAL_SECONDS, maximum: MAX_INTERVAL_SECONDS }),
  enabled: Type.Optional(Type.Boolean()),
  firstRunAt: Type.Optional(Type.String({ maxLength: 40, description: 'ISO 8601; default: one interval from now' })),
  keep: Type.Optional(Type.Integer({ minimum: 0, maximum: 100_000, description: 'backup/cleanup: newest backups kept (default BACKUP_KEEP)' })),
  maxAgeDays: Type.Optional(Type.Integer({ minimum: 0, maximum: 36_500, description: 'backup/cleanup: older backups deleted (default BACKUP_MAX_AGE_DAYS)' })),
  logRetentionDays: Type.Optional(Type.Integer({ minimum: 1, maximum: 36_500, description: 'cleanup: sync logs older than this are deleted' })),
}, { additionalProperties: false });
const Status = Type.Object({
  enabled: Type.Boolean({ description: 'The persisted switch, shared by every replica' }),
  runner: Type.Object({
    looping: Type.Boolean(),
    leader: Type.Boolean({ description: 'This replica holds the lease and runs the jobs' }),
    holder: Type.String(),
    current: Type.Union([Type.Object({ database: Type.String(), kind: Type.String(), startedAt: Type.String() }), Type.Null()]),
  }),
  lease: Type.Union([Type.Object({ name: Type.String(), holder: Type.String(), expiresAt: Type.String() }), Type.Null()]),
  schedules: Type.Array(Schedule),
  backups: Type.Record(Type.String(), Type.Union([Type.Literal('backup'), Type.Literal('restore')])),
  syncAvailable: Type.Boolean(),
  storage: Type.Object({ kind: Type.String(), location: Type.String() }),
});
const jobErrors = { ...errorResponses, 409: Type.Ref('Error'), 422: Type.Ref('Error'), 507: Type.Ref('Error') } as const;

export function automationRoutes(app: FastifyInstance, backups: BackupService, automation: Automation | undefined): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['automation'];
  const admin = { kind: 'admin' } as const;
  /** The database a restore went into, for its audit event (the default name is only known afterwards). */
  const restoredInto = new WeakMap<FastifyRequest, string>();

  r.post('/automation/backup', {
    config: { access: admin, audit: { kind: 'backup.created', target: (request) => `database:${databaseOf(request.query)}` } },
    schema: {
      tags, summary: 'Back up a database (admin): a checkpointed copy, fingerprinted per table',
      description: 'One backup per database at a time (409). Refused with 507 when it would leave less than BACKUP_MIN_FREE free. Retention (BACKUP_KEEP, BACKUP_MAX_AGE_DAYS) is applied after it.',
      querystring: DbQuery,
      response: { 201: BackupAnswer, ...jobErrors },
    },
  }, async (request, reply) => {
    const { elapsedMs, pruned, ...backup } = await backups.create(databaseOf(request.query));
    return reply.status(201).send({ success: true, backup, elapsedMs, pruned });
  });

  r.get('/api/backups', {
    config: { access: admin },
    schema: {
      tags, summary: 'Backups, newest first (admin); `?db=` for one database',
      querystring: Type.Object({ db: Type.Optional(Type.String({ maxLength: 63 })) }),
      response: { 200: Type.Object({ success: Type.Boolean(), storage: Type.Object({ kind: Type.String(), location: Type.String() }), backups: Type.Array(Manifest) }), ...errorResponses },
    },
  }, async (request) => ({
    success: true,
    storage: { kind: backups.storage.kind, location: backups.storage.location },
    backups: await backups.list(request.query.db || undefined),
  }));

  r.delete('/api/backups/:id', {
    config: { access: admin, audit: { kind: 'backup.deleted', target: (request) => `backup:${(request.params as { id: string }).id}` } },
    schema: {
      tags, summary: 'Delete a backup (admin)',
      params: Type.Object({ id: Type.String({ maxLength: 120 }) }),
      response: { 200: Type.Object({ success: Type.Boolean(), id: Type.String() }), ...errorResponses },
    },
  }, async (request) => {
    const { id } = request.params;
    if (!BACKUP_ID.test(id)) throw errors.badRequest('invalid_backup_id', `Invalid backup id '${id}'`);
    if ((await backups.storage.get(id)) === undefined) throw errors.notFound(`Backup '${id}' not found`);
    await backups.storage.remove(id);
    return { success: true, id };
  });

  r.post('/automation/restore', {
    config: {
      access: admin,
      audit: {
        kind: 'backup.restored',
        target: (request) => `database:${restoredInto.get(request) ?? ''}`,
        details: (request) => ({ backupId: (request.body as { backupId: string }).backupId, replace: (request.body as { replace?: boolean }).replace === true }),
      },
    },
    schema: {
      tags, summary: 'Restore a backup (admin), verified by row counts and checksums per table',
      description: 'Into a new database by default; over an existing one only with `replace: true` (409 otherwise). The file\'s SHA-256 and every table\'s row count and checksum are checked before it is put in place: any difference answers 422 `backup_verification_failed` and changes nothing. A backup taken on the other data engine (DuckDB file vs PostgreSQL dump) answers 400 `backup_unsupported`.',
      body: RestoreBody,
      response: { 200: RestoreAnswer, ...jobErrors },
    },
  }, async (request) => {
    const result = await backups.restore(request.body);
    restoredInto.set(request, result.database);
    return { success: true, ...result };
  });

  if (automation === undefined) return;

  r.get('/automation/status', {
    config: { access: admin },
    schema: { tags, summary: 'The runner, its lease, schedules and running backups (admin)', response: { 200: Status, ...errorResponses } },
  }, async () => ({ ...(await automation.status()), storage: { kind: backups.storage.kind, location: backups.storage.location } }));

  for (const action of ['start', 'stop'] as const) {
    r.post(`/automation/${action}`, {
      config: { access: admin, audit: { kind: action === 'start' ? 'automation.started' : 'automation.stopped', target: () => 'automation' } },
      schema: {
        tags, summary: action === 'start' ? 'Start the runner on every replica (admin; persisted)' : 'Stop the runner on every replica (admin; persisted); a job running finishes',
        response: { 200: Status, ...errorResponses },
      },
    }, async () => {
      const status = action === 'start' ? await automation.start() : await automation.stop();
      return { ...status, storage: { kind: backups.storage.kind, location: backups.storage.location } };
    });
  }

  r.get('/automation/schedules', {
    config: { access: admin },
    schema: { tags, summary: 'Job schedules (admin)', response: { 200: Type.Object({ success: Type.Boolean(), schedules: Type.Array(Schedule) }), ...errorResponses } },
  }, async () => ({ success: true, schedules: await automation.listSchedules() }));

  const scheduleTarget = (request: FastifyRequest) => {
    const { database, kind } = request.params as { database: string; kind: JobKind };
    return `schedule:${database}/${kind}`;
  };

  r.put('/automation/schedules/:database/:kind', {
    config: { access: admin, audit: { kind: 'automation.schedule_set', target: scheduleTarget, details: (request) => request.body as Record<string, unknown> } },
    schema: {
      tags, summary: 'Create or replace a schedule (admin): sync (incremental), backup (with retention) or cleanup (sync logs, old backups)',
      params: ScheduleParams, body: ScheduleBody,
      response: { 200: Type.Object({ success: Type.Boolean(), schedule: Schedule }), ...errorResponses },
    },
  }, async (request) => {
    const { intervalSeconds, enabled, firstRunAt, keep, maxAgeDays, logRetentionDays } = request.body;
    const options = Object.fromEntries(Object.entries({ keep, maxAgeDays, logRetentionDays }).filter(([, v]) => v !== undefined));
    const schedule = await automation.setSchedule(request.params.database, request.params.kind, { intervalSeconds, enabled, firstRunAt, options });
    return { success: true, schedule };
  });

  r.delete('/automation/schedules/:database/:kind', {
    config: { access: admin, audit: { kind: 'automation.schedule_deleted', target: scheduleTarget } },
    schema: { tags, summary: 'Delete a schedule (admin)', params: ScheduleParams, response: { 200: Type.Object({ success: Type.Boolean() }), ...errorResponses } },
  }, async (request) => {
    await automation.deleteSchedule(request.params.database, request.params.kind);
    return { success: true };
  });
}
