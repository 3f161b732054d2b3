/** Batch upsert by `externalId` (seed 002's DuckHub shape): idempotent and all-or-nothing. */
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { DataEngine, JsonObject } from '../../data/engine.js';
import { databaseOf } from '../access.js';
import { callOptions } from '../result-budget.js';
import { assertWritable } from '../scoping.js';
import { CollectionParams, DbQuery, RecordBody, dataErrorResponses as errorResponses } from '../schemas.js';

const MAX_SYNC_RECORDS = 50_000;
/** `externalId` picks the record to upsert: here, and only here, it needs no place in `writable_fields`. */
const MATCH_KEY = { matchKey: 'externalId' } as const;
const SyncRecords = Type.Array(RecordBody, { maxItems: MAX_SYNC_RECORDS });
const Counts = Type.Object({ created: Type.Integer(), updated: Type.Integer(), unchanged: Type.Integer() });
const SyncAnswer = Type.Record(Type.String(), Counts);

export function syncRoutes(app: FastifyInstance, engine: DataEngine): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['sync'];

  r.post('/v1/sync', {
    config: { msgpack: true, access: { kind: 'body-collections', level: 'write' } },
    schema: {
      tags, summary: 'Upsert records of several collections by externalId, in one transaction',
      querystring: DbQuery,
      body: Type.Record(Type.String(), SyncRecords, { minProperties: 1, maxProperties: 100 }),
      response: { 200: SyncAnswer, ...errorResponses },
    },
  }, async (request) => {
    const batches = request.body as Record<string, JsonObject[]>;
    for (const [collection, records] of Object.entries(batches)) assertWritable(request, collection, records, MATCH_KEY);
    return engine.database(databaseOf(request.query)).sync(batches, callOptions(request));
  });

  r.post('/v1/sync/:collection', {
    config: { msgpack: true, access: { kind: 'collection', level: 'write', param: 'collection' } },
    schema: {
      tags, summary: 'Upsert records of one collection by externalId, in one transaction',
      params: CollectionParams, querystring: DbQuery, body: SyncRecords,
      response: { 200: SyncAnswer, ...errorResponses },
    },
  }, async (request) => {
    const records = request.body as JsonObject[];
    assertWritable(request, request.params.collection, records, MATCH_KEY);
    return engine.database(databaseOf(request.query)).sync({ [request.params.collection]: records }, callOptions(request));
  });
}
