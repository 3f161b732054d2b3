/** Operations (seed 000): health, status and metrics. All need a credential (seed 000 lists them as protected). */
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { DataEngine } from '../../data/engine.js';
import { canSeeDatabase } from '../../auth/permissions.js';
import type { Principal } from '../../auth/principal.js';
import { VERSION } from '../../version.js';
import { principalOf } from '../access.js';
import { requestCounters, type Metrics } from '../plugins/metrics.js';
import { errorResponses } from '../schemas.js';

const Health = Type.Object({
  status: Type.Union([Type.Literal('healthy'), Type.Literal('unhealthy')]),
  timestamp: Type.String(),
  databases: Type.Record(Type.String(), Type.Union([Type.Literal('ok'), Type.Literal('error')])),
});

const ApiHealth = Type.Object({
  status: Type.Union([Type.Literal('ok'), Type.Literal('error')]),
  timestamp: Type.String(),
  databases: Type.Record(Type.String(), Type.Union([Type.Literal('ok'), Type.Literal('error')])),
});

export function operationRoutes(app: FastifyInstance, engine: DataEngine, metrics: Metrics): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['operations'];
  const startedAt = Date.now();

  /** Pings every database the caller can see: `/health` and `/api/health` share it (same tenant scoping). */
  const check = async (principal: Principal) => {
    const names = visibleDatabases(engine, principal);
    const answers = await Promise.all(names.map((name) => pingDatabase(engine, name)));
    const databases = Object.fromEntries(names.map((name, i) => [name, answers[i] ? 'ok' : 'error'] as const));
    return { healthy: answers.every(Boolean), timestamp: new Date().toISOString(), databases };
  };

  r.get('/health', {
    config: { access: { kind: 'authenticated' } },
    schema: { tags, summary: 'Healthy when every database the caller can see answers; 503 otherwise', response: { 200: Health, 503: Health, ...errorResponses } },
  }, async (request, reply) => {
    const { healthy, ...rest } = await check(principalOf(request));
    return reply.status(healthy ? 200 : 503).send({ status: healthy ? 'healthy' : 'unhealthy', ...rest });
  });

  // ekoDB's client `health()` reads `GET /api/health` and is true only for `status: "ok"`
  // (docs/decisions.md, "/api/health answers in ekoDB's shape").
  r.get('/api/health', {
    config: { access: { kind: 'authenticated' } },
    schema: { tags, summary: "Health in ekoDB's shape: `ok` when every database the caller can see answers; 503 `error` otherwise", response: { 200: ApiHealth, 503: ApiHealth, ...errorResponses } },
  }, async (request, reply) => {
    const { healthy, ...rest } = await check(principalOf(request));
    return reply.status(healthy ? 200 : 503).send({ status: healthy ? 'ok' : 'error', ...rest });
  });

  r.get('/status', {
    config: { access: { kind: 'authenticated' } },
    schema: {
      tags, summary: 'Uptime, memory, version, databases and request counters',
      response: {
        200: Type.Object({
          uptime: Type.Number({ description: 'seconds' }),
          memory: Type.Object({ rss: Type.Number(), heapTotal: Type.Number(), heapUsed: Type.Number(), external: Type.Number() }),
          version: Type.String(),
          databases: Type.Array(Type.String()),
          counters: Type.Object({
            requests: Type.Integer({ description: 'answered since start' }),
            errors: Type.Integer({ description: 'answered with a 5xx status' }),
            authFailures: Type.Integer({ description: 'refused with 401, 403 or 429' }),
            rateLimited: Type.Integer({ description: 'answered 429' }),
          }),
        }),
        ...errorResponses,
      },
    },
  }, async (request) => {
    const { rss, heapTotal, heapUsed, external } = process.memoryUsage();
    return {
      uptime: Math.round((Date.now() - startedAt) / 1000),
      memory: { rss, heapTotal, heapUsed, external },
      version: VERSION,
      databases: visibleDatabases(engine, principalOf(request)),
      counters: await requestCounters(metrics),
    };
  });

  r.get('/metrics', {
    config: { access: { kind: 'authenticated' } },
    schema: {
      tags, summary: 'Prometheus text exposition; `?format=json` for JSON',
      querystring: Type.Object({ format: Type.Optional(Type.Union([Type.Literal('prometheus'), Type.Literal('json')])) }),
      response: { 200: Type.Unknown({ description: 'text/plain (Prometheus) or JSON' }), ...errorResponses },
    },
  }, async (request, reply) => {
    if (request.query.format === 'json') return reply.send(await metrics.registry.getMetricsAsJSON());
    return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
}

/**
 * Databases are the tenant boundary: a caller learns of the ones it can see (as from
 * `GET /api/databases`), and no more, not even whether another tenant's database is healthy.
 */
function visibleDatabases(engine: DataEngine, principal: Principal): string[] {
  return engine.listDatabases().filter((name) => canSeeDatabase(principal, name));
}

async function pingDatabase(engine: DataEngine, name: string): Promise<boolean> {
  try {
    return await engine.database(name).ping();
  } catch {
    return false;
  }
}
