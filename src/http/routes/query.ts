/** `POST /api/query` (seed 000's shape): SQL under DuckDB's locked configuration. */
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { DataEngine, Json } from '../../data/engine.js';
import { databaseOf } from '../access.js';
import { sendQueryAnswer } from '../json-stream.js';
import { markTruncated, readOptions, type ResultLimits } from '../result-budget.js';
import { sqlPolicy } from '../scoping.js';
import { ReadQuery, RecordBody, dataErrorResponses } from '../schemas.js';

export function queryRoutes(app: FastifyInstance, engine: DataEngine, limits: ResultLimits): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  r.post('/api/query', {
    config: { access: { kind: 'database' } },
    schema: {
      tags: ['sql'],
      summary: 'Run one SQL statement',
      description: 'Admins may run any statement; full-data keys SELECT, INSERT, UPDATE and DELETE; scoped keys one SELECT over the tables and fields they may read. External file access, ATTACH and configuration changes are off for everyone.',
      querystring: ReadQuery,
      body: Type.Object({
        // Its length is the data layer's to judge (MAX_SQL_LENGTH → 400 statement_too_large).
        sql: Type.String({ minLength: 1 }),
        params: Type.Optional(Type.Union([Type.Array(Type.Unknown()), Type.Record(Type.String(), Type.Unknown())])),
      }, { additionalProperties: false }),
      response: {
        200: Type.Object({
          result: Type.Array(RecordBody),
          columns: Type.Array(Type.String()),
          rowCount: Type.Integer(),
          elapsedMs: Type.Number(),
          truncated: Type.Boolean({ description: 'True when the result budget cut the answer short (header `Duckgate-Truncated` too)' }),
          truncatedBy: Type.Optional(Type.Union([Type.Literal('rows'), Type.Literal('bytes')])),
        }),
        ...dataErrorResponses,
      },
    },
  }, async (request, reply) => {
    const { sql, params } = request.body;
    const answer = await engine.database(databaseOf(request.query)).query(sql, params as Json[] | Record<string, Json> | undefined, {
      ...readOptions(request, limits),
      ...sqlPolicy(request),
    });
    markTruncated(reply, answer.truncatedBy);
    return sendQueryAnswer(reply, answer);
  });
}
