/** `POST /api/query` (seed 000's shape): SQL under DuckDB's locked configuration. */
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { DataEngine, Json } from '../../data/engine.js';
import { databaseOf } from '../access.js';
import { sendQueryAnswer } from '../json-stream.js';
import { markTruncated, readOptions, type ResultLimits } from '../result-budget.js';
import { sqlPolicy } from '../scoping.js';
import { ReadQuery, dataErrorResponses } from '../schemas.js';
import { QueryAnswer, QueryBody } from '../../contract/index.js';

export function queryRoutes(app: FastifyInstance, engine: DataEngine, limits: ResultLimits): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  r.post('/api/query', {
    config: { access: { kind: 'database' } },
    schema: {
      tags: ['sql'],
      summary: 'Run one SQL statement',
      description: 'Admins may run any statement; full-data keys SELECT, INSERT, UPDATE and DELETE; scoped keys one SELECT over the tables and fields they may read. External file access, ATTACH and configuration changes are off for everyone.',
      querystring: ReadQuery,
      body: QueryBody,
      response: {
        200: QueryAnswer,
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
