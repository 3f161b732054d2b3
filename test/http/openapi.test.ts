import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import SwaggerParser from '@apidevtools/swagger-parser';
import { startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(async () => server.stop());

test('/openapi.json is public, OpenAPI 3.1 and valid', async () => {
  const res = await server.request({ method: 'GET', url: '/openapi.json', key: null });
  assert.equal(res.statusCode, 200);
  const doc = res.json();
  assert.equal(doc.openapi, '3.1.0');
  await SwaggerParser.validate(structuredClone(doc));
  assert.deepEqual(Object.keys(doc.components.securitySchemes).sort(), ['apiKeyAuth', 'bearerAuth']);
  assert.deepEqual(doc.paths['/openapi.json'].get.security, []);
});

test('every registered route appears in the document', async () => {
  const doc = (await server.request({ method: 'GET', url: '/openapi.json', key: null })).json();
  const hidden = server.app.routes.filter((r) => !r.documented).map((r) => `${r.method} ${r.url}`);
  // OpenAPI cannot describe a WebSocket protocol: `/ws` is documented in the README instead.
  assert.deepEqual(hidden, ['GET /ws', 'GET /', 'GET /assets/:file'], 'only the dashboard\'s static files and /ws stay out of the document');
  for (const route of server.app.routes.filter((r) => r.documented)) {
    const openapiPath = route.url.replace(/:([A-Za-z_]+)/g, '{$1}');
    const operation = doc.paths[openapiPath]?.[route.method.toLowerCase()];
    assert.ok(operation, `${route.method} ${route.url} missing from /openapi.json`);
    // Public routes say so: no security requirement, or an anonymous alternative (`{}`).
    const anonymous = Array.isArray(operation.security) && (operation.security.length === 0 || operation.security.some((s: object) => Object.keys(s).length === 0));
    assert.equal(anonymous, route.public, `${route.method} ${route.url}: security ${JSON.stringify(operation.security)}`);
  }
});

test('the error codes are an enum, and the filter and permission bodies are described', async () => {
  const { ERROR_CODES, COMPARISON_OPERATORS, LOGICAL_OPERATORS } = await import('../../src/contract/index.js');
  const doc = (await server.request({ method: 'GET', url: '/openapi.json', key: null })).json();
  assert.deepEqual(doc.components.schemas.Error.properties.code.enum, ERROR_CODES);
  // The filter: a recursive component, Condition or Logical, with the operators listed.
  const find = doc.paths['/api/find/{collection}'].post.requestBody.content['application/json'].schema;
  assert.equal(find.properties.filter.$ref, '#/components/schemas/Filter');
  const text = JSON.stringify(doc.components.schemas.Filter);
  for (const operator of [...COMPARISON_OPERATORS, ...LOGICAL_OPERATORS]) assert.ok(text.includes(`"${operator}"`), operator);
  assert.ok(text.includes('#/components/schemas/Filter'), 'Logical expressions refer back to Filter');
  // Permissions: per collection, a list of levels or the rules object with its field lists.
  const register = doc.paths['/api/auth/register'].post.requestBody.content['application/json'].schema;
  const grant = JSON.stringify(register.properties.collection_permissions);
  for (const field of ['read', 'write', 'delete', 'select_fields', 'exclude_fields', 'writable_fields']) assert.ok(grant.includes(`"${field}"`), field);
  assert.equal(register.properties.collection_permissions.additionalProperties.anyOf.length, 2);
});
