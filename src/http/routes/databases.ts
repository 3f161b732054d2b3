/** `/api/databases` (Duckling's routes): further DuckDB databases in DATA_DIR, and their sources (issue 15). */
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { canSeeDatabase } from '../../auth/permissions.js';
import type { DataEngine } from '../../data/engine.js';
import type { SourceSyncService } from '../../data/sync/service.js';
import { errors } from '../../errors.js';
import { principalOf } from '../access.js';
import { errorResponses } from '../schemas.js';

const Success = Type.Object({ success: Type.Boolean(), message: Type.String(), name: Type.String() });
const NameParams = Type.Object({ name: Type.String({ maxLength: 63 }) });
const SourceUrl = Type.String({
  minLength: 1, maxLength: 2048,
  description: 'mysql://user:password@host:3306/database (or mariadb://); `?ssl=true|skip-verify`. The password is stored encrypted and never shown again.',
});
const SourceBody = Type.Object({ source: SourceUrl }, { additionalProperties: false });
const SourceInfo = Type.Object({
  database: Type.String(),
  source: Type.String({ description: 'The URL with its password left out' }),
  hasPassword: Type.Boolean(),
  createdAt: Type.String(),
  updatedAt: Type.String(),
});
const DatabaseInfo = Type.Object({ success: Type.Boolean(), name: Type.String(), source: Type.Union([SourceInfo, Type.Null()]) });
const conflict = { 409: Type.Ref('Error') } as const;
const databaseTarget = (request: { params: unknown }): string => `database:${(request.params as { name: string }).name}`;

export function databaseRoutes(app: FastifyInstance, engine: DataEngine, sync: SourceSyncService): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['databases'];

  r.get('/api/databases', {
    config: { access: { kind: 'authenticated' } },
    schema: { tags, summary: 'Databases the caller can see', response: { 200: Type.Object({ success: Type.Boolean(), databases: Type.Array(Type.String()) }), ...errorResponses } },
  }, async (request) => {
    const principal = principalOf(request);
    return { success: true, databases: engine.listDatabases().filter((name) => canSeeDatabase(principal, name)) };
  });

  r.post('/api/databases', {
    config: { access: { kind: 'admin' }, audit: { kind: 'database.created', target: (request) => `database:${(request.body as { name: string }).name}` } },
    schema: {
      tags, summary: 'Create a database (admin), optionally with its source',
      body: Type.Object({ name: Type.String({ minLength: 1, maxLength: 63 }), source: Type.Optional(SourceUrl) }, { additionalProperties: false }),
      response: { 201: Success, ...conflict, ...errorResponses },
    },
  }, async (request, reply) => {
    const { name, source } = request.body;
    await createWithSource(engine, sync, name, source);
    return reply.status(201).send({ success: true, message: `Database '${name}' created`, name });
  });

  r.get('/api/databases/:name', {
    config: { access: { kind: 'admin' } },
    schema: { tags, summary: 'A database and its source, password left out (admin)', params: NameParams, response: { 200: DatabaseInfo, ...errorResponses } },
  }, async (request) => {
    const name = sync.assertDatabase(request.params.name);
    return { success: true, name, source: (await sync.getSource(name)) ?? null };
  });

  r.post('/api/databases/:name', {
    config: { access: { kind: 'admin' }, audit: { kind: 'database.source_set', target: databaseTarget } },
    schema: {
      tags, summary: 'Create a database with a MySQL/MariaDB source (admin); 409 if it already has one',
      params: NameParams, body: SourceBody, response: { 201: DatabaseInfo, ...conflict, ...errorResponses },
    },
  }, async (request, reply) => {
    const { name } = request.params;
    if (engine.listDatabases().includes(name) && (await sync.getSource(name)) !== undefined) {
      throw errors.conflict(`Database '${name}' already has a source (PUT replaces it)`);
    }
    if (!engine.listDatabases().includes(name)) await createWithSource(engine, sync, name, request.body.source);
    else await sync.setSource(name, request.body.source);
    return reply.status(201).send({ success: true, name, source: (await sync.getSource(name)) ?? null });
  });

  r.put('/api/databases/:name', {
    config: { access: { kind: 'admin' }, audit: { kind: 'database.source_set', target: databaseTarget } },
    schema: {
      tags, summary: 'Set or replace the source of a database (admin)',
      params: NameParams, body: SourceBody, response: { 200: DatabaseInfo, ...conflict, ...errorResponses },
    },
  }, async (request) => {
    const name = sync.assertDatabase(request.params.name);
    if (sync.isRunning(name)) throw errors.syncRunning(name);
    return { success: true, name, source: await sync.setSource(name, request.body.source) };
  });

  r.delete('/api/databases/:name/source', {
    config: { access: { kind: 'admin' }, audit: { kind: 'database.source_removed', target: databaseTarget } },
    schema: { tags, summary: 'Forget the source of a database (admin); synced tables stay', params: NameParams, response: { 200: Success, ...conflict, ...errorResponses } },
  }, async (request) => {
    const name = sync.assertDatabase(request.params.name);
    if (!(await sync.removeSource(name))) throw errors.notFound(`Database '${name}' has no source`);
    return { success: true, message: `Source of '${name}' removed`, name };
  });

  r.post('/api/databases/:name/test', {
    config: { access: { kind: 'admin' }, audit: { kind: 'database.source_tested', target: databaseTarget } },
    schema: {
      tags, summary: 'Connect to the source and count its tables (admin); an unreachable source answers success: false',
      params: NameParams,
      response: {
        200: Type.Object({ success: Type.Boolean(), source: Type.String(), version: Type.Optional(Type.String()), tables: Type.Optional(Type.Integer()), error: Type.Optional(Type.String()) }),
        ...conflict, ...errorResponses,
      },
    },
  }, async (request) => sync.testSource(sync.assertDatabase(request.params.name)));

  r.delete('/api/databases/:name', {
    config: { access: { kind: 'admin' }, audit: { kind: 'database.dropped', target: databaseTarget } },
    schema: {
      tags, summary: 'Drop a database and its file (admin), and forget its source',
      params: NameParams,
      response: { 200: Success, ...conflict, ...errorResponses },
    },
  }, async (request) => {
    const { name } = request.params;
    if (sync.isRunning(name)) throw errors.syncRunning(name);
    await engine.dropDatabase(name);
    await sync.removeSource(name);
    return { success: true, message: `Database '${name}' dropped`, name };
  });
}

/** The source URL is checked before the database is created, so a bad URL creates nothing. */
async function createWithSource(engine: DataEngine, sync: SourceSyncService, name: string, source: string | undefined): Promise<void> {
  if (source !== undefined) sync.checkSourceUrl(source);
  await engine.createDatabase(name);
  if (source !== undefined) await sync.setSource(name, source);
}
