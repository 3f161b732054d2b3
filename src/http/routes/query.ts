/** `POST /api/query` (seed 000's shape): SQL under DuckDB's locked configuration. */
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { DataEngine, Json } from '../../data/engine.js';
import { databaseOf } from '../access.js';
import { sqlPolicy } from '../scoping.js';
import { DbQuery, RecordBody, errorResponses } from '../schemas.js';

export function queryRoutes(app: FastifyInstance, engine: DataEngine, queryTimeoutMs: number): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  r.post('/api/query', {
    config: { access: { kind: 'database' } },
    schema: {
      tags: ['sql'],
      summary: 'Run one SQL statement',
      description: 'Admins may run any statement; full-data keys SELECT, INSERT, UPDATE and DELETE; scoped keys one SELECT over the tables and fields they may read. External file access, ATTACH and configuration changes are off for everyone.',
      querystring: DbQuery,
      body: Type.Object({
        sql: Type.String({ minLength: 1, maxLength: 1_000_000 }),
        params: Type.Optional(Type.Union([Type.Array(Type.Unknown()), Type.Record(Type.String(), Type.Unknown())])),
      }, { additionalProperties: false }),
      response: {
        200: Type.Object({ result: Type.Array(RecordBody), columns: Type.Array(Type.String()), rowCount: Type.Integer(), elapsedMs: Type.Number() }),
        408: Type.Ref('Error'),
        ...errorResponses,
      },
    },
  }, async (request) => {
    const { sql, params } = request.body;
    return engine.database(databaseOf(request.query)).query(sql, params as Json[] | Record<string, Json> | undefined, {
      timeoutMs: queryTimeoutMs,
      ...sqlPolicy(request),
    });
  });
}
