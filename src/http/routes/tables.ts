/** Duckling's table routes (seed 000, CONTRACT.md §5 "SQL and tables"). */
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { DataEngine } from '../../data/engine.js';
import { databaseOf } from '../access.js';
import { callOptions, markTruncated, readOptions, type ResultLimits } from '../result-budget.js';
import { readView, readableOnly } from '../scoping.js';
import { isFieldVisible } from '../../auth/permissions.js';
import { BudgetParams, DbQuery, Records, dataErrorResponses as errorResponses } from '../schemas.js';

const TableParams = Type.Object({ name: Type.String({ maxLength: 64 }) });
/** Tables made through raw SQL may have any name, so these routes serve every name the catalog has. */
const read = { kind: 'collection', level: 'read', param: 'name', names: 'catalog' } as const;

export function tableRoutes(app: FastifyInstance, engine: DataEngine, limits: ResultLimits): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['tables'];

  r.get('/api/tables', {
    config: { access: { kind: 'database' } },
    schema: { tags, summary: 'List tables', querystring: DbQuery, response: { 200: Type.Array(Type.String()), ...errorResponses } },
  }, async (request) => readableOnly(request, await engine.database(databaseOf(request.query)).listCollections(callOptions(request))));

  r.get('/api/tables/counts/all', {
    config: { access: { kind: 'database' } },
    schema: { tags, summary: 'Row count of every table', querystring: DbQuery, response: { 200: Type.Record(Type.String(), Type.Integer()), ...errorResponses } },
  }, async (request) => {
    const counts = await engine.database(databaseOf(request.query)).countAll(callOptions(request));
    const readable = new Set(readableOnly(request, Object.keys(counts)));
    return Object.fromEntries(Object.entries(counts).filter(([name]) => readable.has(name)));
  });

  r.get('/api/tables/:name/schema', {
    config: { access: read },
    schema: {
      tags, summary: "A table's columns", params: TableParams, querystring: DbQuery,
      response: {
        200: Type.Object({
          columns: Type.Array(Type.Object({
            column_name: Type.String(),
            column_type: Type.String(),
            null: Type.String(),
            key: Type.Union([Type.String(), Type.Null()]),
            default_value: Type.Union([Type.String(), Type.Null()]),
          })),
        }),
        ...errorResponses,
      },
    },
  }, async (request) => {
    const view = readView(request, request.params.name);
    const columns = await engine.database(databaseOf(request.query)).schema(request.params.name, callOptions(request));
    return { columns: columns.filter((column) => isFieldVisible(view, column.column_name)) };
  });

  r.get('/api/tables/:name/data', {
    config: { access: read },
    schema: {
      tags, summary: "A page of a table's rows", params: TableParams,
      querystring: Type.Object({
        db: Type.Optional(Type.String({ maxLength: 63 })),
        // Above the row budget: clamped to it, with `Duckgate-Truncated: rows` when rows were left out.
        limit: Type.Optional(Type.Integer({ minimum: 1, default: 100 })),
        offset: Type.Optional(Type.Integer({ minimum: 0, default: 0 })),
        ...BudgetParams,
      }),
      response: { 200: Records, ...errorResponses },
    },
  }, async (request, reply) => {
    const rows = await engine.database(databaseOf(request.query))
      .rows(request.params.name, request.query.limit ?? 100, request.query.offset ?? 0, readView(request, request.params.name), readOptions(request, limits));
    markTruncated(reply, rows.truncatedBy);
    return rows;
  });

  r.get('/api/tables/:name/count', {
    config: { access: read },
    schema: { tags, summary: "A table's row count", params: TableParams, querystring: DbQuery, response: { 200: Type.Object({ count: Type.Integer() }), ...errorResponses } },
  }, async (request) => ({ count: await engine.database(databaseOf(request.query)).count(request.params.name, callOptions(request)) }));
}
