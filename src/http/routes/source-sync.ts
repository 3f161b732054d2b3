/**
 * Duckling's source sync routes (issue 15), admin only, `?db=` naming the database whose source is
 * synced: `/sync/*` and `/api/sync-logs`. Every action (a run, validation, clearing) is audited.
 * `GET /sync/events` is Server-Sent Events of the database's progress.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { SourceSyncService } from '../../data/sync/service.js';
import type { SyncEvent, SyncRun, SyncType } from '../../data/sync/types.js';
import { databaseOf } from '../access.js';
import { errorResponses } from '../schemas.js';

const Watermark = Type.Union([Type.Object({ column: Type.String(), value: Type.Union([Type.String(), Type.Null()]) }), Type.Null()]);
const TableResult = Type.Object({
  table: Type.String(),
  method: Type.Union([Type.Literal('full'), Type.Literal('watermark'), Type.Literal('key')]),
  recordsProcessed: Type.Integer(),
  recordsDeleted: Type.Integer(),
  duration: Type.Integer({ description: 'Milliseconds' }),
  status: Type.Union([Type.Literal('success'), Type.Literal('error')]),
  error: Type.Optional(Type.String()),
  watermark: Type.Optional(Watermark),
});
export const SyncRunSchema = Type.Object({
  id: Type.String(),
  database: Type.String(),
  type: Type.Union([Type.Literal('full'), Type.Literal('incremental'), Type.Literal('table')]),
  status: Type.Union([Type.Literal('success'), Type.Literal('partial'), Type.Literal('error')]),
  startedAt: Type.String(),
  finishedAt: Type.String(),
  duration: Type.Integer(),
  totalRecords: Type.Integer(),
  tables: Type.Array(TableResult),
  error: Type.Optional(Type.String()),
});
const Progress = Type.Object({
  database: Type.String(),
  inProgress: Type.Boolean(),
  type: Type.Union([Type.Literal('full'), Type.Literal('incremental'), Type.Literal('table'), Type.Null()]),
  tablesCompleted: Type.Integer(),
  tablesTotal: Type.Integer(),
  currentTable: Type.Union([Type.String(), Type.Null()]),
  recordsProcessed: Type.Integer(),
  currentTableRecords: Type.Integer(),
  currentTableEstimate: Type.Union([Type.Integer(), Type.Null()]),
  startedAt: Type.Union([Type.String(), Type.Null()]),
  lastError: Type.Union([Type.String(), Type.Null()]),
});
const RunAnswer = Type.Object({ success: Type.Boolean(), message: Type.String(), run: SyncRunSchema });
const Started = Type.Object({ success: Type.Boolean(), message: Type.String(), runId: Type.String() });
const SyncQuery = Type.Object({
  db: Type.Optional(Type.String({ description: 'Database name (default `default`)', maxLength: 63 })),
  wait: Type.Optional(Type.Boolean({ default: true, description: 'false: answer 202 at once and run in the background (follow it on /sync/events)' })),
});
const DbOnly = Type.Object({ db: Type.Optional(Type.String({ description: 'Database name (default `default`)', maxLength: 63 })) });
const conflict = { 409: Type.Ref('Error'), 502: Type.Ref('Error') } as const;

const target = (request: FastifyRequest): string => `database:${databaseOf(request.query)}`;

export function sourceSyncRoutes(app: FastifyInstance, sync: SourceSyncService): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['source sync'];
  // Open event streams end when the server closes, or shutdown would wait for their clients.
  const streams = new Set<import('node:http').ServerResponse>();
  app.addHook('onClose', async () => {
    for (const stream of streams) stream.end();
  });

  const start = async (database: string, type: SyncType, wait: boolean | undefined, table?: string) => {
    // Checked before answering 202: a missing source or unknown database is the caller's to hear.
    await sync.assertSource(database);
    const started = await sync.start(database, type, table);
    if (wait === false) {
      started.finished.catch(() => {});
      return { status: 202 as const, body: { success: true, message: `${type} sync of '${database}' started`, runId: started.id } };
    }
    const run: SyncRun = await started.finished;
    return { status: 200 as const, body: { success: run.status === 'success', message: `${type} sync of '${database}': ${run.status}`, run } };
  };

  r.post('/sync/full', {
    config: { access: { kind: 'admin' }, audit: { kind: 'sync.full', target } },
    schema: {
      tags, summary: 'Copy every source table into the database (admin); resumes an interrupted copy',
      querystring: SyncQuery, response: { 200: RunAnswer, 202: Started, ...errorResponses, ...conflict },
    },
  }, async (request, reply) => {
    const { status, body } = await start(databaseOf(request.query), 'full', request.query.wait);
    return reply.status(status).send(body);
  });

  r.post('/sync/incremental', {
    config: { access: { kind: 'admin' }, audit: { kind: 'sync.incremental', target } },
    schema: {
      tags, summary: 'Bring every table up to date by watermark or key, deletes included (admin)',
      querystring: SyncQuery, response: { 200: RunAnswer, 202: Started, ...errorResponses, ...conflict },
    },
  }, async (request, reply) => {
    const { status, body } = await start(databaseOf(request.query), 'incremental', request.query.wait);
    return reply.status(status).send(body);
  });

  r.post('/sync/table/:table', {
    config: { access: { kind: 'admin' }, audit: { kind: 'sync.table', target: (request) => `table:${databaseOf(request.query)}.${(request.params as { table: string }).table}` } },
    schema: {
      tags, summary: 'Copy one source table (admin)',
      params: Type.Object({ table: Type.String({ minLength: 1, maxLength: 64 }) }),
      querystring: SyncQuery, response: { 200: RunAnswer, 202: Started, ...errorResponses, ...conflict },
    },
  }, async (request, reply) => {
    const { status, body } = await start(databaseOf(request.query), 'table', request.query.wait, request.params.table);
    return reply.status(status).send(body);
  });

  r.get('/sync/status', {
    config: { access: { kind: 'admin' } },
    schema: {
      tags, summary: 'Source, progress, last run and per-table state (admin)', querystring: DbOnly,
      response: {
        200: Type.Object({
          success: Type.Boolean(),
          database: Type.String(),
          source: Type.Union([Type.String(), Type.Null()]),
          progress: Progress,
          lastRun: Type.Union([SyncRunSchema, Type.Null()]),
          tables: Type.Array(Type.Object({
            table: Type.String(),
            method: Type.Union([Type.String(), Type.Null()]),
            watermark: Watermark,
            lastSyncAt: Type.Union([Type.String(), Type.Null()]),
            rows: Type.Integer(),
          })),
        }),
        ...errorResponses,
      },
    },
  }, async (request) => ({ success: true, ...(await sync.status(databaseOf(request.query))) }));

  r.get('/sync/progress', {
    config: { access: { kind: 'admin' } },
    schema: { tags, summary: 'Progress of the running (or last) sync (admin)', querystring: DbOnly, response: { 200: Progress, ...errorResponses } },
  }, async (request) => sync.progress(sync.assertDatabase(databaseOf(request.query))));

  r.get('/sync/validate', {
    config: { access: { kind: 'admin' }, audit: { kind: 'sync.validated', target } },
    schema: {
      tags, summary: 'Row counts and a checksum per table, source vs DuckDB (admin)', querystring: DbOnly,
      response: {
        200: Type.Object({
          success: Type.Boolean(),
          database: Type.String(),
          valid: Type.Boolean(),
          tables: Type.Array(Type.Object({
            table: Type.String(), sourceRows: Type.Integer(), duckdbRows: Type.Integer(),
            sourceChecksum: Type.String(), duckdbChecksum: Type.String(), match: Type.Boolean(),
          })),
        }),
        ...errorResponses, ...conflict,
      },
    },
  }, async (request) => ({ success: true, ...(await sync.validate(databaseOf(request.query))) }));

  r.delete('/sync/clear-all', {
    config: { access: { kind: 'admin' }, audit: { kind: 'sync.cleared', target } },
    schema: {
      tags, summary: 'Drop every synced table and its sync state (admin); the source stays', querystring: DbOnly,
      response: { 200: Type.Object({ success: Type.Boolean(), message: Type.String(), tablesDropped: Type.Array(Type.String()) }), ...errorResponses, 409: Type.Ref('Error') },
    },
  }, async (request) => {
    const database = databaseOf(request.query);
    const { tablesDropped } = await sync.clearAll(database);
    return { success: true, message: `Dropped ${tablesDropped.length} synced tables of '${database}'`, tablesDropped };
  });

  r.get('/sync/events', {
    config: { access: { kind: 'admin' } },
    schema: {
      tags, summary: 'Server-Sent Events of sync progress (admin): started, progress, table, finished', querystring: DbOnly,
      produces: ['text/event-stream'],
      response: { 200: Type.String({ description: 'text/event-stream; each event `event: <type>` with JSON `data`' }), ...errorResponses },
    },
  }, async (request, reply) => {
    const database = sync.assertDatabase(databaseOf(request.query));
    reply.hijack();
    const raw = reply.raw;
    raw.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache, no-transform', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' });
    const send = (event: string, data: unknown) => raw.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    send('progress', { type: 'progress', database, progress: sync.progress(database) });
    const unsubscribe = sync.subscribe((event: SyncEvent) => {
      if (event.database === database) send(event.type, event);
    });
    // A comment line now and then keeps proxies from closing an idle stream.
    const heartbeat = setInterval(() => raw.write(': keep-alive\n\n'), 15_000);
    heartbeat.unref();
    const stop = () => {
      clearInterval(heartbeat);
      unsubscribe();
    };
    raw.once('close', stop);
    streams.add(raw);
    raw.once('close', () => streams.delete(raw));
  });

  r.get('/api/sync-logs', {
    config: { access: { kind: 'admin' } },
    schema: {
      tags, summary: 'Sync runs, newest first (admin); `db` filters', 
      querystring: Type.Object({
        db: Type.Optional(Type.String({ maxLength: 63 })),
        limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 50 })),
      }),
      response: { 200: Type.Object({ success: Type.Boolean(), logs: Type.Array(SyncRunSchema) }), ...errorResponses },
    },
  }, async (request) => ({ success: true, logs: await sync.logs(request.query.db, request.query.limit ?? 50) }));
}
