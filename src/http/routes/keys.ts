/**
 * Managed keys, permissions and token exchange (seed 003's shapes, CONTRACT.md §4-§5). The full
 * key appears in exactly two responses, register and regenerate, and nowhere else.
 */
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { renderPermissions, LEVELS } from '../../auth/grants.js';
import { keyJson, type KeyService } from '../../auth/key-service.js';
import type { Principal } from '../../auth/principal.js';
import type { ApiTokens } from '../../auth/tokens.js';
import { principalOf } from '../access.js';
import { errorResponses } from '../schemas.js';
import { CollectionPermissions } from '../../contract/index.js';

// The shape is the contract's; what a set of permissions means is `auth/grants.ts`'s to check.
const Permissions = CollectionPermissions;

const KeyFields = {
  key_id: Type.String(),
  prefix: Type.String(),
  label: Type.String(),
  description: Type.String(),
  is_admin: Type.Boolean(),
  collection_permissions: Permissions,
  expires_at: Type.Union([Type.String(), Type.Null()]),
  rate_limit: Type.Union([Type.Integer(), Type.Null()]),
  allowed_ips: Type.Union([Type.Array(Type.String()), Type.Null()]),
  created_at: Type.String(),
  created_by: Type.Union([Type.String(), Type.Null()]),
};
const KeySummary = Type.Object({
  key: Type.String({ description: 'The prefix followed by "...": never the full key' }),
  ...KeyFields,
  last_used_at: Type.Union([Type.String(), Type.Null()]),
});
const Warnings = Type.Array(Type.String(), {
  description: 'Names in collection_permissions that do not exist yet (collections, databases, fields), and field rules that have no effect; the permissions are stored as sent',
});
const IssuedKeyBody = Type.Object({
  key: Type.String({ description: 'The full key: shown this once, stored only as a hash' }),
  ...KeyFields,
  warning: Type.String(),
});

const KeyRequestBody = Type.Object({
  api_key: Type.Optional(Type.String({ description: 'The admin key (seed 003); a header works too' })),
  label: Type.String({ minLength: 1, maxLength: 200 }),
  description: Type.Optional(Type.String({ maxLength: 2000 })),
  is_admin: Type.Optional(Type.Boolean()),
  collection_permissions: Type.Optional(Permissions),
  // Null first: with type coercion on, ajv would otherwise turn null into "" or [""] for the first branch.
  expires_at: Type.Optional(Type.Union([Type.Null(), Type.String({ maxLength: 64 })])),
  rate_limit: Type.Optional(Type.Union([Type.Null(), Type.Integer({ minimum: 1 })])),
  allowed_ips: Type.Optional(Type.Union([Type.Null(), Type.Array(Type.String({ maxLength: 64 }), { maxItems: 1000 })])),
}, { additionalProperties: false });

const KeyIdParams = Type.Object({ key_id: Type.String({ maxLength: 64 }) });
const PermissionsBody = Type.Object({ key_id: Type.String({ maxLength: 64 }), collection_permissions: Permissions }, { additionalProperties: false });
const WARNING = 'Store this key now: it is shown only once and cannot be recovered.';

