import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startTestServer, type TestServer } from '../helpers/server.js';

/** CONTRACT.md §4: the only routes that take no credential. */
const PUBLIC_ROUTES = new Set([
  'GET /openapi.json',
  'POST /api/login',
  'GET /api/check-auth',
  'POST /api/logout',
  // The upgrade: Duckling's SDK authenticates in the socket's first message (http/ws/session.ts).
  'GET /ws',
  // The dashboard's static files.
  'GET /',
  'GET /assets/:file',
]);
/** CONTRACT.md §4: routes whose key may travel in the JSON body instead of a header (seed 003). */
const BODY_CREDENTIAL_ROUTES = new Set(['POST /api/auth/token', 'POST /api/auth/register']);

let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(async () => server.stop());

test('the public routes are exactly the contract list', () => {
  const publicRoutes = server.app.routes.filter((r) => r.public).map((r) => `${r.method} ${r.url}`);
  assert.deepEqual(new Set(publicRoutes), PUBLIC_ROUTES);
  const bodyRoutes = server.app.routes.filter((r) => r.credentialInBody).map((r) => `${r.method} ${r.url}`);
  assert.deepEqual(new Set(bodyRoutes), BODY_CREDENTIAL_ROUTES);
});

test('every non-public route answers 401 without a credential', async () => {
  const routes = server.app.routes.filter((r) => !r.public);
  assert.ok(routes.length >= 20, `expected the full route table, got ${routes.length}`);
  for (const route of routes) {
    const url = route.url.replace(/:[A-Za-z_]+/g, 'x');
    const res = await server.request({
      method: route.method as 'GET',
      url,
      key: null,
      ...(route.method === 'GET' || route.method === 'DELETE' ? {} : { payload: {} }),
    });
    assert.equal(res.statusCode, 401, `${route.method} ${route.url} answered ${res.statusCode}`);
    assert.equal(res.json().code, 'missing_api_key');
    assert.equal(res.headers['www-authenticate'], 'Bearer');
  }
});

test('a route that declares neither public nor access is refused at start-up', async () => {
  const { default: Fastify } = await import('fastify');
  const { requireAccessDeclarations } = await import('../../src/http/authenticate.js');
  const app = Fastify();
  requireAccessDeclarations(app);
  assert.throws(() => app.get('/open', async () => 'oops'), /declares neither/);
  await app.close();
});
