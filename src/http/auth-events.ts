/**
 * What the authentication path reports, in one place: Prometheus counters, the audit trail and
 * structured log lines. A failure is described by its code, the key's 16-character prefix when
 * the credential was a managed key, the IP, the user agent and the route pattern; never by the
 * credential itself (an environment key or a token has no printable part at all).
 *
 * Failures cost an attacker nothing, so their log lines are summarised like their audit events
 * (`auth/audit-trail.ts`): the first of a kind (same event, code, address, route, client) is logged
 * at once, the identical ones within `summaryWindowMs` are counted, and one "N similar failures
 * suppressed" line follows when the window closes. Counters in /metrics still count every one.
 */
import type { FastifyBaseLogger, FastifyRequest } from 'fastify';
import type { Credential } from '../auth/credential.js';
import { keyPrefix } from '../auth/api-key.js';
import { failureKey } from '../auth/auth-failures.js';
import { RepeatWindow } from '../auth/repeat-window.js';
import type { Principal } from '../auth/principal.js';
import type { ApiError } from '../errors.js';
import { sanitise, type AuditInput } from '../auth/audit-trail.js';
import type { AuditEvent } from '../store/audit-store.js';
import type { Metrics } from './plugins/metrics.js';

export interface AuthEvents {
  succeeded(request: FastifyRequest, principal: Principal): void;
  failed(request: FastifyRequest, error: ApiError, credential: Credential | undefined): void;
  rateLimited(request: FastifyRequest, client: string, principal?: Principal): void;
  ipDenied(request: FastifyRequest, ip: string, principal?: Principal): void;
  /**
   * A login with `username` (as typed) succeeded or failed with `code`. The name is kept only when
   * it is the configured admin's: anything else may be a password typed into the wrong field, and
   * is recorded as `user:<unknown>`. Resolves once a success is durably recorded (answer only
   * then); a failure is queued with the other high-volume events.
   */
  login(request: FastifyRequest, username: string, code: 'ok' | 'invalid_credentials' | 'rate_limited'): Promise<void>;
  /** What a logout records: handed to the token revocation, which writes both in one transaction. */
  logoutEvent(request: FastifyRequest, principal: Principal): AuditEvent;
  /** Logs the summaries of the failures counted so far; later ones are logged one by one. */
  close(): void;
}

export interface AuthEventsOptions {
  /** Identical failure lines within this many ms of the first are summarised (AUDIT_SUMMARY_WINDOW_MS); 0 logs every one. */
  summaryWindowMs?: number;
  /** ADMIN_USERNAME: the only attempted username a login event keeps. */
  adminUsername?: string;
}

interface LogLine {
  fields: Record<string, unknown>;
  message: string;
}

export interface AuditSink {
  record(event: AuditInput): void;
  recordDurable(event: AuditInput): Promise<void>;
}

/** What a login event records as the username tried: the admin's name, or nothing that was typed. */
export const UNKNOWN_USERNAME = '<unknown>';

export function authEvents(metrics: Metrics, audit: AuditSink, log: FastifyBaseLogger, options: AuthEventsOptions = {}): AuthEvents {
  const lines = new RepeatWindow<LogLine>({
    windowMs: options.summaryWindowMs ?? 0,
    onSummary: ({ last, count, firstAt, lastAt }) => log.warn(
      { ...last.fields, suppressed: count, firstAt: new Date(firstAt).toISOString(), lastAt: new Date(lastAt).toISOString() },
      `${count} similar failures suppressed (${last.message})`,
    ),
  });
  /** A failure's warning, unless an identical one was logged within the window (then it is counted). */
  const warnOnce = (fields: Record<string, unknown> & { event: string; ip: string | null; route: string }, message: string, ...key: unknown[]) => {
    if (lines.admit([fields.event, fields.ip === null ? null : failureKey(fields.ip), fields.route, ...key].join('\n'), { fields, message })) log.warn(fields, message);
  };
  return {
    succeeded(_request, principal) {
      // Every authenticated request passes here: a plain count, added to the counter at the next scrape.
      metrics.authSucceeded(principal.authMethod);
    },
    failed(request, error, credential) {
      const method = credential === undefined ? 'none' : credential.kind === 'jwt' ? 'jwt' : 'api-key';
      const prefix = credential?.kind === 'managed-key' ? keyPrefix(credential.value) : null;
      metrics.authAttempts.inc({ result: 'failure', method, code: error.code });
      const context = describe(request);
      warnOnce({ event: 'auth.failure', code: error.code, method, keyPrefix: prefix, ...context }, 'authentication failed', error.code);
      audit.record({ kind: 'auth.failure', actor: null, keyPrefix: prefix, code: error.code, target: null, details: { method }, ...context });
    },
    rateLimited(request, client, principal) {
      metrics.rateLimited.inc({ scope: principal ? 'client' : 'auth_failures' });
      warnOnce({ event: 'rate_limited', client, keyPrefix: principal?.keyPrefix ?? null, ...describe(request) }, 'rate limit exceeded', client);
    },
    ipDenied(request, ip, principal) {
      metrics.ipDenied.inc({ scope: principal ? 'key' : 'global' });
      const context = describe(request);
      warnOnce({ event: 'ip_denied', actor: principal?.id ?? null, keyPrefix: principal?.keyPrefix ?? null, ...context, ip }, 'IP not allowed', principal?.id);
      audit.record({ kind: 'auth.failure', actor: principal?.id ?? null, keyPrefix: principal?.keyPrefix ?? null, code: 'ip_denied', target: null, details: null, ...context, ip });
    },
    login(request, username, code) {
      const context = describe(request);
      metrics.authAttempts.inc({ result: code === 'ok' ? 'success' : 'failure', method: 'password', code });
      // A refused login is an authentication failure like a refused key (the 429 is counted by the
      // error handler, through which it is thrown).
      if (code === 'invalid_credentials') metrics.authFailures.inc({ code });
      if (code === 'rate_limited') metrics.rateLimited.inc({ scope: 'login' });
      // The password never reaches this function, but the username field may hold one (typed in the
      // wrong box): only the configured admin name is kept, in the audit trail and in the log.
      const named = username === options.adminUsername ? username : UNKNOWN_USERNAME;
      const target = `user:${named}`;
      if (code === 'ok') {
        log.info({ event: 'auth.login', username: named, ...context }, 'admin signed in');
        return audit.recordDurable({ kind: 'auth.login', actor: target, target, code: null, details: null, ...context });
      }
      log.warn({ event: 'auth.login_failed', username: named, code, ...context }, 'login failed');
      audit.record({ kind: 'auth.login_failed', actor: null, target, code, details: null, ...context });
      return Promise.resolve();
    },
    logoutEvent(request, principal) {
      return sanitise({ kind: 'auth.logout', actor: principal.id, keyPrefix: principal.keyPrefix ?? null, target: principal.username ? principal.id : null, code: null, details: { method: principal.kind }, ...describe(request) }, Date.now());
    },
    close() {
      lines.close();
    },
  };
}

function describe(request: FastifyRequest): { ip: string | null; userAgent: string | null; route: string } {
  const agent = request.headers['user-agent'];
  return {
    ip: request.clientIp ?? null,
    userAgent: typeof agent === 'string' ? agent.slice(0, 256) : null,
    route: `${request.method} ${request.routeOptions.url ?? 'unmatched'}`,
  };
}
