/** `/api/databases` (Duckling's routes): further DuckDB databases in DATA_DIR. */
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { canSeeDatabase } from '../../auth/permissions.js';
import type { DataEngine } from '../../data/engine.js';
import { principalOf } from '../access.js';
import { errorResponses } from '../schemas.js';

const Success = Type.Object({ success: Type.Boolean(), message: Type.String(), name: Type.String() });

export function databaseRoutes(app: FastifyInstance, engine: DataEngine): void {
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
      tags, summary: 'Create a database (admin)',
      body: Type.Object({ name: Type.String({ minLength: 1, maxLength: 63 }) }, { additionalProperties: false }),
      response: { 201: Success, 409: Type.Ref('Error'), ...errorResponses },
    },
  }, async (request, reply) => {
    await engine.createDatabase(request.body.name);
    return reply.status(201).send({ success: true, message: `Database '${request.body.name}' created`, name: request.body.name });
  });

  r.delete('/api/databases/:name', {
    config: { access: { kind: 'admin' }, audit: { kind: 'database.dropped', target: (request) => `database:${(request.params as { name: string }).name}` } },
    schema: {
      tags, summary: 'Drop a database and its file (admin)',
      params: Type.Object({ name: Type.String({ maxLength: 63 }) }),
      response: { 200: Success, 409: Type.Ref('Error'), ...errorResponses },
    },
  }, async (request) => {
    await engine.dropDatabase(request.params.name);
    return { success: true, message: `Database '${request.params.name}' dropped`, name: request.params.name };
  });
}
