/**
 * The audit trail over HTTP (admin only): newest first, filtered, paged by id. Answers what has
 * been recorded up to the moment of the request: the trail is flushed before it is read.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { AuditTrail } from '../../auth/audit-trail.js';
import { errors } from '../../errors.js';
import { AUDIT_KINDS, isAuditKind, type AuditKind, type AuditQuery, type StoredAuditEvent } from '../../store/audit-store.js';
import { errorResponses } from '../schemas.js';

const MAX_LIMIT = 1000;
const TIME_DESCRIPTION = 'ISO 8601: a date (2024-05-01, UTC midnight) or a date and time with Z or an offset';

const AuditQuerystring = Type.Object({
  kind: Type.Optional(Type.String({ maxLength: 500, description: `Comma-separated event kinds: ${AUDIT_KINDS.join(', ')}` })),
  actor: Type.Optional(Type.String({ maxLength: 200, description: 'Principal id: key_…, env:admin, an admin user' })),
  ip: Type.Optional(Type.String({ maxLength: 64 })),
  code: Type.Optional(Type.String({ maxLength: 64, description: 'Error code of a failure, e.g. invalid_api_key' })),
  target: Type.Optional(Type.String({ maxLength: 200, description: 'What was acted on: a key_id, user:<name>, database:<name>, collection:<database>.<name>' })),
  since: Type.Optional(Type.String({ maxLength: 64, description: `Events at or after this time. ${TIME_DESCRIPTION}` })),
  until: Type.Optional(Type.String({ maxLength: 64, description: `Events before this time. ${TIME_DESCRIPTION}` })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_LIMIT, default: 100 })),
  before: Type.Optional(Type.Integer({ minimum: 1, description: 'Paging cursor: events with a smaller id (next_before of the previous page)' })),
}, { additionalProperties: false });

const Nullable = <T extends ReturnType<typeof Type.String>>(schema: T) => Type.Union([schema, Type.Null()]);

const AuditEventBody = Type.Object({
  id: Type.Integer(),
  at: Type.String({ description: 'ISO 8601, UTC' }),
  kind: Type.Union(AUDIT_KINDS.map((kind) => Type.Literal(kind))),
  actor: Nullable(Type.String({ description: 'Who acted: a principal id' })),
  key_prefix: Nullable(Type.String({ description: "A key's 16-character prefix; never the full key" })),
  ip: Nullable(Type.String()),
  user_agent: Nullable(Type.String()),
  route: Nullable(Type.String({ description: 'Route pattern, e.g. "GET /api/find/:collection"' })),
  code: Nullable(Type.String({ description: 'Error code of a failure' })),
  target: Nullable(Type.String({ description: 'What was acted on: a key_id, user:<name>, database:<name>, collection:<database>.<name>' })),
  details: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]),
});

const AuditPage = Type.Object({
  events: Type.Array(AuditEventBody),
  next_before: Type.Union([Type.Integer(), Type.Null()], { description: 'Pass as `before` for the next (older) page; null on the last page' }),
});

export function auditRoutes(app: FastifyInstance, trail: AuditTrail): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.get('/api/audit', {
    config: { access: { kind: 'admin' } },
    schema: {
      tags: ['audit'],
      summary: 'The audit trail (admin): authentication failures, logins, key and password changes, database and collection drops; newest first',
      querystring: AuditQuerystring,
      response: { 200: AuditPage, ...errorResponses },
    },
  }, async (request) => {
    const q = request.query;
    const limit = q.limit ?? 100;
    const query: AuditQuery = { limit: limit + 1 };
    if (q.kind !== undefined) query.kinds = parseKinds(q.kind);
    if (q.actor !== undefined) query.actor = q.actor;
    if (q.ip !== undefined) query.ip = q.ip;
    if (q.code !== undefined) query.code = q.code;
    if (q.target !== undefined) query.target = q.target;
    if (q.since !== undefined) query.since = parseTime('since', q.since);
    if (q.until !== undefined) query.until = parseTime('until', q.until);
    if (query.since !== undefined && query.until !== undefined && query.since >= query.until) {
      throw errors.badRequest('invalid_query', 'since must be earlier than until');
    }
    if (q.before !== undefined) query.before = q.before;

    const found = await trail.query(query);
    const events = found.slice(0, limit);
    const last = events[events.length - 1];
    return { events: events.map(eventJson), next_before: found.length > limit && last ? last.id : null };
  });
}

/**
 * Who and where, for events recorded by HTTP handlers (key changes, logins): the acting principal
 * (when authenticated), its key prefix, the client IP, the user agent and the route pattern.
 * Spread it into `trail.record({ kind, target, details, ...auditContext(request) })`.
 */
export function auditContext(request: FastifyRequest): { actor: string | null; keyPrefix: string | null; ip: string | null; userAgent: string | null; route: string | null } {
  const agent = request.headers['user-agent'];
  // `clientIp` is set by the authentication hook (trusted proxies applied); `ip` is Fastify's own view.
  const ip = (request as { clientIp?: string }).clientIp ?? request.ip;
  return {
    actor: request.principal?.id ?? null,
    keyPrefix: request.principal?.keyPrefix ?? null,
    ip: ip || null,
    userAgent: typeof agent === 'string' ? agent : null,
    route: request.routeOptions.url === undefined ? null : `${request.method} ${request.routeOptions.url}`,
  };
}

function parseKinds(raw: string): AuditKind[] {
  const kinds = raw.split(',').map((kind) => kind.trim()).filter((kind) => kind !== '');
  if (kinds.length === 0) throw errors.badRequest('invalid_query', `kind must list one or more of: ${AUDIT_KINDS.join(', ')}`);
  const unknown = kinds.filter((kind) => !isAuditKind(kind));
  if (unknown.length > 0) {
    throw errors.badRequest('invalid_query', `Unknown event kind '${unknown[0]}': use ${AUDIT_KINDS.join(', ')}`);
  }
  return [...new Set(kinds as AuditKind[])];
}

/** A date, or a date and time with a zone: a time without one would be read in the server's zone. */
const ISO_TIME = /^\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2}))?$/;

function parseTime(name: string, raw: string): string {
  const value = raw.trim();
  const time = ISO_TIME.test(value) ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(time)) throw errors.badRequest('invalid_query', `${name} must be an ISO 8601 date or date-time with a zone, e.g. 2024-05-01 or 2024-05-01T12:00:00Z (got "${raw}")`);
  return new Date(time).toISOString();
}

function eventJson(event: StoredAuditEvent) {
  return {
    id: event.id,
    at: event.at,
    kind: event.kind,
    actor: event.actor,
    key_prefix: event.keyPrefix,
    ip: event.ip,
    user_agent: event.userAgent,
    route: event.route,
    code: event.code,
    target: event.target,
    details: event.details,
  };
}
