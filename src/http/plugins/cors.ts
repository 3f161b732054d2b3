/**
 * CORS for CORS_ORIGINS (off when unset). `@fastify/cors` answers a preflight `OPTIONS` in its
 * `onRequest` hook, registered before authentication's, so a browser's preflight (which never
 * carries the key) is answered 204 before any credential is asked for. The actual request then goes
 * through authentication like any other. Credentialed CORS (cookies) is never allowed: duckgate's
 * credentials travel in headers, which a page must hold itself.
 */
import cors from '@fastify/cors';
import type { FastifyInstance } from 'fastify';
import { TRUNCATED_HEADER } from '../result-budget.js';

/** Headers a page may read on an answer: the rate limit, a 429's wait, a truncated result. */
export const EXPOSED_HEADERS = ['RateLimit-Limit', 'RateLimit-Remaining', 'RateLimit-Reset', 'Retry-After', TRUNCATED_HEADER];
/** Headers a page may send: its credential (either header of CONTRACT.md §2) and the body's format. */
export const ALLOWED_HEADERS = ['Authorization', 'x-api-key', 'Content-Type', 'Accept'];

export async function installCors(app: FastifyInstance, origins: string[] | undefined): Promise<void> {
  if (origins === undefined) return;
  // The plugin's catch-all `OPTIONS *` route only lets Fastify accept preflights (answered in the
  // hook); it is public like the preflight itself.
  app.addHook('onRoute', (route) => {
    if (route.method === 'OPTIONS' && route.url === '*') route.config = { ...route.config, public: true };
  });
  await app.register(cors, {
    origin: origins.includes('*') ? '*' : origins,
    credentials: false,
    methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
    allowedHeaders: ALLOWED_HEADERS,
    exposedHeaders: EXPOSED_HEADERS,
    maxAge: 600,
    hook: 'onRequest',
    // Strict mode answers an OPTIONS lacking preflight headers with a text/plain 400, outside the
    // error contract; any OPTIONS is answered as a preflight instead (204, headers only for a listed origin).
    strictPreflight: false,
  });
}
