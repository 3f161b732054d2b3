/**
 * The web dashboard: the static files Vite builds into `dist/dashboard` (see src/dashboard),
 * served at `/` and `/assets/<file>`. They are read once at start into memory (a few hundred KB),
 * and only names found there are ever answered, so no request path reaches the file system.
 * (`@fastify/static` would stream from disk; for a handful of fixed files a map is simpler and
 * leaves no path-traversal surface.)
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { Type } from 'typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { errors } from '../../errors.js';

/** `dist/dashboard` of this package, from `src/http/routes` or `dist/http/routes` alike. */
export const DASHBOARD_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../dist/dashboard');

const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
} as const;

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
};

interface StaticFile {
  body: Buffer;
  type: string;
}

export function dashboardRoutes(app: FastifyInstance, dir: string = DASHBOARD_DIR): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const index = readIfPresent(path.join(dir, 'index.html'));
  const assets = readAssets(path.join(dir, 'assets'));

  r.get('/', { config: { public: true }, schema: { hide: true } }, async (_request, reply) => {
    if (!index) throw errors.unavailable('The dashboard is not built: run `npm run build`');
    // Always revalidated: it names the current hashed assets.
    return send(reply, index, 'no-cache');
  });

  r.get('/assets/:file', {
    config: { public: true },
    schema: { hide: true, params: Type.Object({ file: Type.String({ maxLength: 200 }) }) },
  }, async (request, reply) => {
    const file = assets.get(request.params.file);
    if (!file) throw errors.notFound(`Route GET ${request.url.split('?')[0]} not found`);
    // Vite puts a content hash in every asset name, so a name's content never changes.
    return send(reply, file, 'public, max-age=31536000, immutable');
  });
}

function send(reply: FastifyReply, file: StaticFile, cacheControl: string): FastifyReply {
  return reply.headers(SECURITY_HEADERS).header('cache-control', cacheControl).type(file.type).send(file.body);
}

function readIfPresent(file: string): StaticFile | undefined {
  return existsSync(file) ? { body: readFileSync(file), type: TYPES['.html']! } : undefined;
}

function readAssets(dir: string): Map<string, StaticFile> {
  const files = new Map<string, StaticFile>();
  if (!existsSync(dir)) return files;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (!entry.isFile()) continue;
    files.set(entry.name, { body: readFileSync(path.join(dir, entry.name)), type: TYPES[path.extname(entry.name)] ?? 'application/octet-stream' });
  }
  return files;
}
