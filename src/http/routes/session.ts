/**
 * Admin sessions (CONTRACT.md §4, seed 000's shapes): login, check-auth and logout. All three are
 * public: login is how a credential is obtained, and the other two answer for whatever credential
 * comes with them (or none).
 */
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { AdminLogin } from '../../auth/admin-login.js';
import { readCredential, type CredentialHeaders } from '../../auth/credential.js';
import { MAX_PASSWORD_LENGTH } from '../../auth/password-policy.js';
import type { SessionTokens } from '../../auth/sessions.js';
import type { RevocableTokens } from '../../auth/token-kinds.js';
import { formatDuration } from '../../config/parse.js';
import { errors, isApiError } from '../../errors.js';
import type { AuthEvents } from '../auth-events.js';
import type { Authenticator } from '../authenticate.js';

export interface SessionRouteOptions {
  login: AdminLogin;
  sessions: SessionTokens;
  /** Every kind of token, for logout. */
  tokens: RevocableTokens;
  authenticator: Authenticator;
  events: AuthEvents;
  /** JWT_EXPIRES_IN, seconds. */
  sessionSeconds: number;
}

const LoginBody = Type.Object({
  username: Type.String({ minLength: 1, maxLength: 128 }),
  password: Type.String({ minLength: 1, maxLength: MAX_PASSWORD_LENGTH }),
}, { additionalProperties: false });

const LoginFailure = Type.Object({ success: Type.Literal(false), error: Type.String(), code: Type.String() });
const INVALID = errors.invalidCredentials();
/** OpenAPI: anonymous (`{}`), or either credential header. */
const OPTIONAL_CREDENTIAL: Array<Record<string, string[]>> = [{}, { bearerAuth: [] }, { apiKeyAuth: [] }];

export function sessionRoutes(app: FastifyInstance, options: SessionRouteOptions): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['session'];
  const expiresIn = formatDuration(options.sessionSeconds);

  r.post('/api/login', {
    config: { public: true },
    schema: {
      tags, summary: 'Sign in as the admin user (ADMIN_USERNAME / ADMIN_PASSWORD); answers a session JWT',
      security: [],
      body: LoginBody,
      response: {
        200: Type.Object({
          success: Type.Literal(true), message: Type.String(), username: Type.String(), token: Type.String(),
          expiresIn: Type.String({ description: 'JWT_EXPIRES_IN, e.g. "7d"' }), expiresAt: Type.String({ format: 'date-time' }),
        }),
        400: Type.Ref('Error'),
        401: LoginFailure,
        429: Type.Ref('Error'),
      },
    },
  }, async (request, reply) => {
    const { username, password } = request.body;
    const outcome = await options.login.attempt(username, password, request.clientIp!);
    if (outcome.kind === 'throttled') {
      await options.events.login(request, username, 'rate_limited');
      throw errors.rateLimited(outcome.retryAfterSeconds);
    }
    if (outcome.kind === 'invalid') {
      await options.events.login(request, username, 'invalid_credentials');
      return reply.status(401).header('WWW-Authenticate', 'Bearer').send({ success: false, error: INVALID.message, code: INVALID.code });
    }
    const { token, expiresAtMs } = await options.sessions.issue(outcome.account);
    // Not answered before the sign-in is durably recorded: a crash cannot hand out a session without a trace.
    await options.events.login(request, outcome.account.username, 'ok');
    return { success: true, message: 'Login successful', username: outcome.account.username, token, expiresIn, expiresAt: new Date(expiresAtMs).toISOString() };
  });

  r.get('/api/check-auth', {
    config: { public: true },
    schema: {
      tags, summary: 'Whether the presented credential (if any) is valid, and whose it is; always 200',
      security: OPTIONAL_CREDENTIAL,
      response: {
        200: Type.Object({
          authenticated: Type.Boolean(),
          username: Type.Optional(Type.String()),
          keyId: Type.Optional(Type.String()),
          authMethod: Type.Optional(Type.Union([Type.Literal('jwt'), Type.Literal('api-key')])),
          expiresAt: Type.Optional(Type.String({ format: 'date-time' })),
        }),
      },
    },
  }, async (request, reply) => {
    // No credential at all is a question ("am I signed in?"), not an attempt: nothing to count.
    if (!hasCredentialHeader(request.headers)) return { authenticated: false };
    const outcome = await options.authenticator.resolve(request, reply);
    if (!outcome.ok) {
      // Limited like any route: past AUTH_FAILURE_LIMIT (or the client's rate limit) this is a 429,
      // so check-auth is no free oracle for guessing keys.
      if (outcome.code === 'rate_limited') throw outcome.error;
      return { authenticated: false };
    }
    const principal = outcome.principal;
    return {
      authenticated: true,
      ...(principal.username !== undefined ? { username: principal.username } : { keyId: principal.id }),
      authMethod: principal.authMethod,
      ...(principal.tokenExpiresAt !== undefined ? { expiresAt: new Date(principal.tokenExpiresAt).toISOString() } : {}),
    };
  });

  r.post('/api/logout', {
    config: { public: true },
    schema: {
      tags, summary: 'End the presented token (a session or an exchanged API token) server-side, at once',
      security: OPTIONAL_CREDENTIAL,
      response: { 200: Type.Object({ success: Type.Literal(true), message: Type.String() }), 400: Type.Ref('Error') },
    },
  }, async (request, reply) => {
    if (!hasCredentialHeader(request.headers)) return { success: true, message: 'No session to log out' };
    let credential;
    try {
      credential = readCredential(request.headers);
    } catch {
      return { success: true, message: 'Logged out' };
    }
    if (credential.kind !== 'jwt') {
      throw errors.badRequest('not_a_token', 'Only a token can be logged out; an API key is revoked with DELETE /api/auth/keys/:key_id');
    }
    // The token goes through the same path as on any route: a bad one counts against the address
    // (past AUTH_FAILURE_LIMIT: 429), a good one is still held to its key's allow list and rate
    // limit, and only a token that resolves is revoked.
    const outcome = await options.authenticator.resolve(request, reply);
    if (!outcome.ok && outcome.reason !== 'credential') throw outcome.error;
    if (outcome.ok) {
      try {
        // The revocation and its audit event commit together.
        await options.tokens.revoke(credential.value, (principal) => options.events.logoutEvent(request, principal));
      } catch (error) {
        // Logged out by another request in between: as logged out as it gets.
        if (!isApiError(error) || error.status !== 401) throw error;
      }
    }
    // An invalid, expired or already logged-out token is as logged out as it gets.
    return { success: true, message: 'Logged out' };
  });
}

function hasCredentialHeader(headers: CredentialHeaders): boolean {
  return headers.authorization !== undefined || headers['x-api-key'] !== undefined;
}
