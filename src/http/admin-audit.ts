/**
 * Admin actions on the data plane (a database created or dropped, a collection dropped) leave
 * their audit event before their answer: a route declares `config: { audit }`, and one `onSend`
 * hook, once the handler has succeeded and before a byte of the answer is sent, writes the event
 * with `AuditTrail.recordDurable` (a synced commit). A crash after the answer cannot erase it.
 * (Key and account changes need no hook: their event commits with the change, in the store.)
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AuditTrail } from '../auth/audit-trail.js';
import type { AuditKind } from '../store/audit-store.js';
import { auditContext } from './routes/audit.js';

/** What a route's successful answer records. */
export interface AuditedAction {
  kind: AuditKind;
  /** What was acted on (`database:sales`, `collection:sales.orders`); called after validation. */
  target(request: FastifyRequest): string;
  /** What else the event carries (a backup id, `replace: true`); called after success. Never a secret. */
  details?(request: FastifyRequest): Record<string, unknown> | undefined;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** This route is an admin action: its 2xx answer waits for this event to be durably stored. */
    audit?: AuditedAction;
  }
}

/** Installed on the audited routes only (routes declared after this call): no other request runs it. */
export function installAdminAudit(app: FastifyInstance, trail: Pick<AuditTrail, 'recordDurable'>): void {
  const record = async (request: FastifyRequest, reply: FastifyReply, payload: unknown): Promise<unknown> => {
    const action = request.routeOptions.config.audit;
    if (action !== undefined && reply.statusCode >= 200 && reply.statusCode < 300) {
      await trail.recordDurable({ kind: action.kind, target: action.target(request), details: action.details?.(request) ?? null, ...auditContext(request) });
    }
    return payload;
  };
  app.addHook('onRoute', (route) => {
    if ((route.config as { audit?: AuditedAction } | undefined)?.audit === undefined) return;
    route.onSend = [...[route.onSend ?? []].flat(), record as never];
  });
}