export function keyRoutes(app: FastifyInstance, keys: KeyService, tokens: ApiTokens): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['keys'];

  r.post('/api/auth/register', {
    config: { access: { kind: 'admin' }, credentialInBody: { field: 'api_key' } },
    schema: {
      tags, summary: 'Create an API key (admin; the admin key may travel in the body as api_key)', body: KeyRequestBody,
      response: { 201: Type.Object({ ...IssuedKeyBody.properties, warnings: Warnings }), ...errorResponses },
    },
  }, async (request, reply) => {
    const { api_key: _credential, ...input } = request.body;
    const issued = await keys.create(input, principalOf(request).id);
    return reply.status(201).send({ key: issued.key, ...keyJson(issued.stored), warning: WARNING, warnings: issued.warnings });
  });

  r.get('/api/auth/keys', {
    config: { access: { kind: 'admin' } },
    schema: { tags, summary: 'List API keys (admin); never the full keys', response: { 200: Type.Array(KeySummary), ...errorResponses } },
  }, async () => (await keys.list()).map((key) => ({ key: `${key.prefix}...`, ...keyJson(key), last_used_at: key.lastUsedAt })));

  r.delete('/api/auth/keys/:key_id', {
    config: { access: { kind: 'admin' } },
    schema: { tags, summary: 'Revoke an API key (admin); its tokens die with it', params: KeyIdParams, response: { 200: Type.Object({ status: Type.String(), message: Type.String() }), 409: Type.Ref('Error'), ...errorResponses } },
  }, async (request) => {
    await keys.revoke(request.params.key_id, principalOf(request).id);
    return { status: 'success', message: 'Key revoked successfully' };
  });

  r.post('/api/auth/keys/:key_id/regenerate', {
    config: { access: { kind: 'admin' } },
    // The body is optional: a bare POST regenerates with no grace period.
    preValidation: async (request) => {
      request.body ??= {};
    },
    schema: {
      tags, summary: 'Replace a key (admin): same key_id, new key; the old one dies now or after grace_seconds',
      params: KeyIdParams,
      body: Type.Object({ grace_seconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 2_592_000 })) }, { additionalProperties: false }),
      response: { 200: Type.Object({ ...IssuedKeyBody.properties, grace_until: Type.Union([Type.String(), Type.Null()]) }), ...errorResponses },
    },
  }, async (request) => {
    const issued = await keys.regenerate(request.params.key_id, request.body.grace_seconds ?? 0, principalOf(request).id);
    return { key: issued.key, ...keyJson(issued.stored), warning: WARNING, grace_until: issued.graceUntil };
  });

  r.get('/api/auth/permissions', {
    config: { access: { kind: 'authenticated' } },
    schema: {
      tags, summary: "The caller's own permissions",
      response: { 200: Type.Object({ key_id: Type.String(), label: Type.String(), is_admin: Type.Boolean(), collection_permissions: Permissions }), ...errorResponses },
    },
  }, async (request) => ownPermissions(principalOf(request)));

  r.post('/api/auth/permissions', {
    config: { access: { kind: 'admin' } },
    schema: {
      tags, summary: "Replace a key's collection permissions (admin)", body: PermissionsBody,
      response: { 200: Type.Object({ status: Type.String(), key_id: Type.String(), collection_permissions: Permissions, warnings: Warnings }), ...errorResponses },
    },
  }, async (request) => {
    const { stored, warnings } = await keys.setPermissions(request.body.key_id, request.body.collection_permissions, principalOf(request).id);
    return { status: 'updated', key_id: stored.id, collection_permissions: renderPermissions(stored.permissions), warnings };
  });

  r.put('/api/auth/permissions', {
    config: { access: { kind: 'admin' } },
    schema: {
      tags, summary: "Merge collection permissions into a key's (admin); lists the changes", body: PermissionsBody,
      response: {
        200: Type.Object({ status: Type.String(), key_id: Type.String(), collection_permissions: Permissions, changes: Type.Array(Type.String()), warnings: Warnings }),
        ...errorResponses,
      },
    },
  }, async (request) => {
    const { stored, changes, warnings } = await keys.updatePermissions(request.body.key_id, request.body.collection_permissions, principalOf(request).id);
    return { status: 'updated', key_id: stored.id, collection_permissions: renderPermissions(stored.permissions), changes, warnings };
  });

  r.post('/api/auth/token', {
    config: { access: { kind: 'authenticated' }, credentialInBody: { field: 'api_key', exchange: true } },
    schema: {
      tags: ['tokens'], summary: 'Exchange an API key for a short-lived JWT',
      body: Type.Object({ api_key: Type.String({ minLength: 1, maxLength: 4096 }) }, { additionalProperties: false }),
      response: { 200: Type.Object({ token: Type.String(), expires_in: Type.Integer({ description: 'seconds' }) }), ...errorResponses },
    },
  }, async (request) => {
    const { token, expiresIn } = await tokens.issue(principalOf(request));
    return { token, expires_in: expiresIn };
  });
}

function ownPermissions(principal: Principal) {
  const permissions = principal.access.kind === 'scoped'
    ? renderPermissions(principal.access.permissions)
    : { '*': [...LEVELS] };
  return { key_id: principal.id, label: principal.label, is_admin: principal.isAdmin, collection_permissions: permissions };
}
