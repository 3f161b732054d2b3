/** Records and collections, in ekoDB's shapes (seed 003, CONTRACT.md §5 "Records"). */
import { answersInMsgpack } from '../plugins/msgpack.js';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { DataEngine, FindQuery, JsonObject } from '../../data/engine.js';
import { cachedRecordJson } from '../../data/record-cache.js';
import { databaseOf, principalOf } from '../access.js';
import { callOptions, markTruncated, readOptions, type ResultLimits } from '../result-budget.js';
import { assertQueryableFields, assertWritable, readView, writeAnswer } from '../scoping.js';
import { LEVELS } from '../../auth/grants.js';
import { assertQueryOptions, recordWithoutOptions } from '../ekodb-options.js';
import { hasCollectionAccess } from '../../auth/permissions.js';
import { DeleteResult, FindBody, type FindBody as FindBodyT } from '../../contract/index.js';
import {
  BatchResult, CollectionParams, DbQuery, Paging, ReadQuery, RecordBody, RecordParams, Records, StatusMessage, dataErrorResponses as errorResponses,
} from '../schemas.js';

const MAX_BATCH = 10000;
const JSON_UTF8 = 'application/json; charset=utf-8';

export function recordRoutes(app: FastifyInstance, engine: DataEngine, limits: ResultLimits): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['records'];

  r.post('/api/insert/:collection', {
    config: { msgpack: true, access: { kind: 'collection', level: 'write', param: 'collection' } },
    schema: { tags, summary: 'Insert a record (creates the collection on first write)', params: CollectionParams, querystring: DbQuery, body: RecordBody, response: { 201: RecordBody, ...errorResponses } },
  }, async (request, reply) => {
    assertQueryOptions(request.query);
    const body = recordWithoutOptions(request.body as JsonObject);
    assertWritable(request, request.params.collection, [body]);
    const record = await engine.database(databaseOf(request.query)).insert(request.params.collection, body, callOptions(request));
    return reply.status(201).send(writeAnswer(request, request.params.collection, record));
  });

  r.post('/api/find/:collection', {
    config: { msgpack: true, access: { kind: 'collection', level: 'read', param: 'collection' } },
    schema: { tags, summary: 'Find records with a filter, sort and paging', params: CollectionParams, querystring: ReadQuery, body: FindBody, response: { 200: Records, ...errorResponses } },
  }, async (request, reply) => {
    const { collection } = request.params;
    assertQueryOptions(request.query);
    const { select_fields, exclude_fields, bypass_cache: _cache, bypass_ripple: _ripple, ...query }: FindBodyT = request.body;
    // Filters and sorts are bounded by what the grant lets the caller read, not by what it chose
    // to have returned: selecting `name` while sorting by `age` is fine when `age` is readable.
    assertQueryableFields(readView(request, collection), collection, query.filter, query.sort);
    const view = readView(request, collection, { select_fields, exclude_fields });
    const rows = await engine.database(databaseOf(request.query)).find(collection, { ...query, ...view }, readOptions(request, limits));
    markTruncated(reply, rows.truncatedBy);
    return rows;
  });

  r.get('/api/find/:collection', {
    config: { msgpack: true, access: { kind: 'collection', level: 'read', param: 'collection' } },
    schema: { tags, summary: 'List records', params: CollectionParams, querystring: Paging, response: { 200: Records, ...errorResponses } },
  }, async (request, reply) => {
    const { limit, skip } = request.query;
    const view = readView(request, request.params.collection);
    const rows = await engine.database(databaseOf(request.query)).find(request.params.collection, { limit, skip, ...view }, readOptions(request, limits));
    markTruncated(reply, rows.truncatedBy);
    return rows;
  });

  r.get('/api/find/:collection/:id', {
    config: { msgpack: true, access: { kind: 'collection', level: 'read', param: 'collection' } },
    schema: { tags, summary: 'Find one record by id', params: RecordParams, querystring: DbQuery, response: { 200: RecordBody, ...errorResponses } },
  }, (request, reply) => {
    const { collection, id } = request.params;
    const db = engine.database(databaseOf(request.query));
    const view = readView(request, collection);
    // A hit is answered at once with the cache's JSON text (the record's own when no field rule
    // changes it), without a promise (issue 17). A msgpack client's reply already has its
    // serializer and type (plugins/msgpack.ts): it is handed the record.
    const msgpack = answersInMsgpack(request);
    const cached = msgpack ? undefined : cachedRecordJson(db, collection, id, view);
    if (cached !== undefined) {
      reply.type(JSON_UTF8).send(cached);
      return;
    }
    return db.findById(collection, id, view, callOptions(request)).then((record) => {
      if (msgpack) return record;
      // A record is an open object: the schema's compiled serializer (fast-json-stringify) walks its
      // keys one by one and measured slower than JSON.stringify for it (bench/README.md, issue 17).
      return reply.type(JSON_UTF8).send(JSON.stringify(record));
    });
  });

  r.put('/api/update/:collection/:id', {
    config: { msgpack: true, access: { kind: 'collection', level: 'write', param: 'collection' } },
    schema: { tags, summary: 'Update some fields of a record; answers the whole record', params: RecordParams, querystring: DbQuery, body: RecordBody, response: { 200: RecordBody, ...errorResponses } },
  }, async (request) => {
    assertQueryOptions(request.query);
    const patch = recordWithoutOptions(request.body as JsonObject);
    assertWritable(request, request.params.collection, [patch]);
    const updated = await engine.database(databaseOf(request.query)).update(request.params.collection, request.params.id, patch, callOptions(request));
    return writeAnswer(request, request.params.collection, updated);
  });

  r.delete('/api/delete/:collection/:id', {
    config: { msgpack: true, access: { kind: 'collection', level: 'delete', param: 'collection' } },
    schema: { tags, summary: 'Delete a record', params: RecordParams, querystring: DbQuery, response: { 200: DeleteResult, ...errorResponses } },
  }, async (request) => {
    assertQueryOptions(request.query);
    await engine.database(databaseOf(request.query)).delete(request.params.collection, request.params.id, callOptions(request));
    return { status: 'success', message: 'Record deleted', id: request.params.id };
  });

  r.post('/api/batch/insert/:collection', {
    config: { msgpack: true, access: { kind: 'collection', level: 'write', param: 'collection' } },
    schema: {
      tags, summary: 'Insert many records; each succeeds or fails on its own', params: CollectionParams, querystring: DbQuery,
      body: Type.Object({ inserts: Type.Array(Type.Object({ data: RecordBody }), { maxItems: MAX_BATCH }) }),
      response: { 200: BatchResult, ...errorResponses },
    },
  }, async (request) => {
    assertQueryOptions(request.query);
    const records = request.body.inserts.map((item) => recordWithoutOptions(item.data as JsonObject));
    assertWritable(request, request.params.collection, records);
    return engine.database(databaseOf(request.query)).batchInsert(request.params.collection, records, callOptions(request));
  });

  r.put('/api/batch/update/:collection', {
    config: { msgpack: true, access: { kind: 'collection', level: 'write', param: 'collection' } },
    schema: {
      tags, summary: 'Update many records; each succeeds or fails on its own', params: CollectionParams, querystring: DbQuery,
      body: Type.Object({ updates: Type.Array(Type.Object({ id: Type.String({ maxLength: 256 }), data: RecordBody }), { maxItems: MAX_BATCH }) }),
      response: { 200: BatchResult, ...errorResponses },
    },
  }, async (request) => {
    assertQueryOptions(request.query);
    const updates = request.body.updates.map((u) => ({ id: u.id, data: recordWithoutOptions(u.data as JsonObject) }));
    assertWritable(request, request.params.collection, updates.map((u) => u.data));
    return engine.database(databaseOf(request.query)).batchUpdate(request.params.collection, updates, callOptions(request));
  });

  r.delete('/api/batch/delete/:collection', {
    config: { msgpack: true, access: { kind: 'collection', level: 'delete', param: 'collection' } },
    schema: {
      tags, summary: 'Delete many records; each succeeds or fails on its own', params: CollectionParams, querystring: DbQuery,
      body: Type.Object({ deletes: Type.Array(Type.Object({ id: Type.String({ maxLength: 256 }) }), { maxItems: MAX_BATCH }) }),
      response: { 200: BatchResult, ...errorResponses },
    },
  }, async (request) => {
    assertQueryOptions(request.query);
    return engine.database(databaseOf(request.query)).batchDelete(request.params.collection, request.body.deletes.map((d) => d.id), callOptions(request));
  });

  r.get('/api/collections', {
    config: { access: { kind: 'database' } },
    schema: { tags, summary: 'List collections', querystring: DbQuery, response: { 200: Type.Object({ collections: Type.Array(Type.String()) }), ...errorResponses } },
  }, async (request) => {
    const principal = principalOf(request);
    const database = databaseOf(request.query);
    const collections = await engine.database(database).listCollections(callOptions(request));
    return { collections: collections.filter((c) => LEVELS.some((level) => hasCollectionAccess(principal, level, database, c))) };
  });

  r.delete('/api/collections/:collection', {
    config: {
      access: { kind: 'admin' },
      audit: { kind: 'collection.dropped', target: (request) => `collection:${databaseOf(request.query)}.${(request.params as { collection: string }).collection}` },
    },
    schema: { tags, summary: 'Drop a collection and all its records (admin)', params: CollectionParams, querystring: DbQuery, response: { 200: StatusMessage, ...errorResponses } },
  }, async (request) => {
    await engine.database(databaseOf(request.query)).dropCollection(request.params.collection, callOptions(request));
    return { status: 'success', message: `Collection '${request.params.collection}' dropped` };
  });
}
